"""Application objects: lookups, create, PATCH, soft delete and restore, as Entra ID applies them.

Defaults of a new registration come from :mod:`.schema`; PATCH merges complex
properties key by key and replaces collections; every write is validated by
:mod:`.validation`; secrets and certificates are :mod:`.credentials`' business.
Deleting an application soft-deletes it (restorable for 30 days) together with its
service principal, as in Entra.
"""

from __future__ import annotations

import copy
from typing import Any

from provisioner.emulator.clock import iso, parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication
from provisioner.emulator.graph.applications.credentials import (
    new_password,
    parse_key_credentials,
    replace_passwords,
)
from provisioner.emulator.graph.applications.management_policies import enforce_key
from provisioner.emulator.graph.applications.schema import (
    COMPLEX,
    DELETED_KIND,
    KIND,
    KNOWN_PROPERTIES,
    READ_ONLY,
    RESOURCE,
    TYPE_NAME,
    template,
)
from provisioner.emulator.graph.applications.validation import (
    check_sub_properties,
    check_type,
    publisher_domain,
    validate,
)
from provisioner.emulator.graph.errors import (
    bad_request,
    invalid_value,
    not_found,
    read_only,
    unknown_property,
)
from provisioner.emulator.graph.ids import is_guid, new_id
from provisioner.emulator.graph.service_principals import models as service_principals
from provisioner.emulator.store import thaw

# --------------------------------------------------------------------------- lookups


def get(
    ctx: EmulatorContext,
    tenant: str,
    *,
    object_id: str | None = None,
    app_id: str | None = None,
    unique_name: str | None = None,
) -> dict[str, Any]:
    """One application by object id, appId or uniqueName; 404 Request_ResourceNotFound otherwise."""
    found = find(ctx, tenant, object_id=object_id, app_id=app_id, unique_name=unique_name)
    if not replication.visible(ctx, found):
        raise not_found(object_id or app_id or unique_name or "")
    return found


def find(
    ctx: EmulatorContext,
    tenant: str,
    *,
    object_id: str | None = None,
    app_id: str | None = None,
    unique_name: str | None = None,
) -> dict[str, Any] | None:
    if object_id is not None:
        if not is_guid(object_id):
            raise bad_request(f"Invalid object identifier '{object_id}'.")
        return ctx.store.get(tenant, KIND, object_id.lower())
    if app_id is not None:
        matches = ctx.store.find(tenant, KIND, appId=app_id.lower())
        return matches[0] if matches else None
    if unique_name is not None:
        # Scan read-only views and copy only the match: a create looks up a missing name (full scan).
        wanted = unique_name.lower()
        matches = ctx.store.find_views(tenant, KIND, uniqueName=unique_name) or [
            a for a in ctx.store.views(tenant, KIND) if (a.get("uniqueName") or "").lower() == wanted
        ]
        return thaw(matches[0]) if matches else None
    return None


# --------------------------------------------------------------------------- create / update


