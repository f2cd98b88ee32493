"""The delivery journal closes the crash window between delivering an orphan's replacement and removing it.

A run killed right there leaves an unheld secret *older* than the held one. Without
a record of what was delivered, the next run cannot tell it from a rotation's
predecessor and keeps it until ``overlap``; with the tenant's ``delivered.json`` it
knows the orphan was never delivered and removes it at once, while a genuine
predecessor (delivered, then replaced) still stays valid for its overlap.

The crash state is built deterministically: the killed run's orphan is minted with
the admin credential (its value is thrown away, as the dead process's was), then the
replacement is minted and handed to the tool's own delivery path
(:func:`provisioner.sinks.deliver_all`), and the "run" stops there. Everything after
that is the real CLI against a private emulator (``tmp_emulator``).
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, journal_file, ok, run_cli

pytestmark = pytest.mark.slow

DAY = 86400
APP = "orphan-daemon"
SECRET = "daemon secret"

MANIFEST = """\
version: 1
apps:
  - name: orphan-daemon
    display_name: Orphan journal daemon
    audience: single-tenant
    secrets:
      - name: daemon secret
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
    sinks:
      - type: json
        path: out/daemon.json
"""


def cli(running: Any, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=workdir, env={**base_env(), **running.env()}, timeout=120)


def rotate_report(running: Any, workdir: Path, code: int) -> dict[str, Any]:
    proc = ok(cli(running, workdir, "rotate", "manifests", "--yes", "--json", "--detailed-exitcode"), code)
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("::")]
    return dict(json.loads("\n".join(lines)))


class Admin:
    """Graph calls with the tenant's bootstrap admin credential (what a killed run would have done)."""

    def __init__(self, running: Any) -> None:
        self.running = running

    def _client(self) -> httpx.Client:
        """A client with a fresh token: the tests move the emulator's clock past any token's lifetime."""
        running = self.running
        token = httpx.post(
            f"{running.base_url}/{running.tenant.tenant_id}/oauth2/v2.0/token",
            data={
                "client_id": running.tenant.admin_client_id,
                "client_secret": running.tenant.admin_client_secret,
                "grant_type": "client_credentials",
                "scope": "https://graph.microsoft.com/.default",
            },
            verify=str(running.ca_cert_path),
            timeout=30,
        )
        token.raise_for_status()
        return httpx.Client(
            base_url=running.graph_url,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            verify=str(running.ca_cert_path),
            timeout=30,
        )

    def application(self) -> dict[str, Any]:
        with self._client() as http:
            response = http.get(
                f"/applications(uniqueName='{APP}')", params={"$select": "id,passwordCredentials"}
            )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def key_ids(self) -> set[str]:
        return {p["keyId"].lower() for p in self.application()["passwordCredentials"]}

    def add_password(self) -> dict[str, Any]:
        object_id = self.application()["id"]
        with self._client() as http:
            response = http.post(
                f"/applications/{object_id}/addPassword", json={"passwordCredential": {"displayName": SECRET}}
            )
        response.raise_for_status()
        return dict(response.json())


def deliver_replacement(workdir: Path, minted: dict[str, Any]) -> None:
    """What the killed run did before dying: deliver the replacement through the tool's delivery path."""
    from provisioner.core.layout import TenantKey, tenant_scope
    from provisioner.manifest import validate_paths
    from provisioner.sinks import deliver_all

    app = next(item.app for item in validate_paths([str(workdir / "manifests")]).apps if item.app.name == APP)
    state_dir = workdir / ".provisioner"
    values = json.loads(connection_file(state_dir, APP).read_text())
    values["client_secret"] = minted["secretText"]
    values["client_secret_id"] = minted["keyId"]
    for entry in values.get("secrets") or []:
        if entry.get("name") == SECRET:
            entry.update(key_id=minted["keyId"], value=minted["secretText"])
    with tenant_scope(TenantKey("emulator", values["tenant_id"])):
        deliver_all(app, values, workdir, state_dir=state_dir)


