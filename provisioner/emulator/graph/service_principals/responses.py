"""HTTP handlers for /servicePrincipals: the collection, one service principal and its owners.

Thin, transport-free handlers (``$batch`` reuses them) over :mod:`.models`.
App role assignments and delegated grants addressed under a service principal have
their handlers with their resources (:mod:`..app_role_assignments.responses`,
:mod:`..oauth2_permission_grants.responses`).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import credentials, delta, expansions, owners
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import (
    candidates,
    collection_response,
    count_response,
    entity_response,
)
from provisioner.emulator.graph.errors import GraphApiError
from provisioner.emulator.graph.lookups import service_principal_in_path
from provisioner.emulator.graph.routing import ID, SP, Call, GraphResponse, Router, unquote
from provisioner.emulator.graph.service_principals import models as service_principals

ENTITY_SET = "servicePrincipals"


target = service_principal_in_path


def _owned_app_owners(call: Call, app_id: str) -> list[str]:
    """Owners of the application behind an appId (OwnedBy callers may instantiate their own apps)."""
    apps = call.ctx.store.find(call.tenant, "applications", appId=app_id.lower()) if app_id else []
    return list(apps[0].get("_owners", [])) if apps else []


def _shown(sp: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    return credentials.hide_key_material(service_principals.with_defaults(sp), select)


def _sp_response(call: Call, sp: dict[str, Any], status: int = 200) -> GraphResponse:
    get = call.request.method == "GET"
    select = (
        call.query(expandable=expansions.SERVICE_PRINCIPAL, type_name=service_principals.TYPE_NAME).select
        if get
        else None
    )
    return entity_response(
        call,
        ENTITY_SET,
        _shown(sp, select),
        type_name=service_principals.TYPE_NAME,
        status=status,
        known=service_principals.KNOWN_PROPERTIES,
        expandable=expansions.SERVICE_PRINCIPAL,
        expand=expansions.expander(call),
    )


# --------------------------------------------------------------------------- service principals


def list_sps(call: Call) -> GraphResponse:
    require(call.caller, "servicePrincipals.read")
    query = call.query(expandable=expansions.SERVICE_PRINCIPAL, type_name=service_principals.TYPE_NAME)
    items = [_shown(sp, query.select) for sp in candidates(call, service_principals.KIND, query)]
    return collection_response(
        call,
        ENTITY_SET,
        items,
        query,
        type_name=service_principals.TYPE_NAME,
        known=service_principals.KNOWN_PROPERTIES,
        expand=expansions.expander(call),
    )


def count_sps(call: Call) -> GraphResponse:
    require(call.caller, "servicePrincipals.read")
    return count_response(call, len(call.ctx.store.views(call.tenant, service_principals.KIND)))


def create_sp(call: Call) -> GraphResponse:
    body = call.request.json_object()
    app_id = body.get("appId") if isinstance(body.get("appId"), str) else ""
    require(call.caller, "servicePrincipals.write", owners=_owned_app_owners(call, app_id))
    sp = service_principals.create(call.ctx, call.tenant, body, owner_id=call.caller.oid)
    return _sp_response(call, sp, 201)


def get_sp(call: Call) -> GraphResponse:
    require(call.caller, "servicePrincipals.read")
    return _sp_response(call, target(call))


def patch_sp(call: Call) -> GraphResponse:
    body = call.request.json_object()
    try:
        sp = target(call)
    except GraphApiError as error:
        app_id = unquote(call.params.get("sp_appid"))
        if error.status != 404 or app_id is None or not call.request.prefers("create-if-missing"):
            raise
        require(call.caller, "servicePrincipals.write", owners=_owned_app_owners(call, app_id))
        sp = service_principals.create(
            call.ctx, call.tenant, {**body, "appId": app_id}, owner_id=call.caller.oid
        )
        return _sp_response(call, sp, 201)
    require(call.caller, "servicePrincipals.write", owners=sp.get("_owners", []))
    service_principals.update(call.ctx, call.tenant, sp, body)
    return GraphResponse(204)


def delete_sp(call: Call) -> GraphResponse:
    sp = target(call)
    require(call.caller, "servicePrincipals.write", owners=sp.get("_owners", []))
    service_principals.delete(call.ctx, call.tenant, sp)
    return GraphResponse(204)


def list_sp_endpoints(call: Call) -> GraphResponse:
    """``endpoints``: what services such as SharePoint publish for discovery; none in the emulator."""
    require(call.caller, "servicePrincipals.read")
    sp = target(call)
    return collection_response(
        call,
        f"servicePrincipals('{sp['id']}')/endpoints",
        [],
        call.query(),
        type_name="microsoft.graph.endpoint",
    )


def get_sp_owners(call: Call) -> GraphResponse:
    require(call.caller, "servicePrincipals.read")
    return owners.list_owners(call, target(call))


def add_sp_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return owners.add_owner(call, target(call), service_principals.KIND)


def remove_sp_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return owners.remove_owner(call, target(call), service_principals.KIND)


list_changes = delta.handler(
    kind=service_principals.KIND,
    deleted_kind=service_principals.DELETED_KIND,
    entity_set=ENTITY_SET,
    type_name=service_principals.TYPE_NAME,
    known=service_principals.KNOWN_PROPERTIES,
    rule="servicePrincipals.read",
    shown=lambda sp: _shown(dict(sp), None),
)


def register(router: Router) -> None:
    router.add("GET", r"/servicePrincipals/\$count", count_sps)
    router.add("GET", r"/servicePrincipals" + delta.SUFFIX, list_changes)
    router.add("GET", r"/servicePrincipals", list_sps)
    router.add("POST", r"/servicePrincipals", create_sp)
    router.add("GET", SP, get_sp)
    router.add("PATCH", SP, patch_sp)
    router.add("DELETE", SP, delete_sp)
    router.add("GET", SP + r"/endpoints", list_sp_endpoints)
    router.add("GET", SP + r"/owners", get_sp_owners)
    router.add("POST", SP + r"/owners/\$ref", add_sp_owner)
    router.add("DELETE", SP + r"/owners/" + ID.format(name="owner") + r"/\$ref", remove_sp_owner)
