"""Certificates (issue 14): the manifest model, the material, connection values, the rotation
decision for file-provided certificates, the tenant key-lifetime policy check and ``validate``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from provisioner.engine.credential_policy import check_credential_policies
from provisioner.engine.planner import Plan
from provisioner.engine.rotation.actions import decide_certificates, decision_actions
from provisioner.engine.rotation.policy import AppFacts
from provisioner.manifest import validate_paths
from provisioner.model.connections import MintedCertificate, connection_values, masked, merge_previous
from provisioner.model.credential_policy import limits_for
from provisioner.model.desired import build_desired
from provisioner.model.manifest import App, Certificate
from provisioner.model.tenant import ExistingSecret, TenantState
from provisioner.model.x509 import (
    CertificateFileError,
    generate,
    load_public,
    normalize_thumbprint,
    x5t,
)
from provisioner.sinks.holdings import AppHoldings, ProvidedCertificate, json_key_ids

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY_POLICY = {
    "id": "pk",
    "displayName": "short certificates",
    "isEnabled": True,
    "restrictions": {"keyCredentials": [{"restrictionType": "asymmetricKeyLifetime", "maxLifetime": "P90D"}]},
}


@pytest.fixture(scope="module")
def material() -> Any:
    return generate("cert-test", 2048, NOW, NOW + timedelta(days=90))


# ------------------------------------------------------------------------------------------- model


def test_certificate_defaults_and_rules() -> None:
    app = App(name="a", display_name="A", certificates=[{"name": "c"}])
    (cert,) = app.certificates or []
    assert cert.lifetime == timedelta(days=365) and not cert.provided
    assert Certificate(name="m", expires_in="max").lifetime == timedelta(days=730)
    assert App(name="a", display_name="A").certificates is None  # left out: existing ones are left alone
    with pytest.raises(ValidationError, match="duplicate certificate name"):
        App(name="a", display_name="A", certificates=[{"name": "c"}, {"name": "c"}])
    with pytest.raises(ValidationError, match="belong to generated certificates"):
        Certificate(name="c", file="c.cer", pfx=True)
    with pytest.raises(ValidationError):
        Certificate(name="c", key_size=1024)


def test_generated_material_keeps_its_key_out_of_repr(material: Any) -> None:
    pem = material.key_and_certificate_pem()
    assert b"PRIVATE KEY" in pem and b"CERTIFICATE" in pem
    assert "PRIVATE" not in repr(material)
    minted = MintedCertificate("c", "k", material.thumbprint, material.not_after, material, pfx_password="pw")
    assert "PRIVATE" not in repr(minted) and "pw" not in repr(minted)
    assert len(material.thumbprint) == 40 and material.not_after - material.not_before == timedelta(days=90)
    # x5t: base64url of the SHA-1 bytes, unpadded, as MSAL and Entra read it
    assert base64.urlsafe_b64decode(x5t(material.thumbprint) + "=").hex().upper() == material.thumbprint
    assert material.pfx("pw", "c")[:1] == b"0"  # DER SEQUENCE


def test_public_files_pem_der_and_refusals(tmp_path: Path, material: Any) -> None:
    (tmp_path / "c.pem").write_bytes(material.certificate_pem())
    (tmp_path / "c.cer").write_bytes(material.der)
    assert load_public(tmp_path / "c.pem").thumbprint == load_public(tmp_path / "c.cer").thumbprint
    assert load_public(tmp_path / "c.cer").private_key_pem is None
    (tmp_path / "k.pem").write_bytes(material.key_and_certificate_pem())
    with pytest.raises(CertificateFileError, match="holds a private key"):
        load_public(tmp_path / "k.pem")
    (tmp_path / "x.cer").write_text("not a certificate")
    with pytest.raises(CertificateFileError, match=r"not an X\.509 certificate"):
        load_public(tmp_path / "x.cer")
    with pytest.raises(CertificateFileError, match="cannot read"):
        load_public(tmp_path / "missing.cer")


def test_thumbprint_as_graph_returns_it(material: Any) -> None:
    raw = bytes.fromhex(material.thumbprint)
    assert normalize_thumbprint(material.thumbprint.lower()) == material.thumbprint
    assert normalize_thumbprint(base64.b64encode(raw).decode()) == material.thumbprint
    assert normalize_thumbprint("not-a-thumbprint") is None and normalize_thumbprint(None) is None


# ------------------------------------------------------------------------------- connection values


def test_connection_values_name_the_key_file_never_the_key(material: Any) -> None:
    app = App(name="a", display_name="A", certificates=[{"name": "c", "pfx": True}])
    cert = MintedCertificate(
        "c",
        "kid-1",
        material.thumbprint,
        material.not_after,
        material,
        pfx_password="pfx-secret-password",
        private_key_path="/s/a.c.key.pem",
        pfx_path="/s/a.c.pfx",
    )
    values = connection_values(app, tenant_id="t", client_id="x", minted=[], certificates=[cert])
    assert values["client_certificate_thumbprint"] == material.thumbprint
    assert values["client_certificate_key_id"] == "kid-1"
    assert values["client_certificate_path"] == "/s/a.c.key.pem"
    assert "PRIVATE" not in str(values)
    shown = str(masked(values))
    assert "pfx-secret-password" not in shown and material.thumbprint in shown
    assert json_key_ids(values) == {"kid-1"}
    # a later run that mints nothing keeps the entry while Entra lists it, drops it once retired
    later = connection_values(app, tenant_id="t", client_id="x", minted=[])
    assert merge_previous(later, values, live_key_ids={"kid-1"})["client_certificate_key_id"] == "kid-1"
    assert "certificates" not in merge_previous(later, values, live_key_ids=set())


# ----------------------------------------------------------------------- decisions (file certificates)


def _cred(key_id: str, thumb: str, start: datetime) -> ExistingSecret:
    return ExistingSecret(key_id, "c", thumb, start, start + timedelta(days=365))


def test_replacing_a_certificate_file_uploads_it_and_retires_the_old_after_overlap() -> None:
    spec = Certificate(name="c", file="c.cer", overlap="7d")
    old = _cred("old", "A" * 40, NOW - timedelta(days=100))
    facts = AppFacts(name="a", managed=True, exists=True, certificates=(old,), delivered=frozenset({"old"}))

    def holdings(thumb: str) -> AppHoldings:
        return AppHoldings(
            "a", (), delivered=frozenset({"old"}), provided={"c": ProvidedCertificate("/c.cer", thumb)}
        )

    (same,) = decide_certificates([spec], facts, holdings("A" * 40), NOW)
    assert same.current == old and not same.mint  # rotation is never due for a file: the user renews it
    (changed,) = decide_certificates([spec], facts, holdings("B" * 40), NOW)
    assert changed.mint and changed.source == "/c.cer"
    (action,) = decision_actions([changed], None)
    assert action.kind == "mint_certificate" and action.details["file"] == "/c.cer"
    new = _cred("new", "B" * 40, NOW)
    facts = AppFacts(
        name="a", managed=True, exists=True, certificates=(old, new), delivered=frozenset({"old"})
    )
    (inside,) = decide_certificates([spec], facts, holdings("B" * 40), NOW + timedelta(days=3))
    assert inside.current == new and not inside.removals and inside.waiting
    (after,) = decide_certificates([spec], facts, holdings("B" * 40), NOW + timedelta(days=8))
    assert [(r.secret.key_id, r.kind) for r in after.removals] == [("old", "retire")]
    assert [a.kind for a in decision_actions([after], _app())] == ["retire_certificate"]


def _app() -> Any:
    from provisioner.model.tenant import ExistingApp

    return ExistingApp(object_id="o", app_id="x", unique_name="a", display_name="A")


# ------------------------------------------------------------------------- tenant key-lifetime policy


def _state(app: App) -> TenantState:
    limits = limits_for([KEY_POLICY], None, NOW)
    return TenantState(
        tenant_id="t", resources={}, apps={app.name: None}, credential_limits={app.name: limits}
    )


def test_policy_refuses_a_longer_certificate_before_any_write() -> None:
    app = App(name="a", display_name="A", certificates=[{"name": "c", "expires_in": "180d"}])
    state = _state(app)
    desired = build_desired([app], state)
    (decision,) = decide_certificates(
        desired.apps["a"].certificates or (), AppFacts("a", False, False), None, NOW
    )
    plan = Plan(tenant_id="t", actions=decision_actions([decision], None))
    check_credential_policies(plan, desired, state)
    (line,) = plan.problems["a"]
    assert "certificate 'c'" in line and "asymmetricKeyLifetime maximum P90D" in line
    assert "expires_in: 90d" in line and "short certificates" in line


def test_expires_in_max_takes_the_policy_cap() -> None:
    app = App(
        name="a", display_name="A", certificates=[{"name": "c", "expires_in": "max", "rotate_before": "10d"}]
    )
    state = _state(app)
    desired = build_desired([app], state)
    (cert,) = desired.apps["a"].certificates or ()
    assert cert.expires_in == "90d"
    (decision,) = decide_certificates([cert], AppFacts("a", False, False), None, NOW)
    plan = Plan(tenant_id="t", actions=decision_actions([decision], None))
    check_credential_policies(plan, desired, state)
    assert plan.problems == {}


# -------------------------------------------------------------------------------------- validate


def test_validate_locates_certificate_problems(tmp_path: Path, material: Any) -> None:
    (tmp_path / "key.pem").write_bytes(material.key_and_certificate_pem())
    apps = [
        {
            "name": "a",
            "display_name": "A",
            "certificates": [
                {"name": "gone", "file": "missing.cer"},
                {"name": "keyed", "file": str(tmp_path / "key.pem")},
                {"name": "short", "expires_in": "20d", "rotate_before": "30d"},
                {"name": "long", "expires_in": "3y"},
            ],
        }
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": apps}, sort_keys=False))
    result = validate_paths([str(path)], base_dir=tmp_path)
    found = [(e.location.line if e.location else None, e.message) for e in result.errors]
    text = "\n".join(str(e) for e in result.errors)
    assert "m.yaml:7:" in text and "cannot read certificate file" in text
    assert "holds a private key" in text
    assert "rotate_before 30d must be shorter than expires_in 20d" in text
    assert "above 2 years" in text
    assert len(found) == 4
    assert "PRIVATE" not in text
