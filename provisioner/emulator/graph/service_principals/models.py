"""Service principals: the tenant-local instance of an application.

A service principal copies its permissions (appRoles, oauth2PermissionScopes),
names and reply URLs from its application and follows later changes of the app,
like Entra does for an app's home tenant. One per appId (409 otherwise), and it
can only be created once the application exists (400 "does not reference a
valid application object", the error that makes tools retry after replication
lag). Deleting one soft-deletes it (``directory/deletedItems``, restorable) and
removes the grants and app role assignments that name it.
"""

from __future__ import annotations

import copy
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication
from provisioner.emulator.graph.app_role_assignments import models as app_role_assignments
from provisioner.emulator.graph.credentials import parse_key_credentials
from provisioner.emulator.graph.errors import (
    GraphApiError,
    bad_request,
    invalid_value,
    not_found,
    read_only,
    unknown_property,
)
from provisioner.emulator.graph.ids import is_guid, new_id
from provisioner.emulator.graph.lookups import SERVICE_PRINCIPALS as KIND
from provisioner.emulator.graph.lookups import find_service_principal as find
from provisioner.emulator.graph.oauth2_permission_grants import models as grants
from provisioner.emulator.store import GLOBAL

DELETED_KIND = "deletedServicePrincipals"
TYPE_NAME = "microsoft.graph.servicePrincipal"
RESOURCE = "ServicePrincipal"
# Audiences whose applications may be instantiated in other tenants.
_MULTI_TENANT = frozenset({"AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount"})

_ROLE_FIELDS = ("allowedMemberTypes", "description", "displayName", "id", "isEnabled", "origin", "value")
_SCOPE_FIELDS = (
    "adminConsentDescription",
    "adminConsentDisplayName",
    "id",
    "isEnabled",
    "type",
    "userConsentDescription",
    "userConsentDisplayName",
    "value",
)
_READ_ONLY = frozenset(
    {
        "id",
        "appId",
        "appDisplayName",
        "appOwnerOrganizationId",
        "applicationTemplateId",
        "deletedDateTime",
        "disabledByMicrosoftStatus",
        "signInAudience",
        "verifiedPublisher",
        "publisherName",
        "resourceSpecificApplicationPermissions",
        "passwordCredentials",
        "info",
    }
)


def template(object_id: str, app_id: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "deletedDateTime": None,
        "accountEnabled": True,
        "alternativeNames": [],
        "appDescription": None,
        "appDisplayName": None,
        "appId": app_id,
        "applicationTemplateId": None,
        "appOwnerOrganizationId": None,
        "appRoleAssignmentRequired": False,
        "description": None,
        "disabledByMicrosoftStatus": None,
        "displayName": None,
        "errorUrl": None,
        "homepage": None,
        "loginUrl": None,
        "logoutUrl": None,
        "notes": None,
        "notificationEmailAddresses": [],
        "preferredSingleSignOnMode": None,
        "preferredTokenSigningKeyEndDateTime": None,
        "preferredTokenSigningKeyThumbprint": None,
        "publisherName": None,
        "replyUrls": [],
        "samlMetadataUrl": None,
        "servicePrincipalNames": [],
        "servicePrincipalType": "Application",
        "signInAudience": None,
        "tags": [],
        "tokenEncryptionKeyId": None,
        "samlSingleSignOnSettings": None,
        "addIns": [],
        "appRoles": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "resourceSpecificApplicationPermissions": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
    }


KNOWN_PROPERTIES = frozenset(template("", "")) | {"customSecurityAttributes"}
# The publisher Microsoft's own service principals show (the tenant's name for its own apps).
MICROSOFT_PUBLISHER = "Microsoft Services"
_DEFAULTS = template("", "")


def with_defaults(sp: dict[str, Any]) -> dict[str, Any]:
    """Every documented property, also on objects stored before a property was added."""
    if _DEFAULTS.keys() <= sp.keys():
        return sp
    return {**{k: v for k, v in _DEFAULTS.items() if k not in ("id", "appId")}, **sp}


def publisher_name(ctx: EmulatorContext, home_tenant: str) -> str | None:
    """``publisherName``: the display name of the tenant that registered the application."""
    record = ctx.store.get(GLOBAL, "tenants", home_tenant) or {}
    name = record.get("displayName")
    return str(name) if name else None


