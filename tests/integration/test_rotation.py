"""Secret rotation end to end: the real CLI (subprocess) against a private emulator whose clock the test moves.

The CLI's ``--emulator`` runs an in-process emulator whose clock offset is not
persisted, so these tests start their own (``tmp_emulator``) and point the CLI
at it with the environment ``provisioner emulator serve`` would print. The tool
reads "now" from Graph's ``Date`` header, which the emulator sets from its
clock, so moving the emulator's clock moves the tool's time too.

Validity of old and new secrets is proven with real client-credentials token
requests against the emulator's token endpoint.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, ok, run_cli
from oauth_support import client_credentials_form

DAY = 86400
APP = "rot-daemon"
SECRET = "daemon secret"

MANIFEST = """\
version: 1
apps:
  - name: rot-daemon
    display_name: Rotation daemon
    audience: single-tenant
    secrets:
      - name: daemon secret
        expires_in: {expires_in}
        rotate_before: 30d
        overlap: 7d
    sinks:
      - type: json
        path: out/daemon.json
      - type: dotenv
        path: {dotenv}
        prefix: DAEMON_
{extra_sinks}"""


def write_manifest(
    workdir: Path, *, dotenv: str = "out/daemon.env", github: bool = False, expires_in: str = "90d"
) -> None:
    extra = "      - type: github\n        prefix: daemon_\n" if github else ""
    (workdir / "manifests").mkdir(exist_ok=True)
    text = MANIFEST.format(dotenv=dotenv, extra_sinks=extra, expires_in=expires_in)
    (workdir / "manifests" / "rot.yaml").write_text(text)


def cli(
    running: Any, workdir: Path, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=workdir, env={**base_env(), **running.env(), **(extra_env or {})}, timeout=120)


def rotate_json(
    running: Any, workdir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`provisioner rotate manifests --yes --json --detailed-exitcode`: exit 3 means something rotated."""
    return cli(
        running, workdir, "rotate", "manifests", "--yes", "--json", "--detailed-exitcode", extra_env=extra_env
    )


