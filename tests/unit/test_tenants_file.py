"""The --tenants file: validated offline, every problem at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.core.errors import CredentialError, ManifestErrors, ProvisionerError
from provisioner.engine.tenants import entry_target, load_tenants


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def test_list_or_mapping_form(tmp_path: Path) -> None:
    listed = load_tenants(write(tmp_path, "- name: a\n  tenant_id: contoso.onmicrosoft.com\n"))
    mapped = load_tenants(write(tmp_path, "tenants:\n  - name: a\n    tenant_id: contoso.onmicrosoft.com\n"))
    assert listed.entries == mapped.entries
    assert listed.entries[0].cloud is None and not listed.entries[0].emulator


def test_errors_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tenants:\n"
        "  - name: Bad Name\n"
        "    tenant_id: t1\n"
        "  - name: b\n"
        "    tenant_id: t2\n"
        "    client_secret_env: B_SECRET\n"
        "  - name: c\n"
        "    tenant_id: t3\n"
        "    cloud: mars\n"
        "  - name: c\n"
        "    tenant_id: t4\n",
    )
    with pytest.raises(ManifestErrors) as info:
        load_tenants(path)
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"{path}:2:") and "tenants[0].name" in line for line in lines), lines
    assert any(f"{path}:4:" in line and "need client_id" in line for line in lines), lines
    assert any(f"{path}:9:" in line and "tenants[2].cloud" in line for line in lines), lines
    assert any(f"{path}:10:" in line and "duplicate tenant name 'c'" in line for line in lines), lines


def test_empty_or_malformed(tmp_path: Path) -> None:
    with pytest.raises(ProvisionerError, match="non-empty list"):
        load_tenants(write(tmp_path, "tenants: []\n"))
    with pytest.raises(ProvisionerError, match="invalid YAML"):
        load_tenants(write(tmp_path, "- name: [\n"))


def test_secret_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = load_tenants(
        write(
            tmp_path,
            "- name: gov\n  tenant_id: t1\n  cloud: usgov\n  client_id: c1\n  client_secret_env: GOV_SECRET\n"
            "- name: cert\n  tenant_id: t2\n  client_id: c2\n  certificate: certs/c2.pem\n",
        )
    )
    gov, cert = tenants.entries
    monkeypatch.delenv("GOV_SECRET", raising=False)
    with pytest.raises(CredentialError, match="GOV_SECRET"):
        entry_target(gov, tenants_dir=tmp_path, cloud="public", running=None)
    monkeypatch.setenv("GOV_SECRET", "s3cret-value")
    target = entry_target(gov, tenants_dir=tmp_path, cloud="public", running=None)
    assert target.graph_url == "https://graph.microsoft.us/v1.0" and target.client_secret == "s3cret-value"
    assert "s3cret-value" not in repr(target)
    target = entry_target(cert, tenants_dir=tmp_path, cloud="public", running=None)
    assert target.certificate_path == str(tmp_path / "certs" / "c2.pem") and target.client_secret is None
