"""No secret value ever reaches stdout or stderr, whatever the command, format or outcome.

Every command that handles a secret (``apply``, ``rotate`` after a real rotation,
``status``, ``export``, ``verify``, ``doctor``, ``plan``) runs through the real
CLI against a private emulator, in text mode and with ``--json``, on a success
path and on a failure path. After every run the secret values the tool wrote
(connection files under the state dir, JSON and dotenv sinks) are collected; at
the end every run's stdout and stderr are searched for every value collected in
the whole sweep, and for the tenant's admin client secret. Only ``--show-secrets``
may print values; those runs are the positive control proving the search finds
a value that is there.

Failure paths use values built *on top of* real ones (a wrong admin secret that
extends the real one, a connection file whose secret extends the minted one),
so echoing the wrong value is caught by searching for the real one. A value
minted and rolled back in the same run (its delivery failed) is never written
anywhere and so cannot be searched for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_support import base_env, connection_file, run_cli

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("apply", "rotate", "status", "export", "verify", "doctor", "plan")
DAY = 86400

pytestmark = pytest.mark.slow

BROKEN_SINK_APP = """\
version: 1
apps:
  - name: zz-broken-sink
    display_name: Broken sink
    audience: single-tenant
    secrets:
      - name: broken sink secret
        expires_in: 90d
    sinks:
      - type: dotenv
        path: blocker/zz.env