def _app_fields(app: dict[str, Any], tenant_of_app: str) -> dict[str, Any]:
    """What a service principal mirrors from its application."""
    web = app.get("web") or {}
    reply_urls: list[str] = []
    for platform in ("web", "spa", "publicClient"):
        reply_urls += (app.get(platform) or {}).get("redirectUris") or []
    return {
        "appDisplayName": app.get("displayName"),
        "appOwnerOrganizationId": tenant_of_app,
        "appRoles": copy.deepcopy(app.get("appRoles") or []),
        "oauth2PermissionScopes": copy.deepcopy((app.get("api") or {}).get("oauth2PermissionScopes") or []),
        "servicePrincipalNames": [app["appId"], *(app.get("identifierUris") or [])],
        "replyUrls": reply_urls,
        "signInAudience": app.get("signInAudience"),
        "homepage": web.get("homePageUrl"),
        "logoutUrl": web.get("logoutUrl"),
        "info": copy.deepcopy(app.get("info")),
    }


def first_party(tenant: str, catalog: dict[str, Any]) -> dict[str, Any]:
    """A Microsoft-owned resource SP (Graph, Exchange) from the bundled catalogue, Graph's field set only."""
    sp = template(new_id(), catalog["appId"])
    sp.update(
        {
            "appDisplayName": catalog["displayName"],
            "displayName": catalog["displayName"],
            "appOwnerOrganizationId": catalog.get("appOwnerOrganizationId"),
            "servicePrincipalNames": list(catalog.get("servicePrincipalNames") or [catalog["appId"]]),
            "signInAudience": "AzureADMultipleOrgs",
            "publisherName": MICROSOFT_PUBLISHER,
            "appRoles": [
                _clean(role, _ROLE_FIELDS, {"origin": "Application"}) for role in catalog["appRoles"]
            ],
            "oauth2PermissionScopes": [
                _clean(s, _SCOPE_FIELDS, {}) for s in catalog["oauth2PermissionScopes"]
            ],
        }
    )
    return sp


def _clean(entry: dict[str, Any], fields: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any]:
    out = {field: entry.get(field, defaults.get(field)) for field in fields}
    if out.get("isEnabled") is None:
        out["isEnabled"] = True  # listed in the live dump, so enabled (provisioner/data/SOURCES.md)
    return out


# --------------------------------------------------------------------------- lookups


def _application_for(ctx: EmulatorContext, tenant: str, app_id: str) -> tuple[str, dict[str, Any]] | None:
    """The application behind ``app_id``: in this tenant, or a multi-tenant app registered elsewhere."""
    local = ctx.store.find(tenant, "applications", appId=app_id.lower())
    if local:
        return tenant, local[0]
    for other in ctx.store.tenants():
        if other == tenant:
            continue
        remote = ctx.store.find(other, "applications", appId=app_id.lower())
        if remote and remote[0].get("signInAudience") in _MULTI_TENANT:
            return other, remote[0]
    return None


# --------------------------------------------------------------------------- create / update / delete


def create(
    ctx: EmulatorContext, tenant: str, body: dict[str, Any], *, owner_id: str | None
) -> dict[str, Any]:
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not app_id:
        raise bad_request("Required property 'appId' is missing.")
    app_id = app_id.lower()
    home = _application_for(ctx, tenant, app_id) if is_guid(app_id) else None
    if home is None or not replication.visible(ctx, home[1]):
        raise bad_request(
            f"The appId '{body['appId']}' of the service principal does not reference a valid application object."
        )
    if find(ctx, tenant, app_id=app_id) is not None:
        raise GraphApiError(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            f"The service principal cannot be created, updated, or restored because the service principal name"
            f" {app_id} is already in use.",
        )
    home_tenant, app = home
    sp = template(new_id(), app_id)
    sp.update(_app_fields(app, home_tenant))
    sp["displayName"] = app.get("displayName")
    sp["publisherName"] = publisher_name(ctx, home_tenant)
    rest = {k: v for k, v in body.items() if k != "appId"}
    _apply(sp, rest)
    sp["_owners"] = [owner_id] if owner_id else []
    replication.stamp(ctx, sp)
    ctx.store.put(tenant, KIND, sp)
    return sp


