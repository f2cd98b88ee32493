"""Certificate credentials end to end: the real CLI against a private emulator whose clock the test moves.

One app, one module: created with a generated certificate (uploaded by PATCH keyCredentials, the
private key delivered to a 0600 file), rotated with overlap (both certificates sign in with MSAL
client assertions during the overlap, the old one is removed after it and the token endpoint then
refuses it), ``verify`` signs its own assertion, and no output ever carries the private key.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
from cli_support import base_env, connection_file, ok, run_cli

pytestmark = pytest.mark.slow

DAY = 86400
APP = "cert-daemon"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"

MANIFEST = """\
version: 1
apps:
  - name: cert-daemon
    display_name: Certificate daemon
    permissions:
      Microsoft Graph:
        application: [User.Read.All]
    admin_consent: true
    certificates:
      - name: daemon cert
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
        pfx: true
    sinks:
      - type: dotenv
        path: out/daemon.env
        prefix: DAEMON_
"""


@pytest.fixture(autouse=True)
def no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """``requests`` (under MSAL) prefers REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE over ``verify``."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def cli(
    running: Any, workdir: Path, *args: str, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args, cwd=workdir, env={**base_env(), **running.env()}, timeout=120, file_limit=file_limit
    )


def admin_headers(running: Any) -> dict[str, str]:
    response = httpx.post(
        f"{running.base_url}/{running.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": running.tenant.admin_client_id,
            "client_secret": running.tenant.admin_client_secret,
            "grant_type": "client_credentials",
            "scope": GRAPH_DEFAULT,
        },
        verify=str(running.ca_cert_path),
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def entra_certs(running: Any) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{running.graph_url}/applications(uniqueName='{APP}')",
        params={"$select": "id,keyCredentials"},
        headers=admin_headers(running),
        verify=str(running.ca_cert_path),
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["keyCredentials"])


def msal_token(running: Any, client_id: str, key_pem: str, thumbprint: str) -> dict[str, Any]:
    """A real client-credentials request with an MSAL-signed client assertion (x5t header)."""
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential={"private_key": key_pem, "thumbprint": thumbprint},
        authority=f"{running.authority}/{running.tenant.tenant_id}",
        instance_discovery=False,
        verify=str(running.ca_cert_path),
    )
    return dict(app.acquire_token_for_client([GRAPH_DEFAULT]))


def no_key_material(text: str, *keys: str) -> None:
    assert "PRIVATE KEY" not in text
    for key in keys:
        body = "".join(key.strip().splitlines()[1:-1])
        for line in key.strip().splitlines()[1:-1]:
            assert line not in text
        assert body[:40] not in text


def test_certificate_create_rotate_verify_retire(tmp_emulator: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST)
    ok(cli(tmp_emulator, tmp_path, "validate", "m.yaml"))
    planned = ok(cli(tmp_emulator, tmp_path, "plan", "m.yaml"))
    assert "generate certificate 'daemon cert'" in planned.stdout

    applied = ok(cli(tmp_emulator, tmp_path, "apply", "m.yaml", "--yes", "--json"))
    values = json.loads(connection_file(tmp_path / ".provisioner", APP).read_text())
    first_thumb, first_kid = values["client_certificate_thumbprint"], values["client_certificate_key_id"]
    key_path = Path(values["client_certificate_path"])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(values["client_certificate_pfx_path"]).stat().st_mode) == 0o600
    first_key = key_path.read_text()
    assert "PRIVATE KEY" in first_key and "CERTIFICATE" in first_key
    env_text = (tmp_path / "out" / "daemon.env").read_text()
    assert f"DAEMON_CLIENT_CERTIFICATE_THUMBPRINT={first_thumb}" in env_text
    assert "PRIVATE KEY" not in env_text
    creds = entra_certs(tmp_emulator)
    assert [(c["keyId"], c["customKeyIdentifier"], c["type"], c["usage"]) for c in creds] == [
        (first_kid, first_thumb, "AsymmetricX509Cert", "Verify")
    ]
    client_id = values["client_id"]
    assert "access_token" in msal_token(tmp_emulator, client_id, first_key, first_thumb)
    quiet = cli(tmp_emulator, tmp_path, "plan", "m.yaml", "--detailed-exitcode")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr

    verified = ok(cli(tmp_emulator, tmp_path, "verify", "m.yaml", "--app", APP))
    assert "certificate" in verified.stdout.lower()

    # -- inside rotate_before: a new certificate; both sign in during the overlap
    tmp_emulator.ctx.clock.advance(61 * DAY)
    rotated = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--yes", "--json", "--detailed-exitcode")
    assert rotated.returncode == 3, rotated.stdout + rotated.stderr
    report = json.loads(rotated.stdout)
    (outcome,) = [s for s in report["secrets"] if s["kind"] == "certificate"]
    assert outcome["status"] == "rotated" and outcome["previous"]["key_id"] == first_kid
    values = json.loads(connection_file(tmp_path / ".provisioner", APP).read_text())
    second_thumb, second_kid = values["client_certificate_thumbprint"], values["client_certificate_key_id"]
    assert second_kid != first_kid and second_thumb != first_thumb
    second_key = key_path.read_text()
    assert second_key != first_key
    assert {c["keyId"] for c in entra_certs(tmp_emulator)} == {first_kid, second_kid}
    assert "access_token" in msal_token(tmp_emulator, client_id, first_key, first_thumb)
    assert "access_token" in msal_token(tmp_emulator, client_id, second_key, second_thumb)

    # -- after the overlap: the old certificate is retired and refused by the token endpoint
    tmp_emulator.ctx.clock.advance(8 * DAY)
    retired = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--yes", "--json", "--detailed-exitcode")
    assert retired.returncode == 3, retired.stdout + retired.stderr
    assert [c["keyId"] for c in entra_certs(tmp_emulator)] == [second_kid]
    refused = msal_token(tmp_emulator, client_id, first_key, first_thumb)
    assert "access_token" not in refused and refused.get("error") == "invalid_client", refused
    assert "access_token" in msal_token(tmp_emulator, client_id, second_key, second_thumb)
    ok(cli(tmp_emulator, tmp_path, "verify", "m.yaml", "--app", APP))

    texts: list[subprocess.CompletedProcess[str]] = []
    # -- a delivery that fails (no room for the key file) takes the new certificate back out of Entra
    full = cli(tmp_emulator, tmp_path, "rotate", "m.yaml", "--force", "--yes", file_limit=1500)
    assert full.returncode == 1 and "removed again" in full.stderr, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert [c["keyId"] for c in entra_certs(tmp_emulator)] == [second_kid]
    assert key_path.read_text() == second_key
    texts.append(full)

    status = ok(cli(tmp_emulator, tmp_path, "status", "m.yaml"))
    texts += [planned, applied, verified, rotated, retired, status]
    texts.append(ok(cli(tmp_emulator, tmp_path, "status", "m.yaml", "--json")))
    texts.append(ok(cli(tmp_emulator, tmp_path, "plan", "m.yaml", "--json")))
    for proc in texts:
        no_key_material(proc.stdout + proc.stderr, first_key, second_key)
