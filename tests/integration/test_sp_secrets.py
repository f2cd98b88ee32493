"""Service principal secrets end to end: the real CLI against a private emulator whose clock the test moves.

One app, one module: ``service_principal.secrets`` minted with servicePrincipals/{id}/addPassword and
delivered under sp_* keys; the token endpoint accepts it for the app's client id; rotated with
overlap (both sign in), the old one retired after it (and refused); a 30-day policy applied to the
principal makes ``plan`` fail with one line before any write; no output carries a secret value.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, ok, run_cli

pytestmark = pytest.mark.slow

DAY = 86400
APP = "sp-daemon"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
FILE_LIMIT = 1000  # bytes: below the connection file with two secrets (~1.4 kB), above the journal (~0.6 kB)

MANIFEST = """\
version: 1
apps:
  - name: sp-daemon
    display_name: Principal secret daemon
    permissions:
      Microsoft Graph:
        application: [User.Read.All]
    admin_consent: true
    service_principal:
      secrets:
        - name: principal secret
          expires_in: 90d
          rotate_before: 30d
          overlap: 7d
    sinks:
      - type: dotenv
        path: out/daemon.env
        prefix: DAEMON_
"""


def cli(
    running: Any, workdir: Path, *args: str, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args, cwd=workdir, env={**base_env(), **running.env()}, timeout=120, file_limit=file_limit
    )


def token(running: Any, client_id: str, secret: str) -> httpx.Response:
    """A real client-credentials request (form post), as any OAuth library sends it."""
    return httpx.post(
        f"{running.base_url}/{running.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "client_credentials",
            "scope": GRAPH_DEFAULT,
        },
        verify=str(running.ca_cert_path),
        timeout=30,
    )


def graph(running: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    admin = token(running, running.tenant.admin_client_id, running.tenant.admin_client_secret)
    admin.raise_for_status()
    return httpx.request(
        method,
        f"{running.graph_url}{path}",
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
        verify=str(running.ca_cert_path),
        timeout=30,
        **kwargs,
    )


def sp_passwords(running: Any, client_id: str) -> list[dict[str, Any]]:
    found = graph(
        running,
        "GET",
        f"/servicePrincipals(appId='{client_id}')",
        params={"$select": "id,passwordCredentials"},
    )
    found.raise_for_status()
    return list(found.json()["passwordCredentials"])


def app_passwords(running: Any) -> list[dict[str, Any]]:
    found = graph(
        running, "GET", f"/applications(uniqueName='{APP}')", params={"$select": "passwordCredentials"}
    )
    found.raise_for_status()
    return list(found.json()["passwordCredentials"])


def test_service_principal_secret_lifecycle(tmp_emulator: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST)
    planned = ok(cli(tmp_emulator, tmp_path, "plan", "m.yaml"))
    assert "mint service principal secret 'principal secret'" in planned.stdout

    applied = ok(cli(tmp_emulator, tmp_path, "apply", "m.yaml", "--yes", "--json"))
    values = json.loads(connection_file(tmp_path / ".provisioner", APP).read_text())
    first, first_kid, client_id = (
        values["sp_client_secret"],
        values["sp_client_secret_id"],
        values["client_id"],
    )
    assert "client_secret" not in values and values["sp_client_secret_expires"].endswith("Z")
    (shown,) = json.loads(applied.stdout)["apps"]
    assert shown["connection"]["sp_client_secret"] == first[:3] + "****"  # masked like client_secret
    assert [e["key_id"] for e in values["sp_secrets"]] == [first_kid]
    env_text = (tmp_path / "out" / "daemon.env").read_text()
    assert (
        f"DAEMON_SP_CLIENT_SECRET={first}" in env_text
        and f"DAEMON_SP_CLIENT_SECRET_ID={first_kid}" in env_text
    )
    assert [p["keyId"] for p in sp_passwords(tmp_emulator, client_id)] == [first_kid]
    assert app_passwords(tmp_emulator) == []  # minted on the principal, not the registration
    assert "access_token" in token(tmp_emulator, client_id, first).json()
    tmp_emulator.ctx.counters.clear()
    quiet = cli(tmp_emulator, tmp_path, "plan", "m.yaml", "--detailed-exitcode")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    # the principal's secrets and policy ride in the existing read rounds (1: apps + policies,
    # 2: principals + appliesTo, 3: the principal's consent): no round of their own
    assert tmp_emulator.ctx.counters.get("graph_requests") == 3, dict(tmp_emulator.ctx.counters)

    # -- inside rotate_before: a new secret; both sign in during the overlap
    tmp_emulator.ctx.clock.advance(61 * DAY)
    rotated = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--yes", "--json", "--detailed-exitcode")
    assert rotated.returncode == 3, rotated.stdout + rotated.stderr
    (outcome,) = json.loads(rotated.stdout)["secrets"]
    assert outcome["kind"] == "service_principal_secret" and outcome["status"] == "rotated"
    assert outcome["previous"]["key_id"] == first_kid and "value" not in outcome
    values = json.loads(connection_file(tmp_path / ".provisioner", APP).read_text())
    second, second_kid = values["sp_client_secret"], values["sp_client_secret_id"]
    assert second_kid != first_kid and second != first
    assert {p["keyId"] for p in sp_passwords(tmp_emulator, client_id)} == {first_kid, second_kid}
    assert "access_token" in token(tmp_emulator, client_id, first).json()
    assert "access_token" in token(tmp_emulator, client_id, second).json()
    status = ok(cli(tmp_emulator, tmp_path, "status", "m.yaml", "--json"))
    rows = json.loads(status.stdout)["apps"][0]["secrets"]
    assert {(r["kind"], r["key_id"]) for r in rows} == {
        ("service_principal_secret", first_kid),
        ("service_principal_secret", second_kid),
    }

    # -- after the overlap: the old secret is retired and refused by the token endpoint
    tmp_emulator.ctx.clock.advance(8 * DAY)
    retired = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--yes", "--json", "--detailed-exitcode")
    assert retired.returncode == 3, retired.stdout + retired.stderr
    assert [p["keyId"] for p in sp_passwords(tmp_emulator, client_id)] == [second_kid]
    refused = token(tmp_emulator, client_id, first)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "access_token" in token(tmp_emulator, client_id, second).json()

    # -- a delivery that fails (a file size limit) takes the new secret back out of the principal
    full = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--force", "--yes", file_limit=FILE_LIMIT)
    assert full.returncode == 1 and "removed again" in full.stderr, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert [p["keyId"] for p in sp_passwords(tmp_emulator, client_id)] == [second_kid]
    assert (
        json.loads(connection_file(tmp_path / ".provisioner", APP).read_text())["sp_client_secret"] == second
    )

    # -- a 30-day policy applied to the principal: plan refuses a 90-day secret in one line, nothing written
    capped = graph(
        tmp_emulator,
        "POST",
        "/policies/appManagementPolicies",
        json={
            "displayName": "30-day principal secrets",
            "isEnabled": True,
            "restrictions": {
                "passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P30D"}]
            },
        },
    ).json()
    sp_id = graph(tmp_emulator, "GET", f"/servicePrincipals(appId='{client_id}')").json()["id"]
    ref = {"@odata.id": f"{tmp_emulator.graph_url}/policies/appManagementPolicies/{capped['id']}"}
    assert (
        graph(
            tmp_emulator, "POST", f"/servicePrincipals/{sp_id}/appManagementPolicies/$ref", json=ref
        ).status_code
        == 204
    )
    forced = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--force", "--yes")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    refusal = [line for line in forced.stderr.splitlines() if "30-day principal secrets" in line]
    assert len(refusal) == 1 and "passwordLifetime maximum P30D" in refusal[0], forced.stderr
    assert "service principal secret 'principal secret'" in refusal[0] and "Traceback" not in forced.stderr
    assert [p["keyId"] for p in sp_passwords(tmp_emulator, client_id)] == [second_kid]  # no write
    tmp_emulator.ctx.clock.advance(55 * DAY)  # inside rotate_before again: plan would mint, and refuses
    refused_plan = cli(tmp_emulator, tmp_path, "plan", "m.yaml")
    assert refused_plan.returncode == 1, refused_plan.stdout + refused_plan.stderr
    lines = [line for line in refused_plan.stderr.splitlines() if "P30D" in line]
    assert len(lines) == 1 and capped["id"] in lines[0], refused_plan.stderr
    assert [p["keyId"] for p in sp_passwords(tmp_emulator, client_id)] == [second_kid]

    for proc in (planned, applied, rotated, status, retired, full, forced, refused_plan):
        text = proc.stdout + proc.stderr
        assert first not in text and second not in text