def create(
    ctx: EmulatorContext,
    tenant: str,
    body: dict[str, Any],
    *,
    owner_id: str | None,
    unique_name: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Register an application. Returns the stored object and secret values minted on create.

    The secret values are returned separately so only the 201 response carries them.
    """
    now = ctx.clock.now()
    app = template(new_id(), new_id(), iso(now), publisher_domain(ctx, tenant))
    body = dict(body)
    passwords = body.pop("passwordCredentials", None) or []
    if unique_name is not None:
        if body.get("uniqueName") not in (None, unique_name):
            raise read_only("uniqueName")
        body["uniqueName"] = unique_name
    for key in body.keys() & {"id", "appId"}:
        raise read_only(key)
    if "displayName" not in body:
        raise bad_request("Required property 'displayName' is missing.")
    _merge_into(ctx, tenant, app, body)
    if not isinstance(passwords, list) or not all(isinstance(c, dict) for c in passwords):
        raise invalid_value("passwordCredentials", RESOURCE)
    secret_values = [new_password(ctx, app, cred)[1] for cred in passwords]
    app["_owners"] = [owner_id] if owner_id else []
    replication.stamp(ctx, app)
    ctx.store.put(tenant, KIND, app)
    return app, secret_values


def update(ctx: EmulatorContext, tenant: str, app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """PATCH: properties not in the body keep their values; complex ones merge, collections replace."""
    updated = copy.deepcopy(app)
    body = dict(body)
    for key in list(body):
        if key in READ_ONLY:
            if body[key] != app.get(key):
                raise read_only(key)
            del body[key]
    if "uniqueName" in body:
        if body["uniqueName"] != app.get("uniqueName"):
            raise read_only("uniqueName")
        del body["uniqueName"]
    if "passwordCredentials" in body:
        replace_passwords(updated, body.pop("passwordCredentials"))
    _merge_into(ctx, tenant, updated, body, previous=app)
    ctx.store.put(tenant, KIND, updated)
    service_principals.sync_from_application(ctx, tenant, updated)
    return updated


def _merge_into(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    body: dict[str, Any],
    *,
    previous: dict[str, Any] | None = None,
) -> None:
    for key, value in body.items():
        if key not in KNOWN_PROPERTIES:
            raise unknown_property(key, TYPE_NAME)
        if key in READ_ONLY:
            raise read_only(key)
        check_type(key, value)
        if key in COMPLEX and isinstance(value, dict):
            type_name, allowed = COMPLEX[key]
            check_sub_properties(value, allowed, type_name)
            current = app.get(key)
            app[key] = _deep_merge(current, value) if isinstance(current, dict) else copy.deepcopy(value)
        else:
            app[key] = copy.deepcopy(value)
    if "keyCredentials" in body:
        before = {c["keyId"].lower() for c in (previous or {}).get("keyCredentials", [])}
        app["keyCredentials"] = parse_key_credentials(
            body["keyCredentials"], (previous or {}).get("keyCredentials", [])
        )
        for key in app["keyCredentials"]:
            if key["keyId"].lower() not in before:  # app management policies judge new keys only
                enforce_key(ctx, tenant, app, parse_iso(key["startDateTime"]), parse_iso(key["endDateTime"]))
    if (
        "web" in body
        and isinstance(body["web"], dict)
        and "redirectUris" in body["web"]
        and "redirectUriSettings" not in body["web"]
    ):
        app["web"]["redirectUriSettings"] = [{"uri": u, "index": None} for u in app["web"]["redirectUris"]]
    validate(ctx, tenant, app, previous)


def _deep_merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --------------------------------------------------------------------------- delete / restore


def delete(ctx: EmulatorContext, tenant: str, app: dict[str, Any]) -> None:
    """Soft delete (restorable for 30 days); the app's service principal goes with it, as in Entra."""
    for sp in ctx.store.find(tenant, service_principals.KIND, appId=app["appId"]):
        service_principals.delete(ctx, tenant, sp)
    ctx.store.delete(tenant, KIND, app["id"])
    ctx.store.put(tenant, DELETED_KIND, {**app, "deletedDateTime": iso(ctx.clock.now())})


def restore(ctx: EmulatorContext, tenant: str, object_id: str) -> dict[str, Any]:
    deleted = ctx.store.get(tenant, DELETED_KIND, object_id.lower())
    if deleted is None:
        raise not_found(object_id)
    restored = {**deleted, "deletedDateTime": None}
    unique = restored.get("uniqueName")
    if unique and find(ctx, tenant, unique_name=unique) is not None:
        raise bad_request("Another object with the same value for property uniqueName already exists.")
    ctx.store.delete(tenant, DELETED_KIND, deleted["id"])
    ctx.store.put(tenant, KIND, restored)
    return restored


def purge(ctx: EmulatorContext, tenant: str, object_id: str) -> None:
    if not ctx.store.delete(tenant, DELETED_KIND, object_id.lower()):
        raise not_found(object_id)
