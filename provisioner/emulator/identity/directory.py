"""Read-side lookups the identity platform needs from the directory (the Graph-shaped store).

Tenants are addressed in URLs by ID or domain; ``common``/``organizations``/``consumers``
are resolved per request to the application's home tenant (the emulator has one
tenant per test world and no personal accounts).
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.store import GLOBAL

MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations", "consumers"})
# signInAudience values that may use /common, /organizations and /consumers.
MULTI_TENANT_AUDIENCES = frozenset(
    {"AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def _tenant_names(record: dict[str, Any]) -> set[str]:
    names = {str(record.get(k, "")).lower() for k in ("id", "tenantId", "domain", "defaultDomain")}
    for domain in record.get("domains") or record.get("verifiedDomains") or []:
        names.add(str(domain.get("name") if isinstance(domain, dict) else domain).lower())
    names.discard("")
    return names


def resolve_tenant(ctx: EmulatorContext, segment: str) -> str | None:
    """Tenant ID for a concrete tenant segment (ID or domain), None when the tenant does not exist."""
    wanted = segment.lower()
    for record in ctx.store.list(GLOBAL, "tenants"):
        if wanted in _tenant_names(record):
            return str(record.get("id") or record.get("tenantId"))
    return None


def tenant_domain(ctx: EmulatorContext, tenant_id: str) -> str:
    record = ctx.store.get(GLOBAL, "tenants", tenant_id) or {}
    return str(record.get("domain") or record.get("defaultDomain") or tenant_id)


def find_application(ctx: EmulatorContext, tenant_id: str, app_id: str) -> dict[str, Any] | None:
    apps = ctx.store.find(tenant_id, "applications", appId=app_id)
    return apps[0] if apps else None


def find_application_home(ctx: EmulatorContext, app_id: str) -> tuple[str, dict[str, Any]] | None:
    """The tenant that registered ``app_id`` (for requests to /common and friends)."""
    for tenant_id in ctx.store.tenants():
        app = find_application(ctx, tenant_id, app_id)
        if app is not None:
            return tenant_id, app
    return None


def find_service_principal(ctx: EmulatorContext, tenant_id: str, app_id: str) -> dict[str, Any] | None:
    sps = ctx.store.find(tenant_id, "servicePrincipals", appId=app_id)
    return sps[0] if sps else None


def _norm_identifier(value: str) -> str:
    return value.rstrip("/").lower()


# Microsoft Graph's appId: the emulator's own base URL names it too (see find_resource).
_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def find_resource(ctx: EmulatorContext, tenant_id: str, identifier: str) -> dict[str, Any] | None:
    """The resource service principal named by an App ID URI (any of its servicePrincipalNames) or appId.

    The emulator's own base URL is also a name of Microsoft Graph: a client configured with a
    custom cloud (the Azure CLI: ``--endpoint-microsoft-graph-resource-id <emulator URL>``) derives
    its Graph endpoint from that resource id and asks for tokens for it.
    """
    wanted = _norm_identifier(identifier)
    if not wanted:
        return None
    if wanted == _norm_identifier(ctx.base_url):
        wanted = _GRAPH_APP_ID
    for sp in ctx.store.list(tenant_id, "servicePrincipals"):
        if str(sp.get("appId", "")).lower() == wanted:
            return sp
        if any(_norm_identifier(n) == wanted for n in sp.get("servicePrincipalNames") or []):
            return sp
    # A freshly registered API whose service principal does not list the URI yet.
    for app in ctx.store.list(tenant_id, "applications"):
        if any(_norm_identifier(u) == wanted for u in app.get("identifierUris") or []):
            return find_service_principal(ctx, tenant_id, app["appId"])
    return None


def get_user(ctx: EmulatorContext, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    return ctx.store.get(tenant_id, "users", user_id)


def list_users(ctx: EmulatorContext, tenant_id: str) -> list[dict[str, Any]]:
    return ctx.store.list(tenant_id, "users")


def find_user_by_upn(ctx: EmulatorContext, tenant_id: str, upn: str) -> dict[str, Any] | None:
    wanted = upn.lower()
    for user in list_users(ctx, tenant_id):
        if str(user.get("userPrincipalName", "")).lower() == wanted:
            return user
    return None


def held_by_user(ctx: EmulatorContext, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """App role assignments (store views) held by the user directly or by a group the user is a direct
    member of: what ``/users/{id}/appRoleAssignments`` lists and what a sign-in to an app requiring
    assignment looks for. Here (not in the Graph layer, which depends on this package) it reads the
    store kinds ``groups`` (internal ``_members``) and ``appRoleAssignments`` directly."""
    principals = {user_id}
    principals.update(
        g["id"] for g in ctx.store.views(tenant_id, "groups") if user_id in (g.get("_members") or [])
    )
    return [a for a in ctx.store.views(tenant_id, "appRoleAssignments") if a.get("principalId") in principals]


def assignment_refusal(
    ctx: EmulatorContext,
    tenant_id: str,
    app: dict[str, Any],
    user: dict[str, Any],
    error: str = "invalid_grant",
) -> Any:
    """AADSTS50105 when the app's service principal requires assignment and ``user`` holds no role of it,
    directly or through a group they are a direct member of; None when the user may sign in."""
    from provisioner.emulator.identity.errors import user_not_assigned

    sp = find_service_principal(ctx, tenant_id, app["appId"])
    if sp is None or not sp.get("appRoleAssignmentRequired"):
        return None
    if any(a.get("resourceId") == sp["id"] for a in held_by_user(ctx, tenant_id, user["id"])):
        return None
    name = str(app.get("displayName") or app["appId"])
    return user_not_assigned(app["appId"], name, str(user.get("userPrincipalName")), error)


def is_admin_user(user: dict[str, Any]) -> bool:
    """Whether the user may grant tenant-wide (admin) consent.

    The seeded tenant has one administrator, ``admin@<domain>``; an explicit internal
    ``_isAdmin`` flag (if the seed or a test sets one) wins.
    """
    if "_isAdmin" in user:
        return bool(user["_isAdmin"])
    return str(user.get("userPrincipalName", "")).lower().startswith("admin@")


def ensure_client_service_principal(
    ctx: EmulatorContext, tenant_id: str, app: dict[str, Any]
) -> dict[str, Any]:
    """The client's service principal; consenting creates it when missing, as the real platform does."""
    sp = find_service_principal(ctx, tenant_id, app["appId"])
    if sp is not None:
        return sp
    sp = {
        "id": str(uuid.uuid4()),
        "accountEnabled": True,
        "appDisplayName": app.get("displayName"),
        "appId": app["appId"],
        "appOwnerOrganizationId": tenant_id,
        "appRoleAssignmentRequired": False,
        "appRoles": [],
        "createdDateTime": iso(ctx.clock.now()),
        "deletedDateTime": None,
        "displayName": app.get("displayName"),
        "oauth2PermissionScopes": [],
        "servicePrincipalNames": [app["appId"], *(app.get("identifierUris") or [])],
        "servicePrincipalType": "Application",
        "signInAudience": app.get("signInAudience", "AzureADMyOrg"),
        "tags": [],
    }
    ctx.store.put(tenant_id, "servicePrincipals", sp)
    return sp


def new_grant_id() -> str:
    """oauth2PermissionGrant ids are 43-character base64url strings on the real service."""
    return secrets.token_urlsafe(32)[:43]
