"""An application's credentials: client secrets (passwordCredentials) and certificates (keyCredentials).

The rules shared with service principals live in :mod:`provisioner.emulator.graph.credentials`
(re-exported here); what is particular to applications is that PATCH may only drop secrets.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import credentials as shared
from provisioner.emulator.graph.applications.management_policies import enforce_password
from provisioner.emulator.graph.applications.schema import KIND, RESOURCE
from provisioner.emulator.graph.credentials import (
    SECRET_LIFETIME_YEARS,
    hide_key_material,
    new_password,
    new_secret_value,
    parse_key_credentials,
    secret_hash,
)
from provisioner.emulator.graph.errors import bad_request, invalid_value
from provisioner.emulator.graph.ids import is_guid


def add_password(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    cred: dict[str, Any],
    *,
    kind: str = KIND,
    resource: str = RESOURCE,
    sp: bool = False,
) -> dict[str, Any]:
    """``addPassword``: the only response that ever carries ``secretText``; app management policies apply.

    The secret is added to ``app`` and judged against the tenant's policies before anything is
    stored, so a refused request leaves no trace.
    """
    entry, value = new_password(ctx, app, cred, resource=resource)
    try:
        enforce_password(
            ctx, tenant, app, parse_iso(entry["startDateTime"]), parse_iso(entry["endDateTime"]), sp=sp
        )
    except Exception:
        app["passwordCredentials"].remove(entry)
        app.get("_secretHashes", {}).pop(entry["keyId"], None)
        raise
    ctx.store.put(tenant, kind, app)
    return {**entry, "secretText": value}


def remove_password(
    ctx: EmulatorContext, tenant: str, app: dict[str, Any], key_id: Any, *, kind: str = KIND
) -> None:
    shared.remove_password(ctx, tenant, app, key_id, kind=kind)


__all__ = [
    "SECRET_LIFETIME_YEARS",
    "add_password",
    "hide_key_material",
    "new_password",
    "new_secret_value",
    "parse_key_credentials",
    "remove_password",
    "replace_passwords",
    "secret_hash",
]


def replace_passwords(app: dict[str, Any], creds: Any) -> None:
    """PATCH may only drop existing secrets (new ones need addPassword, which returns the value)."""
    if not isinstance(creds, list):
        raise invalid_value("passwordCredentials", RESOURCE)
    existing = {c["keyId"].lower(): c for c in app["passwordCredentials"]}
    kept = []
    for cred in creds:
        key_id = cred.get("keyId") if isinstance(cred, dict) else None
        if not is_guid(key_id) or key_id.lower() not in existing:
            raise bad_request("New password credentials must be generated using service actions.")
        kept.append(existing[key_id.lower()])
    app["passwordCredentials"] = kept
    keep_ids = {c["keyId"] for c in kept}
    app["_secretHashes"] = {k: v for k, v in app.get("_secretHashes", {}).items() if k in keep_ids}
