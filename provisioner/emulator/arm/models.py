"""Azure Resource Manager shapes: the management resource's service principal, tenants, errors.

Shapes follow the ARM REST reference ("Tenants - List", "Subscriptions - List",
api-version 2022-12-01) and ARM's common error envelope
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.store import GLOBAL

# "Windows Azure Service Management API": the resource ARM tokens are issued for. Its appId is
# public (the resourceId of ARM sign-ins in the signIn examples of Microsoft Graph's reference docs).
ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
ARM_DISPLAY_NAME = "Windows Azure Service Management API"
# The audiences ARM accepts (what the ARM metadata endpoint lists as authentication.audiences).
AUDIENCES = ("https://management.core.windows.net/", "https://management.azure.com/")
_ACCEPTED = frozenset({a for aud in AUDIENCES for a in (aud, aud.rstrip("/"))} | {ARM_APP_ID})


# Its one delegated permission, which user sign-ins to ARM (``az login`` as a user) are consented to;
# the id is the one public consent scripts grant (e.g. Partner Center's secure-application-model
# samples: resource 797f4846-..., scope user_impersonation).
USER_IMPERSONATION = {
    "id": "41094075-9dad-400e-a0bd-54e686782033",
    "value": "user_impersonation",
    "type": "User",
    "isEnabled": True,
    "adminConsentDisplayName": "Access Azure Service Management as organization users",
    "adminConsentDescription": "Allows the application to access Azure Service Management as organization users.",
    "userConsentDisplayName": "Access Azure Service Management as you",
    "userConsentDescription": "Allows the application to access Azure Service Management as you.",
}


def service_principal_catalog() -> dict[str, Any]:
    """The management resource as a first-party catalogue entry (no app roles: ARM authorises by RBAC)."""
    return {
        "appId": ARM_APP_ID,
        "displayName": ARM_DISPLAY_NAME,
        "appOwnerOrganizationId": None,
        "servicePrincipalNames": [*AUDIENCES, ARM_APP_ID],
        "appRoles": [],
        "oauth2PermissionScopes": [dict(USER_IMPERSONATION)],
    }


def accepts_audience(audience: Any) -> bool:
    return isinstance(audience, str) and audience in _ACCEPTED


def tenant_entry(ctx: EmulatorContext, tenant_id: str) -> dict[str, Any]:
    """One ``TenantIdDescription`` of "Tenants - List"."""
    record = ctx.store.get(GLOBAL, "tenants", tenant_id) or {}
    domain = str(record.get("domain") or "")
    return {
        "id": f"/tenants/{tenant_id}",
        "tenantId": tenant_id,
        "countryCode": "US",
        "displayName": record.get("displayName"),
        "domains": [d["name"] for d in record.get("verifiedDomains") or [] if isinstance(d, dict)]
        or [domain],
        "tenantCategory": "Home",
        "defaultDomain": domain,
        "tenantType": "AAD",
    }


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