"""


def _json_values(data: Any) -> Iterator[str]:
    """Secret values in a connection-values document: ``client_secret`` and ``secrets[].value``."""
    if not isinstance(data, dict):
        return
    if isinstance(data.get("client_secret"), str):
        yield data["client_secret"]
    for entry in data.get("secrets") or []:
        if isinstance(entry, dict) and isinstance(entry.get("value"), str):
            yield entry["value"]


def written_secrets(workdir: Path) -> set[str]:
    """Every secret value the tool has written under ``workdir`` (state dir and sinks)."""
    found: set[str] = set()
    for path in workdir.rglob("*.json"):
        try:
            found.update(_json_values(json.loads(path.read_text())))
        except (ValueError, UnicodeDecodeError):
            continue  # a file a failure path corrupted on purpose
    for path in workdir.rglob("*.env"):
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.endswith("CLIENT_SECRET"):
                found.add(value.strip().strip("'\""))
    return {value for value in found if value and not value.endswith("****")}


@dataclass
class Run:
    command: str
    mode: str  # "text" or "json"
    outcome: str  # "ok" or "fail"
    proc: subprocess.CompletedProcess[str]
    expected: tuple[int, ...]
    shows_secrets: bool = False

    @property
    def label(self) -> str:
        shown = " --show-secrets" if self.shows_secrets else ""
        return f"{self.command} {self.mode}{shown} ({self.outcome}, exit {self.proc.returncode})"


@dataclass
class Sweep:
    """Runs CLI commands in one work dir, collecting what they printed and the values they wrote."""

    emulator: Any
    workdir: Path
    runs: list[Run] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    @property
    def env(self) -> dict[str, str]:
        return {**base_env(), **self.emulator.env()}

    def run(
        self,
        command: str,
        *args: str,
        outcome: str = "ok",
        expected: tuple[int, ...] = (0,),
        env: dict[str, str] | None = None,
    ) -> Run:
        mode = "json" if "--json" in args else "text"
        proc = run_cli(command, *args, cwd=self.workdir, env=env or self.env)
        self.secrets |= written_secrets(self.workdir)
        record = Run(command, mode, outcome, proc, expected, shows_secrets="--show-secrets" in args)
        self.runs.append(record)
        return record

    def redacted(self, text: str) -> str:
        """``text`` fit for a failure message: every known value (and the admin secret) starred out."""
        for value in sorted(self.secrets | {self.emulator.tenant.admin_client_secret}, key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def check(self) -> None:
        """Exit codes as expected, every command covered both ways, and no value in any output."""
        admin = self.emulator.tenant.admin_client_secret
        assert len(self.secrets) >= 8, "too few minted values collected to mean anything"
        assert all(len(value) >= 16 for value in self.secrets | {admin})
        wrong_exit = [
            (r.label, r.expected, self.redacted(r.proc.stdout[-2000:] + r.proc.stderr[-2000:]))
            for r in self.runs
            if r.proc.returncode not in r.expected
        ]
        assert not wrong_exit, wrong_exit
        covered = {(r.command, r.mode) for r in self.runs if not r.shows_secrets}
        assert covered == {(c, m) for c in COMMANDS for m in ("text", "json")}, covered
        leaks: list[str] = []
        for record in self.runs:
            for stream, text in (("stdout", record.proc.stdout), ("stderr", record.proc.stderr)):
                if admin in text:
                    leaks.append(f"{record.label}: the admin client secret on {stream}")
                if record.shows_secrets:
                    continue
                shown = [value[:3] for value in self.secrets if value in text]
                if shown:
                    leaks.append(
                        f"{record.label}: {len(shown)} secret value(s) on {stream}, hints {sorted(shown)}"
                    )
        assert not leaks, "\n".join(leaks)
        controls = [r for r in self.runs if r.shows_secrets]
        for record in controls:  # the search finds values that are really printed
            assert any(value in record.proc.stdout for value in self.secrets), record.label


@pytest.fixture
def sweep(tmp_emulator: Any, tmp_path: Path) -> Sweep:
    workdir = tmp_path / "work"
    shutil.copytree(REPO / "manifests", workdir / "manifests")
    return Sweep(tmp_emulator, workdir)


def test_success_paths_print_no_secret(sweep: Sweep) -> None:
    sweep.run("apply", "manifests", "--yes")
    sweep.run("apply", "manifests", "--yes", "--json")
    sweep.run("apply", "manifests", "--yes", "--json", "--show-secrets")
    sweep.run("plan", "manifests", "--detailed-exitcode")
    sweep.run("plan", "manifests", "--json", "--detailed-exitcode")
    # Real rotations: each forced run mints and delivers new values; the clock moves past the overlap
    # in between, so the previous run's predecessors retire (apps for personal accounts hold two secrets).
    rotated = sweep.run("rotate", "manifests", "--yes", "--force", "--detailed-exitcode", expected=(3,))
    assert "rotated" in rotated.proc.stdout
    for extra in (("--json",), ("--json", "--show-secrets"), ("--show-secrets",)):
        sweep.emulator.ctx.clock.advance(8 * DAY)
        sweep.run("rotate", "manifests", "--yes", "--force", "--detailed-exitcode", *extra, expected=(3,))
    sweep.run("status", "manifests")
    sweep.run("status", "manifests", "--json")
    sweep.run("export", "--all", "--out", "exported")
    sweep.run("export", "--all", "--json")
    sweep.run("verify", "manifests")
    sweep.run("verify", "manifests", "--json")
    sweep.run("doctor", "manifests")
    sweep.run("doctor", "manifests", "--json")
    sweep.check()


def test_failure_paths_print_no_secret(sweep: Sweep) -> None:
    workdir = sweep.workdir
    sweep.run("apply", "manifests", "--yes")
    first = written_secrets(workdir)

    # apply: a new app whose only sink cannot be read or written (its directory is a regular file).
    (workdir / "blocker").write_text("not a directory\n")
    (workdir / "manifests" / "zz-broken.yaml").write_text(BROKEN_SINK_APP)
    sweep.run("apply", "manifests", "--yes", outcome="fail", expected=(1,))
    sweep.run("apply", "manifests", "--yes", "--json", outcome="fail", expected=(1,))
    (workdir / "manifests" / "zz-broken.yaml").unlink()

    # rotate: outlook-etl's dotenv sink moves below that file; preflight refuses the app before anything
    # is minted for it, while the other apps rotate for real.
    etl = workdir / "manifests" / "02-outlook-etl.yaml"
    etl.write_text(etl.read_text().replace("path: out/outlook-etl.env", "path: blocker/outlook-etl.env"))
    for extra in ((), ("--json",)):
        sweep.emulator.ctx.clock.advance(8 * DAY)
        failed = sweep.run("rotate", "manifests", "--yes", "--force", *extra, outcome="fail", expected=(1,))
        assert "blocker is a file, not a folder" in failed.proc.stderr, sweep.redacted(failed.proc.stderr)
    assert sweep.secrets - first, "the failing rotations rotated nothing for the healthy apps"
    etl.write_text(etl.read_text().replace("path: blocker/outlook-etl.env", "path: out/outlook-etl.env"))

    # status: a sink that cannot be parsed, whose broken text holds a real value.
    sink = workdir / "out" / "exchange-connector.json"
    value = json.loads(sink.read_text())["client_secret"]
    sink.write_text('{"client_secret": "' + value + '", ')
    sweep.run("status", "manifests", outcome="fail", expected=(4,))
    sweep.run("status", "manifests", "--json", outcome="fail", expected=(4,))

    # verify: a connection file whose secret Entra refuses (the real value with a suffix).
    default = connection_file(workdir / ".provisioner", "outlook-etl")
    values = json.loads(default.read_text())
    values["client_secret"] += "-not-it"
    default.write_text(json.dumps(values))
    sweep.run("verify", "manifests", outcome="fail", expected=(1,))
    sweep.run("verify", "manifests", "--json", outcome="fail", expected=(1,))

    # plan, export, doctor: the admin credential is refused (the real secret with a suffix).
    refused = {**sweep.env, "AZURE_CLIENT_SECRET": sweep.emulator.tenant.admin_client_secret + "-not-it"}
    for command, args in (
        ("plan", ("manifests",)),
        ("export", ("--all",)),
        ("doctor", ("manifests",)),
    ):
        sweep.run(command, *args, outcome="fail", expected=(1,), env=refused)
        sweep.run(command, *args, "--json", outcome="fail", expected=(1,), env=refused)
    sweep.check()
