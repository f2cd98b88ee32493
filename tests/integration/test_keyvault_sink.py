"""The ``keyvault`` sink end to end: the real CLI (subprocess) and the real ``azure-keyvault-secrets``
SDK against the emulator's vault, with the environment ``provisioner emulator serve`` prints.

The vault URL is the emulator's own URL (a loopback vault: the sink turns challenge-resource
verification off and trusts ``PROVISIONER_CA_CERT``). The test reads the vault back with the SDK
as a consumer would. Rotation tests move the emulator clock, so each test has a private emulator.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from cli_support import base_env, ok, run_cli

from provisioner.emulator import RunningEmulator

DAY = 86400
APP = "vault-daemon"
VAULT_SECRET = "vault-daemon-client-secret"  # the sink's default name: "<app>-client-secret"

MANIFEST = """\
version: 1
apps:
  - name: vault-daemon
    display_name: Vault daemon
    audience: single-tenant
    secrets:
      - name: daemon secret
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
    sinks:
      - type: keyvault
        vault_url: {vault_url}
"""


def write_manifest(workdir: Path, vault_url: str) -> None:
    (workdir / "manifests").mkdir(exist_ok=True)
    (workdir / "manifests" / "vault.yaml").write_text(MANIFEST.format(vault_url=vault_url))


def cli(running: RunningEmulator, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=workdir, env={**base_env(), **running.env()}, timeout=180)


def rotate(running: RunningEmulator, workdir: Path) -> subprocess.CompletedProcess[str]:
    return cli(running, workdir, "rotate", "manifests", "--yes", "--json", "--detailed-exitcode")


def consumer(running: RunningEmulator) -> SecretClient:
    """The vault as an application reading its secret sees it (its own, fresh credential)."""
    tenant = running.tenant
    credential = ClientSecretCredential(
        tenant.tenant_id,
        tenant.admin_client_id,
        tenant.admin_client_secret,
        authority=running.authority,
        disable_instance_discovery=True,
        connection_verify=str(running.ca_cert_path),
    )
    return SecretClient(
        running.base_url,
        credential,
        verify_challenge_resource=False,
        connection_verify=str(running.ca_cert_path),
    )


def connection(workdir: Path) -> dict[str, Any]:
    """The default connection file (the tool's own copy of the values), wherever the state layout puts it."""
    (path,) = workdir.glob(f".provisioner/**/connections/{APP}.json")
    return dict(json.loads(path.read_text()))


def entra_key_ids(running: RunningEmulator) -> list[str]:
    """keyIds of the app's client secrets, read from the emulator's directory."""
    (app,) = running.ctx.store.find(running.tenant.tenant_id, "applications", displayName="Vault daemon")
    return sorted(c["keyId"] for c in app["passwordCredentials"])


@pytest.fixture()
def workdir(tmp_path: Path, tmp_emulator: RunningEmulator) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    write_manifest(work, tmp_emulator.base_url)
    return work


@pytest.mark.slow
def test_apply_delivers_the_secret_with_provenance_and_status_reads_it_back(
    tmp_emulator: RunningEmulator, workdir: Path
) -> None:
    applied = ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    values = connection(workdir)
    assert values["client_secret"] not in applied.stdout + applied.stderr
    secret = consumer(tmp_emulator).get_secret(VAULT_SECRET)
    assert secret.value == values["client_secret"]
    assert secret.properties.content_type == "application/vnd.provisioner.client-secret"
    assert secret.properties.tags == {
        "keyId": values["client_secret_id"],
        "expires": values["client_secret_expires"],
        "app": APP,
        "clientId": values["client_id"],
        "tenantId": tmp_emulator.tenant.tenant_id,
    }
    assert secret.properties.expires_on is not None
    assert secret.properties.expires_on.strftime("%Y-%m-%dT%H:%M:%SZ") == values["client_secret_expires"]

    # held_key_id reads the vault: status names it as a holder of the current secret.
    health = json.loads(ok(cli(tmp_emulator, workdir, "status", "manifests", "--json")).stdout)
    (row,) = health["apps"][0]["secrets"]
    assert row["key_id"] == values["client_secret_id"] and row["state"] == "current"
    assert any(holder.startswith(f"Key Vault {tmp_emulator.base_url}/secrets/") for holder in row["held_by"])
    # A second apply mints nothing: the vault's current version still holds the same secret.
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    again = consumer(tmp_emulator).get_secret(VAULT_SECRET)
    assert again.value == values["client_secret"] and again.properties.tags == secret.properties.tags
    # ... and adds no vault version: the current one already is this delivery.
    versions = list(consumer(tmp_emulator).list_properties_of_secret_versions(VAULT_SECRET))
    assert len(versions) == 1 and again.properties.version == secret.properties.version


@pytest.mark.slow
def test_rotation_keeps_the_old_secret_while_the_vault_holds_it(
    tmp_emulator: RunningEmulator, workdir: Path
) -> None:
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    old = connection(workdir)
    old_version = consumer(tmp_emulator).get_secret(VAULT_SECRET).properties.version

    tmp_emulator.ctx.clock.advance(61 * DAY)  # inside rotate_before: a new secret goes to the vault
    rotated = json.loads(ok(rotate(tmp_emulator, workdir), 3).stdout)
    new_id = rotated["secrets"][0]["current"]["key_id"]
    assert new_id != old["client_secret_id"]
    vault = consumer(tmp_emulator)
    current = vault.get_secret(VAULT_SECRET)
    assert current.properties.tags is not None and current.properties.tags["keyId"] == new_id
    assert current.value == connection(workdir)["client_secret"] != old["client_secret"]
    versions = [p.version for p in vault.list_properties_of_secret_versions(VAULT_SECRET)]
    assert versions[0] == old_version and len(versions) == 2  # the old version stays in the vault

    # A consumer puts the old secret back as the vault's current version; past the overlap the
    # tool must not retire a secret the vault still hands out.
    vault.set_secret(VAULT_SECRET, old["client_secret"], tags={"keyId": old["client_secret_id"]})
    tmp_emulator.ctx.clock.advance(8 * DAY)
    kept = json.loads(ok(rotate(tmp_emulator, workdir)).stdout)
    assert kept["status"] == "unchanged" and kept["secrets"][0]["removed"] == []
    assert entra_key_ids(tmp_emulator) == sorted([old["client_secret_id"], new_id])

    # Once the vault holds the new secret again, the old one is retired. (A new client: the first
    # one's token has expired on the moved emulator clock.)
    consumer(tmp_emulator).set_secret(
        VAULT_SECRET, connection(workdir)["client_secret"], tags={"keyId": new_id}
    )
    retired = json.loads(ok(rotate(tmp_emulator, workdir), 3).stdout)
    assert [r["key_id"] for r in retired["secrets"][0]["removed"]] == [old["client_secret_id"]]
    assert entra_key_ids(tmp_emulator) == [new_id]


@pytest.mark.slow
def test_a_vault_refusing_the_write_fails_the_rotation_and_keeps_the_old_secret(
    tmp_emulator: RunningEmulator, workdir: Path
) -> None:
    ok(cli(tmp_emulator, workdir, "apply", "manifests", "--yes"))
    old = connection(workdir)
    # Someone soft-deleted the vault secret: its name cannot be reused until recovered (409).
    consumer(tmp_emulator).begin_delete_secret(VAULT_SECRET).result()
    tmp_emulator.ctx.clock.advance(61 * DAY)
    failed = rotate(tmp_emulator, workdir)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "deleted but recoverable state" in failed.stderr and "Traceback" not in failed.stderr
    assert old["client_secret"] not in failed.stdout + failed.stderr
    assert entra_key_ids(tmp_emulator) == [old["client_secret_id"]]  # the new mint was taken back

    # Recovered, the vault takes the next rotation.
    consumer(tmp_emulator).begin_recover_deleted_secret(VAULT_SECRET).result()
    done = json.loads(ok(rotate(tmp_emulator, workdir), 3).stdout)
    new_id = done["secrets"][0]["current"]["key_id"]
    tags = consumer(tmp_emulator).get_secret(VAULT_SECRET).properties.tags or {}
    assert tags["keyId"] == new_id and tags["app"] == APP
    assert sorted(entra_key_ids(tmp_emulator)) == sorted([old["client_secret_id"], new_id])


CERT_APP = "vault-cert-daemon"
CERT_SECRET = "vault-cert-daemon-client-secret-certificate"  # default: "<secret name>-certificate"
CERT_MANIFEST = """\
version: 1
apps:
  - name: vault-cert-daemon
    display_name: Vault certificate daemon
    certificates:
      - name: daemon cert
        expires_in: 90d
        rotate_before: 30d
        overlap: 7d
    sinks:
      - type: keyvault
        vault_url: {vault_url}
"""


def entra_certificates(running: RunningEmulator) -> dict[str, str]:
    """keyId -> customKeyIdentifier (the thumbprint) of the app's key credentials, from the emulator."""
    (app,) = running.ctx.store.find(
        running.tenant.tenant_id, "applications", displayName="Vault certificate daemon"
    )
    return {c["keyId"]: c["customKeyIdentifier"] for c in app["keyCredentials"]}


def pem_thumbprint(pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    serialization.load_pem_private_key(pem.encode(), password=None)  # the key is there too
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA1()).hex().upper()


@pytest.mark.slow
def test_a_generated_certificate_goes_to_the_vault_and_rotation_counts_the_vault_as_its_holder(
    tmp_emulator: RunningEmulator, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text(CERT_MANIFEST.format(vault_url=tmp_emulator.base_url))
    outputs = [ok(cli(tmp_emulator, tmp_path, "plan", "m.yaml"))]
    assert f"/secrets/{CERT_SECRET}" in outputs[0].stdout  # plan names the certificate's vault secret
    outputs.append(ok(cli(tmp_emulator, tmp_path, "apply", "m.yaml", "--yes", "--json")))
    (path,) = tmp_path.glob(f".provisioner/**/connections/{CERT_APP}.json")
    values = json.loads(path.read_text())
    first_kid, first_thumb = values["client_certificate_key_id"], values["client_certificate_thumbprint"]

    vault = consumer(tmp_emulator)
    stored = vault.get_secret(CERT_SECRET)
    assert stored.value is not None and "PRIVATE KEY" in stored.value
    assert stored.value == Path(values["client_certificate_path"]).read_text()
    assert pem_thumbprint(stored.value) == entra_certificates(tmp_emulator)[first_kid] == first_thumb
    assert stored.properties.content_type == "application/x-pem-file"
    assert stored.properties.tags == {
        "keyId": first_kid,
        "thumbprint": first_thumb,
        "expires": values["client_certificate_expires"],
        "app": CERT_APP,
        "clientId": values["client_id"],
        "tenantId": tmp_emulator.tenant.tenant_id,
    }
    assert stored.properties.expires_on is not None
    assert stored.properties.expires_on.strftime("%Y-%m-%dT%H:%M:%SZ") == values["client_certificate_expires"]
    # A re-run apply adds no vault version; the app has no client secret, so none is written.
    outputs.append(ok(cli(tmp_emulator, tmp_path, "apply", "m.yaml", "--yes")))
    assert [p.version for p in vault.list_properties_of_secret_versions(CERT_SECRET)] == [
        stored.properties.version
    ]
    assert [p.name for p in vault.list_properties_of_secrets()] == [CERT_SECRET]

    # Inside rotate_before: the new certificate goes to the vault.
    tmp_emulator.ctx.clock.advance(61 * DAY)
    outputs.append(ok(rotate_file(tmp_emulator, tmp_path), 3))
    values = json.loads(path.read_text())
    second_kid = values["client_certificate_key_id"]
    assert second_kid != first_kid
    vault = consumer(tmp_emulator)
    current = vault.get_secret(CERT_SECRET)
    assert current.properties.tags is not None and current.properties.tags["keyId"] == second_kid
    assert (
        current.value is not None and pem_thumbprint(current.value) == values["client_certificate_thumbprint"]
    )

    # The vault hands the old certificate out again: past the overlap it is not retired ...
    assert stored.value is not None
    vault.set_secret(CERT_SECRET, stored.value, tags={"keyId": first_kid})
    tmp_emulator.ctx.clock.advance(8 * DAY)
    kept = ok(rotate_file(tmp_emulator, tmp_path))
    outputs.append(kept)
    assert sorted(entra_certificates(tmp_emulator)) == sorted([first_kid, second_kid])
    # ... and once the vault holds the new one, it is.
    consumer(tmp_emulator).set_secret(CERT_SECRET, current.value, tags={"keyId": second_kid})
    outputs.append(ok(rotate_file(tmp_emulator, tmp_path), 3))
    assert list(entra_certificates(tmp_emulator)) == [second_kid]
    status = ok(cli(tmp_emulator, tmp_path, "status", "m.yaml", "--json"))
    (row,) = json.loads(status.stdout)["apps"][0]["secrets"]
    assert row["kind"] == "certificate" and row["key_id"] == second_kid
    assert f"Key Vault {tmp_emulator.base_url}/secrets/{CERT_SECRET}" in row["held_by"]
    outputs.append(status)
    for proc in outputs:
        assert "PRIVATE KEY" not in proc.stdout + proc.stderr


def rotate_file(running: RunningEmulator, workdir: Path) -> subprocess.CompletedProcess[str]:
    return cli(running, workdir, "rotate", "m.yaml", "--yes", "--json", "--detailed-exitcode")
