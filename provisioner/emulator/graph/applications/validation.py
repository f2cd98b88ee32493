"""Validation of an application as Entra ID applies it on create and on every PATCH.

The rules users hit in real tenants and want to hit in CI first: property types
and sub-properties, audience/token version coupling, display name length,
requiredResourceAccess limits, identifierUris on verified domains (and unique in
the tenant), scopes/roles well formed and only removable once disabled,
uniqueName immutable and unique. Redirect URIs are checked in :mod:`.redirects`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.applications.redirects import validate_redirects
from provisioner.emulator.graph.applications.schema import (
    AUDIENCES,
    BOOLS,
    COMPLEX,
    KIND,
    LISTS,
    PERSONAL_AUDIENCES,
    RESOURCE,
    STRINGS,
)
from provisioner.emulator.graph.errors import GraphApiError, bad_request, invalid_value, unknown_property
from provisioner.emulator.graph.ids import is_guid
from provisioner.emulator.store import GLOBAL

# --------------------------------------------------------------------------- tenant domains


def publisher_domain(ctx: EmulatorContext, tenant: str) -> str:
    record = ctx.store.get(GLOBAL, "tenants", tenant) or {}
    return str(record.get("domain") or f"{tenant}.onmicrosoft.com")


def verified_domains(ctx: EmulatorContext, tenant: str) -> list[str]:
    record = ctx.store.get(GLOBAL, "tenants", tenant) or {}
    domains = [d.get("name") if isinstance(d, dict) else d for d in record.get("verifiedDomains") or []]
    return [str(d).lower() for d in domains if d] or [publisher_domain(ctx, tenant).lower()]


# --------------------------------------------------------------------------- shape


def check_type(key: str, value: Any) -> None:
    ok = True
    if key in LISTS:
        ok = isinstance(value, list)
    elif key in STRINGS:
        ok = value is None or isinstance(value, str)
    elif key in BOOLS:
        ok = value is None or isinstance(value, bool)
    elif key in COMPLEX:
        ok = value is None or isinstance(value, dict)
    if not ok:
        raise invalid_value(key, RESOURCE)


def check_sub_properties(value: dict[str, Any], allowed: frozenset[str], type_name: str) -> None:
    for sub in value:
        if sub not in allowed:
            raise unknown_property(sub, type_name)
    grant = value.get("implicitGrantSettings")
    if isinstance(grant, dict):
        for sub in grant:
            if sub not in ("enableAccessTokenIssuance", "enableIdTokenIssuance"):
                raise unknown_property(sub, "microsoft.graph.implicitGrantSettings")


# --------------------------------------------------------------------------- rules


def validate(ctx: EmulatorContext, tenant: str, app: dict[str, Any], previous: dict[str, Any] | None) -> None:
    audience = app.get("signInAudience")
    if audience not in AUDIENCES:
        raise invalid_value("signInAudience", RESOURCE)
    personal = audience in PERSONAL_AUDIENCES
    api = app.get("api") or {}
    if personal and api.get("requestedAccessTokenVersion") != 2:
        raise bad_request("Property api.requestedAccessTokenVersion is invalid.")
    if api.get("requestedAccessTokenVersion") not in (None, 1, 2):
        raise bad_request("Property api.requestedAccessTokenVersion is invalid.")
    name = app.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > (90 if personal else 120):
        raise invalid_value("displayName", RESOURCE)
    validate_redirects(app, personal)
    _validate_required_resource_access(app.get("requiredResourceAccess") or [])
    _validate_identifier_uris(ctx, tenant, app)
    _validate_entitlements(app, previous)
    if previous is None and app.get("uniqueName") is not None:  # immutable: checked once, on create
        unique = app["uniqueName"]
        if not isinstance(unique, str) or not unique or len(unique) > 255:
            raise invalid_value("uniqueName", RESOURCE)
        for other in ctx.store.views(tenant, KIND):  # read only: no copy of every application
            if other["id"] != app["id"] and (other.get("uniqueName") or "").lower() == unique.lower():
                raise bad_request(
                    "Another object with the same value for property uniqueName already exists."
                )
    tags = app.get("tags") or []
    if any(not isinstance(t, str) or len(t) > 256 for t in tags):
        raise invalid_value("tags", RESOURCE)
    if personal and len(app.get("passwordCredentials") or []) > 2:
        raise invalid_value("passwordCredentials", RESOURCE)


def _validate_required_resource_access(rra: list[Any]) -> None:
    if len(rra) > 50:
        raise invalid_value("requiredResourceAccess", RESOURCE)
    permissions = 0
    seen_resources: set[str] = set()
    for entry in rra:
        if not isinstance(entry, dict) or not is_guid(entry.get("resourceAppId")):
            raise invalid_value("requiredResourceAccess", RESOURCE)
        access = entry.get("resourceAccess") or []
        if not isinstance(access, list):
            raise invalid_value("requiredResourceAccess", RESOURCE)
        for item in access:
            if (
                not isinstance(item, dict)
                or not is_guid(item.get("id"))
                or item.get("type") not in ("Scope", "Role")
            ):
                raise invalid_value("requiredResourceAccess", RESOURCE)
        if entry["resourceAppId"].lower() in seen_resources:
            raise invalid_value("requiredResourceAccess", RESOURCE)
        seen_resources.add(entry["resourceAppId"].lower())
        permissions += len(access)
    if permissions > 400:
        raise invalid_value("requiredResourceAccess", RESOURCE)


def _validate_identifier_uris(ctx: EmulatorContext, tenant: str, app: dict[str, Any]) -> None:
    uris = app.get("identifierUris") or []
    if not all(isinstance(u, str) and u for u in uris):
        raise invalid_value("identifierUris", RESOURCE)
    domains = verified_domains(ctx, tenant)
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme == "api" and parts.netloc:
            continue
        host = (parts.hostname or "").lower()
        if parts.scheme in ("https", "http") and any(host == d or host.endswith("." + d) for d in domains):
            continue
        raise GraphApiError(
            400,
            "HostNameNotOnVerifiedDomain",
            f"Values of identifierUris property must use a verified domain of the organization or its"
            f" subdomain: '{uri}'",
        )
    wanted = {u.rstrip("/").lower() for u in uris}
    if wanted:
        for other in ctx.store.list(tenant, KIND):
            if other["id"] != app["id"] and wanted & {
                u.rstrip("/").lower() for u in other.get("identifierUris") or []
            }:
                raise bad_request(
                    "Another object with the same value for property identifierUris already exists."
                )


def _validate_entitlements(app: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Scopes and app roles: well-formed, unique values, and only disabled ones may be removed."""
    scopes = (app.get("api") or {}).get("oauth2PermissionScopes") or []
    roles = app.get("appRoles") or []
    for prop, entries in (("api", scopes), ("appRoles", roles)):
        if not isinstance(entries, list):
            raise invalid_value(prop, RESOURCE)
        values: set[str] = set()
        ids: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not is_guid(entry.get("id")):
                raise invalid_value(prop, RESOURCE)
            value = entry.get("value")
            if value is not None and (not isinstance(value, str) or " " in value or value.startswith(".")):
                raise invalid_value(prop, RESOURCE)
            if entry["id"].lower() in ids or (value and value.lower() in values):
                raise invalid_value(prop, RESOURCE)
            ids.add(entry["id"].lower())
            if value:
                values.add(value.lower())
            if prop == "api" and entry.get("type") not in ("User", "Admin"):
                raise invalid_value(prop, RESOURCE)
            if prop == "appRoles":
                members = entry.get("allowedMemberTypes") or []
                if not members or not set(members) <= {"User", "Application"}:
                    raise invalid_value(prop, RESOURCE)
            entry.setdefault("isEnabled", True)
            if prop == "appRoles":
                entry.setdefault("origin", "Application")
    if previous is None:
        return
    old_scopes = (previous.get("api") or {}).get("oauth2PermissionScopes") or []
    for old, new in ((old_scopes, scopes), (previous.get("appRoles") or [], roles)):
        kept = {e["id"].lower() for e in new}
        for entry in old:
            if entry.get("isEnabled", True) and entry["id"].lower() not in kept:
                raise GraphApiError(
                    400,
                    "CannotDeleteOrUpdateEnabledEntitlement",
                    "Permission (scope or role) cannot be deleted or updated unless disabled first.",
                )