def json_out(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """stdout as JSON (GitHub's ``::add-mask::`` workflow commands go to stderr, never here)."""
    return dict(json.loads(proc.stdout))


def token_status(running: Any, client_id: str, secret: str) -> tuple[int, str]:
    """A real client-credentials token request; (HTTP status, error description or "")."""
    response = httpx.post(
        f"{running.base_url}/{running.tenant.tenant_id}/oauth2/v2.0/token",
        data=client_credentials_form(client_id, secret),
        verify=str(running.ca_cert_path),
        timeout=30,
    )
    return response.status_code, response.json().get("error_description", "")


def admin_headers(running: Any) -> dict[str, str]:
    status = httpx.post(
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
    status.raise_for_status()
    return {"Authorization": f"Bearer {status.json()['access_token']}"}


def entra_secrets(running: Any) -> list[dict[str, Any]]:
    """The app's passwordCredentials as Graph lists them (read with the admin credential)."""
    response = httpx.get(
        f"{running.graph_url}/applications(uniqueName='{APP}')",
        params={"$select": "id,passwordCredentials"},
        headers=admin_headers(running),
        verify=str(running.ca_cert_path),
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["passwordCredentials"])


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def dotenv_value(path: Path, name: str) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip("'\"")
    return None


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.mark.slow
def test_rotation_window_overlap_and_retirement(tmp_emulator: Any, workdir: Path) -> None:
    github_output = workdir / "github_output.txt"
    github_output.write_text("")
    gh = {"GITHUB_OUTPUT": str(github_output), "GITHUB_ACTIONS": "true"}
    write_manifest(workdir, github=True)

    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes", extra_env=gh))
    first = read_json(workdir / "out" / "daemon.json")
    client_id, old_value, old_id = first["client_id"], first["client_secret"], first["client_secret_id"]

    # Before the window (day 0 of 90, window opens at day 60): nothing to do, exit 0.
    before = ok(rotate_json(tmp_emulator, workdir, extra_env=gh))
    report = json_out(before)
    assert report["status"] == "unchanged"
    assert report["secrets"][0]["current"]["key_id"] == old_id

    # Inside the window: mint, deliver everywhere, keep the old one valid (exit 3 = rotated).
    tmp_emulator.ctx.clock.advance(61 * DAY)
    inode_before = (workdir / "out" / "daemon.json").stat().st_ino
    rotated = ok(
        rotate_json(tmp_emulator, workdir, extra_env=gh),
        3,
    )
    report = json_out(rotated)
    assert report["status"] == "rotated"
    entry = report["secrets"][0]
    assert entry["status"] == "rotated" and entry["previous"]["key_id"] == old_id
    assert "value" not in entry
    new_id = entry["current"]["key_id"]
    assert new_id != old_id and entry["current"]["hint"] and entry["current"]["expires"]

    values = read_json(workdir / "out" / "daemon.json")
    new_value = values["client_secret"]
    assert values["client_secret_id"] == new_id and new_value != old_value
    assert dotenv_value(workdir / "out" / "daemon.env", "DAEMON_AZURE_CLIENT_SECRET") == new_value
    assert read_json(connection_file(workdir / ".provisioner", APP))["client_secret_id"] == new_id
    # Files: 0600, replaced by rename (new inode), no temporary file left behind.
    for path in (workdir / "out" / "daemon.json", workdir / "out" / "daemon.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (workdir / "out" / "daemon.json").stat().st_ino != inode_before
    assert not [p.name for p in (workdir / "out").iterdir() if p.name.endswith(".tmp")]
    # The value is never printed, except as GitHub's mask command (stderr); the step output carries it.
    assert f"::add-mask::{new_value}" in rotated.stderr
    assert new_value not in rotated.stderr.replace(f"::add-mask::{new_value}", "")
    assert new_value not in rotated.stdout
    assert "daemon_client_secret<<" in github_output.read_text() and new_value in github_output.read_text()

    # Both secrets are valid during the overlap (7 days from the new secret's start).
    assert token_status(tmp_emulator, client_id, old_value)[0] == 200
    assert token_status(tmp_emulator, client_id, new_value)[0] == 200
    tmp_emulator.ctx.clock.advance(6 * DAY)
    assert token_status(tmp_emulator, client_id, old_value)[0] == 200

    # The tool acts inside the overlap window: rotate and plan leave both secrets alone (exit 0).
    inside = json_out(ok(rotate_json(tmp_emulator, workdir, extra_env=gh)))
    entry = inside["secrets"][0]
    assert inside["status"] == "unchanged" and entry["status"] == "unchanged", entry
    assert entry["removed"] == [] and entry["current"]["key_id"] == new_id
    assert entry["previous"]["key_id"] == old_id and entry["previous"]["retire_after"]
    ok(cli(tmp_emulator, workdir, "plan", "manifests", "--detailed-exitcode", extra_env=gh))
    assert sorted(s["keyId"] for s in entra_secrets(tmp_emulator)) == sorted([old_id, new_id])
    assert token_status(tmp_emulator, client_id, old_value)[0] == 200
    assert token_status(tmp_emulator, client_id, new_value)[0] == 200

    # After the overlap: plan shows the retirement, rotate performs it, the old secret stops working.
    tmp_emulator.ctx.clock.advance(2 * DAY)
    pending = ok(
        cli(tmp_emulator, workdir, "plan", "manifests", "--json", "--detailed-exitcode", extra_env=gh), 2
    )
    kinds = [a["kind"] for a in json.loads(pending.stdout)["actions"]]
    assert kinds == ["retire_secret"]
    retired = ok(
        rotate_json(tmp_emulator, workdir, extra_env=gh),
        3,
    )
    entry = json_out(retired)["secrets"][0]
    assert entry["status"] == "retired" and [r["key_id"] for r in entry["removed"]] == [old_id]
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [new_id]
    status, description = token_status(tmp_emulator, client_id, old_value)
    assert status == 401 and "AADSTS7000215" in description
    assert token_status(tmp_emulator, client_id, new_value)[0] == 200

    health = json.loads(ok(cli(tmp_emulator, workdir, "status", "manifests", "--json")).stdout)
    assert health["healthy"] is True
    rows = health["apps"][0]["secrets"]
    assert [(r["key_id"], r["state"]) for r in rows] == [(new_id, "current")]
    assert len(rows[0]["held_by"]) == 3  # default file, json, dotenv (GitHub outputs keep nothing)


@pytest.mark.slow
def test_failing_sink_keeps_old_secret_and_rerun_completes(tmp_emulator: Any, workdir: Path) -> None:
    write_manifest(workdir)
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    first = read_json(workdir / "out" / "daemon.json")
    old_id = first["client_secret_id"]

    # The dotenv sink now points below a regular file: its write fails.
    (workdir / "blocker").write_text("not a directory\n")
    write_manifest(workdir, dotenv="blocker/daemon.env")
    tmp_emulator.ctx.clock.advance(61 * DAY)
    failed = rotate_json(tmp_emulator, workdir)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    report = json_out(failed)
    assert report["status"] == "failed" and report["secrets"][0]["status"] == "failed"
    # Found before anything was minted (preflight): one line naming the sink, Entra untouched.
    assert failed.stderr.count("blocker is a file, not a folder") == 1, failed.stderr  # one line, once
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [old_id]
    default = read_json(connection_file(workdir / ".provisioner", APP))
    assert default["client_secret_id"] == old_id and default["client_secret"] == first["client_secret"]
    assert token_status(tmp_emulator, first["client_id"], first["client_secret"])[0] == 200

    # Fix the sink; the next run completes the rotation.
    (workdir / "blocker").unlink()
    done = json_out(ok(rotate_json(tmp_emulator, workdir), 3))
    new_id = done["secrets"][0]["current"]["key_id"]
    assert done["status"] == "rotated" and new_id != old_id
    assert sorted(s["keyId"] for s in entra_secrets(tmp_emulator)) == sorted([old_id, new_id])
    assert read_json(workdir / "out" / "daemon.json")["client_secret_id"] == new_id
    assert dotenv_value(workdir / "blocker" / "daemon.env", "DAEMON_AZURE_CLIENT_SECRET_ID") == new_id


@pytest.mark.slow
def test_secret_minted_but_never_delivered_is_replaced(tmp_emulator: Any, workdir: Path) -> None:
    write_manifest(workdir, expires_in="18mo")  # allowed, but above Microsoft's 12-month advice: warned
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    held_id = read_json(workdir / "out" / "daemon.json")["client_secret_id"]

    # A run killed right after addPassword: Entra holds a secret whose value no sink has.
    object_id = httpx.get(
        f"{tmp_emulator.graph_url}/applications(uniqueName='{APP}')",
        params={"$select": "id"},
        headers=admin_headers(tmp_emulator),
        verify=str(tmp_emulator.ca_cert_path),
    ).json()["id"]
    added = httpx.post(
        f"{tmp_emulator.graph_url}/applications/{object_id}/addPassword",
        json={"passwordCredential": {"displayName": SECRET}},
        headers=admin_headers(tmp_emulator),
        verify=str(tmp_emulator.ca_cert_path),
    )
    added.raise_for_status()
    orphan_id = added.json()["keyId"]

    planned = ok(cli(tmp_emulator, workdir, "plan", "manifests", "--json", "--detailed-exitcode"), 2)
    actions = json.loads(planned.stdout)["actions"]
    assert [(a["kind"], a["details"]["key_id"]) for a in actions] == [("replace_orphan_secret", orphan_id)]

    rotated = ok(rotate_json(tmp_emulator, workdir), 3)
    repaired = json_out(rotated)
    assert [r["key_id"] for r in repaired["secrets"][0]["removed"]] == [orphan_id]
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [held_id]
    assert "longer than 12 months" in rotated.stderr and any("12 months" in w for w in repaired["warnings"])

    # Lost everything the sinks held (e.g. killed after the first addPassword): apply replaces it.
    for path in (workdir / "out" / "daemon.json", workdir / "out" / "daemon.env"):
        path.unlink()
    connection_file(workdir / ".provisioner", APP).unlink()
    assert cli(tmp_emulator, workdir, "status", "manifests").returncode == 4
    # The lost value was delivered once, so someone may still use it: never an orphan. Apply mints a
    # replacement; the delivered secret then retires by the rotation rules (after its overlap).
    applied = ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes", "--json"))
    kinds = {a["kind"] for a in json.loads(applied.stdout)["changes"]["actions"]}
    assert kinds == {"mint_secret"}
    fresh = read_json(workdir / "out" / "daemon.json")["client_secret_id"]
    assert fresh != held_id
    assert sorted(s["keyId"] for s in entra_secrets(tmp_emulator)) == sorted([held_id, fresh])
    assert ok(cli(tmp_emulator, workdir, "status", "manifests")).returncode == 0
    tmp_emulator.ctx.clock.advance(8 * 86400)  # past the 7d overlap
    ok(rotate_json(tmp_emulator, workdir), 0, 3)
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [fresh]


def test_lifetime_above_two_years_is_refused_with_location(tmp_emulator: Any, workdir: Path) -> None:
    (workdir / "manifests").mkdir()
    too_long = workdir / "manifests" / "long.yaml"
    too_long.write_text(
        "version: 1\napps:\n  - name: long-lived\n    display_name: Long lived\n"
        "    secrets:\n      - name: s\n        expires_in: 3y\n"
    )
    refused = cli(tmp_emulator, workdir, "rotate", "manifests", "--yes")
    assert refused.returncode == 1
    assert "long.yaml:7:21" in refused.stderr and "allow_long_lifetime" in refused.stderr


@pytest.mark.slow
def test_unreadable_sink_blocks_retirement_until_it_is_readable(tmp_emulator: Any, workdir: Path) -> None:
    """A sink that cannot be read might hold the old value: rotate removes nothing from the app, says
    why, and retires the predecessor once the sink reads again."""
    write_manifest(workdir)
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    old_id = read_json(workdir / "out" / "daemon.json")["client_secret_id"]
    tmp_emulator.ctx.clock.advance(61 * DAY)
    new_id = json_out(ok(rotate_json(tmp_emulator, workdir), 3))["secrets"][0]["current"]["key_id"]
    tmp_emulator.ctx.clock.advance(8 * DAY)  # past the 7-day overlap: the old secret is due to go

    sink = workdir / "out" / "daemon.json"
    readable = sink.read_text()
    sink.write_text("{ not json")  # corrupt: the tool cannot tell which secret it holds
    # Found before any write: exit 1 with one line naming the sink; nothing rotated, nothing retired.
    blocked = ok(rotate_json(tmp_emulator, workdir), 1)
    assert any("out/daemon.json" in e and "not valid JSON" in e for e in json_out(blocked)["errors"])
    entry = json_out(blocked)["secrets"][0]
    assert entry["status"] == "unchanged" and entry["removed"] == [], entry
    assert entry["current"]["key_id"] == new_id
    assert sorted(s["keyId"] for s in entra_secrets(tmp_emulator)) == sorted([old_id, new_id])
    status = cli(tmp_emulator, workdir, "status", "manifests")
    assert status.returncode == 4, status.stdout + status.stderr  # needs attention
    shown = " ".join(status.stdout.split())
    assert "out/daemon.json → unreadable" in shown and "delete or fix it" in shown, shown

    sink.write_text(readable)
    retired = json_out(ok(rotate_json(tmp_emulator, workdir), 3))["secrets"][0]
    assert retired["status"] == "retired" and [r["key_id"] for r in retired["removed"]] == [old_id]
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [new_id]


@pytest.mark.slow
def test_renamed_dotenv_sink_is_seen_holding_its_secret(tmp_emulator: Any, workdir: Path) -> None:
    """A dotenv sink with ``rename`` holds its secret under the product's names: rotation past the overlap
    keeps the old secret while that sink still holds it, and retires it once the sink holds the new one."""
    write_manifest(workdir)
    manifest = workdir / "manifests" / "rot.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "        prefix: DAEMON_\n",
            "        prefix: DAEMON_\n"
            "        rename: {client_secret: DAEMON_PASSWORD, client_secret_id: DAEMON_PASSWORD_ID}\n",
        )
    )
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    dotenv = workdir / "out" / "daemon.env"
    old_id = read_json(workdir / "out" / "daemon.json")["client_secret_id"]
    assert dotenv_value(dotenv, "DAEMON_PASSWORD_ID") == old_id
    assert (
        dotenv_value(dotenv, "DAEMON_PASSWORD") and dotenv_value(dotenv, "DAEMON_AZURE_CLIENT_SECRET") is None
    )
    holding_old = dotenv.read_text()

    tmp_emulator.ctx.clock.advance(61 * DAY)
    new_id = json_out(ok(rotate_json(tmp_emulator, workdir), 3))["secrets"][0]["current"]["key_id"]
    holding_new = dotenv.read_text()
    assert dotenv_value(dotenv, "DAEMON_PASSWORD_ID") == new_id
    dotenv.write_text(holding_old)  # e.g. a copy restored from backup: the product still runs on the old one

    tmp_emulator.ctx.clock.advance(8 * DAY)  # past the 7-day overlap
    status = json.loads(cli(tmp_emulator, workdir, "status", "manifests", "--json").stdout)
    held = {r["key_id"]: r["held_by"] for r in status["apps"][0]["secrets"]}
    assert [w for w in held[old_id] if w.endswith("daemon.env")], held
    kept = json_out(ok(rotate_json(tmp_emulator, workdir)))["secrets"][0]
    assert kept["removed"] == [], kept
    assert sorted(s["keyId"] for s in entra_secrets(tmp_emulator)) == sorted([old_id, new_id])
    # that run delivered the current secret to the stale sink: it now holds the new one
    assert dotenv.read_text() == holding_new

    retired = json_out(ok(rotate_json(tmp_emulator, workdir), 3))["secrets"][0]
    assert retired["status"] == "retired" and [r["key_id"] for r in retired["removed"]] == [old_id]
    assert [s["keyId"] for s in entra_secrets(tmp_emulator)] == [new_id]
