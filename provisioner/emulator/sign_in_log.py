"""Sign-in records (shared by identity, which writes them, and Graph, which serves them).

Entra's beta ``signIn`` resource carries ``servicePrincipalCredentialKeyId`` (the keyId of the
secret or certificate the client presented), ``ipAddress`` and ``createdDateTime``; rotation reads
them to tell whether an old secret is still in use. App-only tokens are ``servicePrincipal``
sign-ins; a confidential client redeeming a code or refresh token is a ``nonInteractiveUser``
sign-in that still names the client credential it used.

Per-tenant settings (admin route ``/_emulator/audit_logs``): ``premium`` (Entra ID P1/P2; without it
Graph refuses sign-in logs) and ``reporting_delay_seconds`` (how long a sign-in takes to show).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext

KIND = "signIns"
SETTINGS_KIND = "_auditLogSettings"
SETTINGS_ID = "settings"
TYPE_NAME = "microsoft.graph.signIn"
#: Entra keeps sign-in logs 30 days with P1/P2; older rows are not listed.
RETENTION = timedelta(days=30)
#: Rows kept per tenant (the oldest go first): a long test run must not grow the state without bound.
MAX_ROWS = 2000

#: Properties of the beta signIn resource this emulator fills; others are null.
PROPERTIES = (
    "id",
    "createdDateTime",
    "appDisplayName",
    "appId",
    "ipAddress",
    "clientAppUsed",
    "clientCredentialType",
    "correlationId",
    "isInteractive",
    "resourceDisplayName",
    "resourceId",
    "servicePrincipalCredentialKeyId",
    "servicePrincipalCredentialThumbprint",
    "servicePrincipalId",
    "servicePrincipalName",
    "signInEventTypes",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "status",
)


def settings(ctx: EmulatorContext, tenant: str) -> dict[str, Any]:
    stored = ctx.store.get(tenant, SETTINGS_KIND, SETTINGS_ID) or {}
    return {
        "premium": bool(stored.get("premium", True)),
        "reporting_delay_seconds": float(stored.get("reporting_delay_seconds", 0)),
    }


def configure(
    ctx: EmulatorContext, tenant: str, *, premium: bool | None = None, delay_seconds: float | None = None
) -> dict[str, Any]:
    current = settings(ctx, tenant)
    if premium is not None:
        current["premium"] = premium
    if delay_seconds is not None:
        current["reporting_delay_seconds"] = delay_seconds
    with ctx.store.transaction():
        ctx.store.put(tenant, SETTINGS_KIND, {"id": SETTINGS_ID, **current}, SETTINGS_ID)
    return current


def record(
    ctx: EmulatorContext,
    tenant: str,
    *,
    app: dict[str, Any],
    service_principal: dict[str, Any] | None,
    method: str,
    key_id: str | None,
    thumbprint: str | None,
    ip_address: str,
    resource: str | None,
    user: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Store one successful sign-in (Entra keeps failed ones too; nothing here reads those)."""
    entry: dict[str, Any] = {name: None for name in PROPERTIES}
    entry.update(
        {
            "id": str(uuid.uuid4()),
            "createdDateTime": iso(ctx.clock.now()),
            "appDisplayName": app.get("displayName"),
            "appId": app.get("appId"),
            "ipAddress": ip_address,
            "clientAppUsed": None,
            "clientCredentialType": "certificate" if method == "certificate" else "clientSecret",
            "correlationId": correlation_id or str(uuid.uuid4()),
            "isInteractive": False,
            "resourceDisplayName": resource,
            "resourceId": None,
            "servicePrincipalCredentialKeyId": key_id,
            "servicePrincipalCredentialThumbprint": thumbprint,
            "servicePrincipalId": (service_principal or {}).get("id"),
            "servicePrincipalName": app.get("displayName"),
            "signInEventTypes": ["nonInteractiveUser"] if user else ["servicePrincipal"],
            "userId": (user or {}).get("id"),
            "userPrincipalName": (user or {}).get("userPrincipalName"),
            "userDisplayName": (user or {}).get("displayName"),
            "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
        }
    )
    with ctx.store.transaction():
        ctx.store.put(tenant, KIND, entry, entry["id"])
        rows = ctx.store.views(tenant, KIND)  # insertion order: oldest first
        for old in rows[: max(0, len(rows) - MAX_ROWS)]:
            ctx.store.delete(tenant, KIND, str(old["id"]))
    return entry


def visible(ctx: EmulatorContext, tenant: str, now: datetime) -> list[dict[str, Any]]:
    """Sign-ins old enough to have reached the logs, newest first (Graph's default order)."""
    delay = timedelta(seconds=settings(ctx, tenant)["reporting_delay_seconds"])
    cutoff, oldest = iso(now - delay), iso(now - RETENTION)
    rows = [
        row for row in ctx.store.views(tenant, KIND) if oldest <= str(row.get("createdDateTime")) <= cutoff
    ]
    return sorted(rows, key=lambda row: str(row.get("createdDateTime")), reverse=True)
