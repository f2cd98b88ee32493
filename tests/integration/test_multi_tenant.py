"""Fan-out: one apply over two tenants of one emulator, each with its own credential; one fails, one converges."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import connection_file
from direct_graph import cli_env, ok, run_cli

pytestmark = pytest.mark.slow

MANIFEST = """\
apps:
  - name: fanout-app
    display_name: Fan-out app
    permissions:
      Microsoft Graph:
        delegated: [User.Read]
    admin_consent: true
    secrets:
      - name: default
    sinks:
      - type: json
        path: out/fanout.json
"""


def second_tenant(emulator: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{emulator.base_url}/_emulator/tenants",
        json={"tenant_id": str(uuid.uuid4())},  # without an id the emulator returns its first tenant
        headers=emulator.admin_headers(),
        verify=str(emulator.ca_cert_path),
        timeout=30,
    )
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def test_two_tenants_one_fails_the_other_converges(tmp_emulator: Any, tmp_path: Path) -> None:
    first = tmp_emulator.tenant
    second = second_tenant(tmp_emulator)
    assert second["tenant_id"] != first.tenant_id
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "app.yaml").write_text(MANIFEST)
    (tmp_path / "manifests" / "tenants.yml.txt").write_text("")  # a neighbour that is not a manifest
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - name: north\n"
        f"    tenant_id: {first.tenant_id}\n"
        "    emulator: true\n"
        f"    client_id: {first.admin_client_id}\n"
        "    client_secret_env: NORTH_SECRET\n"
        "  - name: south\n"
        f"    tenant_id: {second['tenant_id']}\n"
        "    emulator: true\n"
        f"    client_id: {second['admin_client_id']}\n"
        "    client_secret_env: SOUTH_SECRET\n"
    )
    # Only the emulator endpoint comes from the environment; credentials come from the tenants file.
    env = cli_env(tmp_emulator, first)
    for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        env.pop(key)
    env["NORTH_SECRET"] = first.admin_client_secret
    env["SOUTH_SECRET"] = "not-the-secret"

    failed = run_cli(
        "apply", "manifests", "--tenants", str(tenants), "--yes", "--json", cwd=tmp_path, env=env
    )
    assert failed.returncode == 1, failed.stderr
    result = json.loads(failed.stdout)
    assert result["failed"] == ["south"]
    north, south = result["tenants"]["north"], result["tenants"]["south"]
    assert north["ok"] and north["tenant_id"] == first.tenant_id
    assert [a["app"] for a in north["apps"]] == ["fanout-app"]
    assert not south["ok"] and "AADSTS7000215" in south["error"]
    assert "not-the-secret" not in failed.stdout + failed.stderr
    assert "1 tenant(s) failed: south" in failed.stderr
    assert "sink(s) are skipped with --tenants" in failed.stderr
    state_dir = tmp_path / ".provisioner"
    values = json.loads(connection_file(state_dir, "fanout-app", first.tenant_id).read_text())
    assert values["tenant_id"] == first.tenant_id and values["client_secret"]
    assert not list(state_dir.glob(f"tenants/*/{second['tenant_id'].lower()}/connections/*.json"))
    assert not (tmp_path / "out").exists(), "declared sinks are skipped when fanning out"

    # Fixed credential: north has nothing left to do, south has everything; text output has a section each.
    env["SOUTH_SECRET"] = second["admin_client_secret"]
    planned = run_cli(
        "plan", "manifests", "--tenants", str(tenants), "--detailed-exitcode", cwd=tmp_path, env=env
    )
    assert planned.returncode == 2, planned.stdout + planned.stderr
    north_part, south_part = planned.stdout.split("tenant south", 1)
    assert "tenant north" in north_part and "No changes" in north_part
    assert "create application fanout-app" in south_part


def test_embedded_emulator_hosts_every_tenant(tmp_path: Path) -> None:
    """``--emulator --tenants``: one embedded emulator, each entry its own (bootstrap-admin) tenant."""
    (tmp_path / "app.yaml").write_text(MANIFEST)
    (tmp_path / "tenants.yaml").write_text(
        "- name: one\n  tenant_id: 11111111-1111-1111-1111-111111111111\n"
        "- name: two\n  tenant_id: 22222222-2222-2222-2222-222222222222\n"
    )
    env = cli_env_without_emulator()
    applied = ok(
        run_cli(
            "apply", "app.yaml", "--tenants", "tenants.yaml", "--emulator", "--yes", cwd=tmp_path, env=env
        )
    )
    assert "✓ one" in applied.stdout and "✓ two" in applied.stdout
    for tid in ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"):
        values = json.loads(connection_file(tmp_path / ".provisioner", "fanout-app", tid).read_text())
        assert values["tenant_id"] == tid


def cli_env_without_emulator() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PROVISIONER_", "GITHUB_"))}


def test_certificate_entry_signs_in(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenants-file entry with ``certificate:`` gets a certificate credential (client assertion)."""
    import asyncio
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from direct_graph import DirectGraph

    from provisioner.emulator.seed import ensure_tenant
    from provisioner.engine.tenants import entry_target, load_tenants
    from provisioner.graph.connect import graph_client
    from provisioner.graph.inventory import applications

    tenant = ensure_tenant(emulator.ctx, str(uuid.uuid4()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provisioner fan-out")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "admin.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    graph = DirectGraph(emulator, tenant)
    (admin,) = graph.ok("GET", f"/applications?$filter=appId eq '{tenant.admin_client_id}'")["value"]
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    graph.ok(
        "PATCH",
        f"/applications/{admin['id']}",
        {"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": der}]},
    )
    (tmp_path / "tenants.yaml").write_text(
        f"- name: certified\n  tenant_id: {tenant.tenant_id}\n  emulator: true\n"
        f"  client_id: {tenant.admin_client_id}\n  certificate: certs/admin.pem\n"
    )
    monkeypatch.setenv("PROVISIONER_GRAPH_URL", emulator.graph_url)
    monkeypatch.setenv("PROVISIONER_CA_CERT", str(emulator.ca_cert_path))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority)
    (entry,) = load_tenants(tmp_path / "tenants.yaml").entries
    target = entry_target(entry, tenants_dir=tmp_path, cloud="public", running=None)
    assert target.client_secret is None and target.certificate_path

    async def list_apps() -> list[Any]:
        async with graph_client(target) as client:
            return await applications(client)

    assert [a.app_id for a in asyncio.run(list_apps())] == [tenant.admin_client_id]