def update(ctx: EmulatorContext, tenant: str, sp: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    updated = copy.deepcopy(sp)
    body = dict(body)
    for key in list(body):
        if key in _READ_ONLY and body[key] == sp.get(key):
            del body[key]
    _apply(updated, body)
    ctx.store.put(tenant, KIND, updated)
    return updated


def _apply(sp: dict[str, Any], body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key not in KNOWN_PROPERTIES:
            raise unknown_property(key, TYPE_NAME)
        if key in _READ_ONLY:
            raise read_only(key)
        if key in (
            "tags",
            "servicePrincipalNames",
            "replyUrls",
            "notificationEmailAddresses",
            "alternativeNames",
            "appRoles",
            "oauth2PermissionScopes",
            "keyCredentials",
            "addIns",
        ) and not isinstance(value, list):
            raise invalid_value(key, RESOURCE)
        if key in ("accountEnabled", "appRoleAssignmentRequired") and not isinstance(value, bool):
            raise invalid_value(key, RESOURCE)
        if key == "displayName" and (not isinstance(value, str) or not value.strip() or len(value) > 256):
            raise invalid_value(key, RESOURCE)
        if key == "keyCredentials":
            # Certificates are parsed for thumbprint and validity, as for applications.
            value = parse_key_credentials(value, sp.get("keyCredentials") or [], resource=RESOURCE)
        sp[key] = copy.deepcopy(value)


def delete(ctx: EmulatorContext, tenant: str, sp: dict[str, Any]) -> None:
    """Soft delete, as Entra does: the object waits in deletedItems for 30 days.

    Consent and role assignments that reference it are removed (the emulator does
    not bring them back on restore: re-consent after restoring, as the tool does).
    """
    grants.delete_referencing(ctx, tenant, sp["id"])
    app_role_assignments.delete_referencing(ctx, tenant, sp["id"])
    ctx.store.delete(tenant, KIND, sp["id"])
    ctx.store.put(tenant, DELETED_KIND, {**sp, "deletedDateTime": iso(ctx.clock.now())})


def restore(ctx: EmulatorContext, tenant: str, object_id: str) -> dict[str, Any]:
    """Bring a soft-deleted service principal back; restoring its application does not do this.

    Refused while another service principal holds the appId (409, as on create) or
    while the application behind it sits in the deleted items itself (400).
    """
    deleted = ctx.store.get(tenant, DELETED_KIND, object_id.lower())
    if deleted is None:
        raise not_found(object_id)
    app_id = deleted["appId"]
    if find(ctx, tenant, app_id=app_id) is not None:
        raise GraphApiError(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            f"The service principal cannot be created, updated, or restored because the service principal name"
            f" {app_id} is already in use.",
        )
    owned_by_tenant_app = any(
        ctx.store.find_views(t, "deletedApplications", appId=app_id) for t in ctx.store.tenants()
    )
    if owned_by_tenant_app and _application_for(ctx, tenant, app_id) is None:
        raise bad_request(
            f"The appId '{app_id}' of the service principal does not reference a valid application object."
        )
    restored = {**deleted, "deletedDateTime": None}
    ctx.store.delete(tenant, DELETED_KIND, deleted["id"])
    ctx.store.put(tenant, KIND, restored)
    return restored


def purge(ctx: EmulatorContext, tenant: str, object_id: str) -> None:
    if not ctx.store.delete(tenant, DELETED_KIND, object_id.lower()):
        raise not_found(object_id)


def sync_from_application(ctx: EmulatorContext, tenant: str, app: dict[str, Any]) -> None:
    """Mirror an application change onto its service principal in the home tenant."""
    for sp in ctx.store.find(tenant, KIND, appId=app["appId"]):
        fields = _app_fields(app, tenant)
        if sp.get("displayName") == sp.get("appDisplayName"):
            fields["displayName"] = app.get("displayName")
        if any(sp.get(k) != v for k, v in fields.items()):
            sp.update(fields)
            ctx.store.put(tenant, KIND, sp)
