"""Refuse, before any Graph write, the secrets a tenant's credential policy would make Entra refuse.

Entra checks app management policies when ``addPassword`` runs; failing there means a
half-applied run (the application changed, no secret). ``plan``, ``apply`` and ``rotate``
check every pending mint against the limits read with the tenant state
(:mod:`provisioner.model.credential_policy`) and record one line per refused secret in
``Plan.problems`` - the same channel local sink problems use, so ``plan`` exits 1 listing
them and apply/rotate leave that app unchanged while the others carry on.
"""

from __future__ import annotations

from datetime import timedelta

from provisioner.engine.planner import Action, Plan
from provisioner.model.credential_policy import duration_text
from provisioner.model.desired import Desired
from provisioner.model.manifest import Certificate
from provisioner.model.tenant import TenantState

MINT = "mint_secret"
MINT_CERT = "mint_certificate"
MINT_SP = "mint_sp_secret"


def check_credential_policies(pending: Plan, desired: Desired, state: TenantState) -> None:
    """Add a problem line for each pending mint above its policy's cap or where passwords are blocked."""
    for action in pending.actions:
        if action.kind == MINT_CERT:
            _check_certificate(pending, action, desired, state)
            continue
        if action.kind not in (MINT, MINT_SP):
            continue
        on_sp = action.kind == MINT_SP
        limits = (state.sp_credential_limits if on_sp else state.credential_limits).get(action.app)
        want = desired.apps.get(action.app)
        if limits is None or want is None:
            continue
        name = action.details.get("name")
        secret = next((s for s in (want.sp_secrets if on_sp else want.secrets) if s.name == name), None)
        if secret is None:
            continue
        what = f"service principal secret {name!r}" if on_sp else f"secret {name!r}"
        line: str | None = None
        if limits.passwords_blocked:
            line = (
                f"app {action.app!r}: {what}: tenant credential policy {limits.label} blocks client "
                "secrets (passwordAddition); use a certificate or a federated credential instead"
            )
        elif limits.password_max is not None and secret.lifetime > limits.password_max:
            allowed = duration_text(limits.password_max)
            line = (
                f"app {action.app!r}: {what}: expires_in {secret.expires_in} exceeds tenant credential "
                f"policy {limits.label} passwordLifetime maximum {limits.password_max_text}; use expires_in: "
                f"{allowed} (or expires_in: max), or a certificate"
            )
        elif secret.rotate_window >= secret.lifetime:
            line = (
                f"app {action.app!r}: {what}: expires_in resolves to {secret.expires_in} under tenant "
                f"credential policy {limits.label}, not longer than rotate_before {secret.rotate_before}; "
                "shorten rotate_before"
            )
        if line is not None:
            found = pending.problems.setdefault(action.app, [])
            if line not in found:
                found.append(line)


def certificate_lifetime(cert: Certificate, file: str | None) -> tuple[timedelta, str]:
    """(validity, how to say it) of the certificate a mint would add: the file's, or ``expires_in``."""
    if file:
        from pathlib import Path

        from provisioner.model.x509 import CertificateFileError, load_public

        try:
            material = load_public(Path(file))
        except CertificateFileError:
            return timedelta(0), "unreadable"  # the mint reports the file; nothing to judge here
        life = material.not_after - material.not_before
        return life, f"the certificate file's validity ({duration_text(life)})"
    return cert.lifetime, f"expires_in {cert.expires_in}"


def _check_certificate(pending: Plan, action: Action, desired: Desired, state: TenantState) -> None:
    """One line when the certificate would outlive the policy's asymmetricKeyLifetime (Entra refuses it)."""
    limits = state.credential_limits.get(action.app)
    want = desired.apps.get(action.app)
    if limits is None or limits.key_max is None or want is None:
        return
    name = action.details.get("name")
    cert = next((c for c in want.certificates or () if c.name == name), None)
    if cert is None:
        return
    life, said = certificate_lifetime(cert, action.details.get("file"))
    if life <= limits.key_max:
        return
    allowed = duration_text(limits.key_max)
    fix = (
        f"use a certificate valid at most {allowed}"
        if action.details.get("file")
        else f"use expires_in: {allowed} (or expires_in: max)"
    )
    line = (
        f"app {action.app!r}: certificate {name!r}: {said} exceeds tenant credential policy {limits.label} "
        f"asymmetricKeyLifetime maximum {limits.key_max_text}; {fix}"
    )
    found = pending.problems.setdefault(action.app, [])
    if line not in found:
        found.append(line)
