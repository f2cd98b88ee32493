"""oauth2PermissionGrants: delegated-permission consent of a client SP for a resource SP.

One grant per (clientId, consentType, principalId, resourceId): a second one is
409 "Permission entry already exists." and callers must PATCH ``scope`` (which
replaces the whole space-separated list) instead. The emulator also checks that
each scope is published by the resource service principal, so a typo in a
manifest fails in CI rather than silently granting nothing.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication
from provisioner.emulator.graph.errors import (
    GraphApiError,
    bad_request,
    invalid_value,
    not_found,
    unknown_property,
)
from provisioner.emulator.graph.ids import grant_id, is_guid

KIND = "oauth2PermissionGrants"
TYPE_NAME = "microsoft.graph.oAuth2PermissionGrant"
RESOURCE = "OAuth2PermissionGrant"
FIELDS = ("clientId", "consentType", "id", "principalId", "resourceId", "scope")
_MAX_SCOPE_LENGTH = 3850


def get(ctx: EmulatorContext, tenant: str, grant_key: str) -> dict[str, Any]:
    grant = ctx.store.get(tenant, KIND, grant_key)
    if grant is None:
        raise not_found(grant_key)
    return grant


def _service_principal(ctx: EmulatorContext, tenant: str, object_id: Any, prop: str) -> dict[str, Any]:
    if not is_guid(object_id):
        raise invalid_value(prop, RESOURCE)
    sp = ctx.store.view(tenant, "servicePrincipals", object_id.lower())  # read only: no copy
    if sp is None or not replication.visible(ctx, sp):
        raise not_found(object_id)
    return sp


def _check_scope(scope: Any, resource: dict[str, Any]) -> None:
    if not isinstance(scope, str) or len(scope) > _MAX_SCOPE_LENGTH:
        raise invalid_value("scope", RESOURCE)
    published = {
        s.get("value") for s in resource.get("oauth2PermissionScopes") or [] if s.get("isEnabled", True)
    }
    for name in scope.split():
        if name not in published:
            raise bad_request(
                f"Invalid value specified for property 'scope' of resource '{RESOURCE}': '{name}' is not a"
                f" delegated permission published by '{resource.get('displayName')}' ({resource.get('appId')})."
            )


def create(ctx: EmulatorContext, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    for key in body:
        if key not in FIELDS or key == "id":
            raise unknown_property(key, TYPE_NAME)
    client = _service_principal(ctx, tenant, body.get("clientId"), "clientId")
    resource = _service_principal(ctx, tenant, body.get("resourceId"), "resourceId")
    consent_type = body.get("consentType")
    principal_id = body.get("principalId")
    if consent_type == "AllPrincipals":
        if principal_id is not None:
            raise invalid_value("principalId", RESOURCE)
    elif consent_type == "Principal":
        if not is_guid(principal_id):
            raise invalid_value("principalId", RESOURCE)
        principal_id = principal_id.lower()
        if ctx.store.get(tenant, "users", principal_id) is None:
            raise not_found(principal_id)
    else:
        raise invalid_value("consentType", RESOURCE)
    scope = body.get("scope", "")
    _check_scope(scope, resource)
    key = grant_id(client["id"], resource["id"], principal_id)
    if ctx.store.view(tenant, KIND, key) is not None:
        raise GraphApiError(
            409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists."
        )
    grant = {
        "clientId": client["id"],
        "consentType": consent_type,
        "id": key,
        "principalId": principal_id,
        "resourceId": resource["id"],
        "scope": scope,
    }
    ctx.store.put(tenant, KIND, grant)
    return grant


def update(ctx: EmulatorContext, tenant: str, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    for key, value in body.items():
        if key not in FIELDS:
            raise unknown_property(key, TYPE_NAME)
        if key != "scope" and value != grant.get(key):
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    if "scope" in body:
        resource = _service_principal(ctx, tenant, grant["resourceId"], "resourceId")
        _check_scope(body["scope"], resource)
        grant = {**grant, "scope": body["scope"]}
        ctx.store.put(tenant, KIND, grant)
    return grant


def delete(ctx: EmulatorContext, tenant: str, grant: dict[str, Any]) -> None:
    ctx.store.delete(tenant, KIND, grant["id"])


def delete_referencing(ctx: EmulatorContext, tenant: str, sp_id: str) -> None:
    for grant in ctx.store.list(tenant, KIND):
        if sp_id in (grant.get("clientId"), grant.get("resourceId")):
            ctx.store.delete(tenant, KIND, grant["id"])


def delete_for_user(ctx: EmulatorContext, tenant: str, user_id: str) -> None:
    for grant in ctx.store.find(tenant, KIND, principalId=user_id):
        ctx.store.delete(tenant, KIND, grant["id"])
