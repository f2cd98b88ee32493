"""Issue 17: `authorize` hands the tokens to the product (token_sinks), insists on the refresh token it
asked for, and `status` warns before the refresh token dies of inactivity."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import connection_file
from test_authorize_verify import AuthorizeProcess, cli_env, run_cli, sign_in_with_httpx

from provisioner.emulator import RunningEmulator

MANIFEST = """\
version: 1
apps:
  - name: connector
    display_name: Connector
    redirect_uris: {web: ["http://localhost:8400/callback"]}
    permissions:
      Microsoft Graph: {delegated: [offline_access, User.Read, Mail.Read]}
    admin_consent: true
    secrets: [{name: s, expires_in: 90d}]
    token_sinks:
      - {type: json, path: out/tokens.json}
      - type: template
        path: out/connection.txt
        template: |
          AccessToken=${access_token}
          RefreshToken=${refresh_token}
"""


@pytest.fixture
def applied(emulator: RunningEmulator, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "connector.yaml").write_text(MANIFEST)
    from cli_support import tenant_env
    from reliability_support import fresh_tenant

    env = {**cli_env(None), **tenant_env(emulator, fresh_tenant(emulator))}
    run_cli("apply", "m", "--yes", "--state-dir", "state", cwd=tmp_path, env=env)
    return tmp_path, env


def _authorize(emulator: RunningEmulator, workdir: Path, env: dict[str, str]) -> AuthorizeProcess:
    run = AuthorizeProcess.start("m", "--state-dir", "state", "--redirect-port", "0", cwd=workdir, env=env)
    sign_in_with_httpx(run.url(), emulator.ca_cert_path)
    return run


def test_authorize_delivers_tokens_to_the_token_sinks_and_status_watches_their_age(
    emulator: RunningEmulator, applied: tuple[Path, dict[str, str]]
) -> None:
    workdir, env = applied
    summary = _authorize(emulator, workdir, env).finish()
    assert summary["refresh_token"] is True
    assert summary["delivered_to"] == [
        f"json file {workdir / 'out' / 'tokens.json'}",
        f"template file {workdir / 'out' / 'connection.txt'}",
    ]
    token_path = workdir / "state" / "tokens" / "connector.json"
    tokens: dict[str, Any] = json.loads(token_path.read_text())
    delivered = json.loads((workdir / "out" / "tokens.json").read_text())
    assert delivered["app"] == "connector"
    assert (
        delivered["access_token"] == tokens["access_token"]
        and delivered["refresh_token"] == tokens["refresh_token"]
    )
    assert (
        delivered["client_id"]
        == json.loads(connection_file(workdir / "state", "connector").read_text())["client_id"]
    )
    assert (workdir / "out" / "connection.txt").read_text() == (
        f"AccessToken={tokens['access_token']}\nRefreshToken={tokens['refresh_token']}\n"
    )
    assert abs(tokens["refresh_token_obtained_at"] - time.time()) < 600

    fresh = run_cli("status", "m", "--state-dir", "state", cwd=workdir, env=env, check=False)
    assert "refresh token" not in fresh.stderr

    tokens["refresh_token_obtained_at"] = int(time.time()) - 80 * 86400
    token_path.write_text(json.dumps(tokens))
    aging = run_cli("status", "m", "--state-dir", "state", "--json", cwd=workdir, env=env, check=False)
    assert "expires after 90 days unused (10 left)" in aging.stderr
    assert json.loads(aging.stdout)["token_warnings"] and tokens["refresh_token"] not in aging.stderr

    tokens["refresh_token_obtained_at"] = int(time.time()) - 95 * 86400
    token_path.write_text(json.dumps(tokens))
    dead = run_cli("status", "m", "--state-dir", "state", cwd=workdir, env=env, check=False)
    assert "has expired (AADSTS700082); run provisioner authorize again" in dead.stderr


def test_authorize_fails_when_the_refresh_token_it_asked_for_does_not_come_back(
    emulator: RunningEmulator, applied: tuple[Path, dict[str, str]]
) -> None:
    workdir, env = applied
    # the connection values lost offline_access (an older apply, a hand edit): the manifest still asks for it
    path = connection_file(workdir / "state", "connector")
    values = json.loads(path.read_text())
    values["scopes"] = " ".join(s for s in values["scopes"].split() if s != "offline_access")
    path.write_text(json.dumps(values))
    run = _authorize(emulator, workdir, env)
    assert run.proc.stdout is not None
    out = run.proc.stdout.read()
    assert run.proc.wait(timeout=60) == 1 and out == ""
    errors = [line for line in run.stderr if line.startswith("error:")]
    assert (
        len(errors) == 1
        and "returned no refresh token although the manifest asks for offline_access" in errors[0]
    )
    assert not (workdir / "state" / "tokens" / "connector.json").exists()
    assert not (workdir / "out" / "tokens.json").exists()


def test_ews_manifest_verify_checks_the_delegated_exchange_flow(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    from cli_support import tenant_env
    from reliability_support import fresh_tenant

    manifest = Path(__file__).resolve().parents[2] / "manifests" / "05-ews-test-tool.yaml"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / manifest.name).write_text(manifest.read_text())
    env = {**cli_env(None), **tenant_env(emulator, fresh_tenant(emulator))}
    run_cli("apply", "m", "--yes", "--state-dir", "state", cwd=tmp_path, env=env)
    assert _authorize(emulator, tmp_path, env).finish()["refresh_token"] is True
    proc = run_cli("verify", "m", "--state-dir", "state", "--json", cwd=tmp_path, env=env, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], proc.stdout
    checks = [c for app in report["apps"] for c in app["checks"]]
    delegated = [c for c in checks if c["check"] == "delegated"]
    assert delegated and all(c["status"] == "ok" for c in delegated), checks
    assert any(c["resource"] == "Office 365 Exchange Online" for c in delegated)
    assert not [c for c in checks if c["status"] == "skipped"]
    table = run_cli("verify", "m", "--state-dir", "state", cwd=tmp_path, env=env)
    assert "All 1 app(s) verified." in table.stdout
