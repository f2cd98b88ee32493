"""Refuse, before any Graph write, the secrets a tenant's credential policy would make Entra refuse.

Entra checks app management policies when ``addPassword`` runs; failing there means a
half-applied run (the application changed, no secret). ``plan``, ``apply`` and ``rotate``
check every pending mint against the limits read with the tenant state
(:mod:`provisioner.model.credential_policy`) and record one line per refused secret in
``Plan.problems`` - the same channel local sink problems use, so ``plan`` exits 1 listing
them and apply/rotate leave that app unchanged while the others carry on.
"""

from __future__ import annotations

from provisioner.engine.planner import Plan
from provisioner.model.credential_policy import duration_text
from provisioner.model.desired import Desired
from provisioner.model.tenant import TenantState

MINT = "mint_secret"


def check_credential_policies(pending: Plan, desired: Desired, state: TenantState) -> None:
    """Add a problem line for each pending mint above its policy's cap or where passwords are blocked."""
    for action in pending.actions:
        if action.kind != MINT:
            continue
        limits = state.credential_limits.get(action.app)
        want = desired.apps.get(action.app)
        if limits is None or want is None:
            continue
        name = action.details.get("name")
        secret = next((s for s in want.secrets if s.name == name), None)
        if secret is None:
            continue
        line: str | None = None
        if limits.passwords_blocked:
            line = (
                f"app {action.app!r}: secret {name!r}: tenant credential policy {limits.label} blocks client "
                "secrets (passwordAddition); use a certificate or a federated credential instead"
            )
        elif limits.password_max is not None and secret.lifetime > limits.password_max:
            allowed = duration_text(limits.password_max)
            line = (
                f"app {action.app!r}: secret {name!r}: expires_in {secret.expires_in} exceeds tenant credential "
                f"policy {limits.label} passwordLifetime maximum {limits.password_max_text}; use expires_in: "
                f"{allowed} (or expires_in: max), or a certificate"
            )
        elif secret.rotate_window >= secret.lifetime:
            line = (
                f"app {action.app!r}: secret {name!r}: expires_in resolves to {secret.expires_in} under tenant "
                f"credential policy {limits.label}, not longer than rotate_before {secret.rotate_before}; "
                "shorten rotate_before"
            )
        if line is not None:
            found = pending.problems.setdefault(action.app, [])
            if line not in found:
                found.append(line)