@pytest.fixture()
def crashed(tmp_emulator: Any, tmp_path: Path) -> tuple[Path, Admin, str, str, str]:
    """apply, then a run killed after delivering an orphan's replacement: (workdir, admin, S0, orphan, S2).

    S0 was delivered by the apply and replaced (a predecessor); the orphan was minted and
    never delivered; S2 is the delivered replacement the sinks hold.
    """
    workdir = tmp_path / "work"
    (workdir / "manifests").mkdir(parents=True)
    (workdir / "manifests" / "orphan.yaml").write_text(MANIFEST)
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    first = str(json.loads((workdir / "out" / "daemon.json").read_text())["client_secret_id"]).lower()

    admin = Admin(tmp_emulator)
    tmp_emulator.ctx.clock.advance(60)
    orphan = str(admin.add_password()["keyId"]).lower()  # its value dies with the killed run
    tmp_emulator.ctx.clock.advance(60)
    replacement = admin.add_password()
    deliver_replacement(workdir, replacement)
    held = str(json.loads((workdir / "out" / "daemon.json").read_text())["client_secret_id"]).lower()
    assert held == str(replacement["keyId"]).lower()
    assert admin.key_ids() == {first, orphan, held}
    return workdir, admin, first, orphan, held


def test_orphan_older_than_the_held_secret_is_removed_at_once(
    tmp_emulator: Any, crashed: tuple[Path, Admin, str, str, str]
) -> None:
    workdir, admin, first, orphan, held = crashed

    report = rotate_report(tmp_emulator, workdir, 3)
    entry = report["secrets"][0]
    assert entry["status"] == "retired"
    assert [r["key_id"].lower() for r in entry["removed"]] == [orphan]
    assert "orphan" in entry["removed"][0]["reason"]
    assert entry["current"]["key_id"].lower() == held
    # The genuine predecessor stays valid for its overlap.
    assert entry["previous"]["key_id"].lower() == first
    assert admin.key_ids() == {first, held}
    ok(cli(tmp_emulator, workdir, "plan", "manifests", "--detailed-exitcode"))

    tmp_emulator.ctx.clock.advance(8 * DAY)  # past the 7d overlap
    report = rotate_report(tmp_emulator, workdir, 3)
    assert [r["key_id"].lower() for r in report["secrets"][0]["removed"]] == [first]
    assert admin.key_ids() == {held}


def test_journal_holds_key_ids_only_and_is_private(
    tmp_emulator: Any, crashed: tuple[Path, Admin, str, str, str]
) -> None:
    workdir, _admin, first, orphan, held = crashed
    journal = journal_file(workdir / ".provisioner")
    assert orphan not in journal.read_text()
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    entries = json.loads(journal.read_text())["apps"][APP]
    assert {e["key_id"] for e in entries} == {first, held}
    assert all(set(e) == {"key_id", "delivered_at"} for e in entries)
    secret_value = json.loads((workdir / "out" / "daemon.json").read_text())["client_secret"]
    assert secret_value not in journal.read_text()


def test_without_a_journal_the_older_unheld_secret_waits_for_overlap(
    tmp_emulator: Any, crashed: tuple[Path, Admin, str, str, str]
) -> None:
    workdir, admin, first, orphan, held = crashed
    journal_file(workdir / ".provisioner").unlink()  # a fresh workspace: today's rule

    report = rotate_report(tmp_emulator, workdir, 0)
    assert report["secrets"][0]["removed"] == []
    assert admin.key_ids() == {first, orphan, held}

    tmp_emulator.ctx.clock.advance(8 * DAY)
    report = rotate_report(tmp_emulator, workdir, 3)
    assert {r["key_id"].lower() for r in report["secrets"][0]["removed"]} == {first, orphan}
    assert admin.key_ids() == {held}
