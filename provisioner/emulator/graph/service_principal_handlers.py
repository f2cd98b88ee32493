"""HTTP handlers for /servicePrincipals, app role assignments (both sides) and oauth2PermissionGrants."""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import app_role_assignments, expansions, grants, service_principals
from provisioner.emulator.graph.application_handlers import (
    add_owner,
    count_response,
    list_owners,
    remove_owner,
    unquote,
)
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.errors import GraphError
from provisioner.emulator.graph.routing import (
    ID,
    SP,
    Call,
    GraphResponse,
    Router,
    candidates,
    collection_response,
    entity_response,
)

ENTITY_SET = "servicePrincipals"


def target(call: Call) -> dict[str, Any]:
    return service_principals.get(
        call.ctx, call.tenant, object_id=call.params.get("sp_id"), app_id=unquote(call.params.get("sp_appid"))
    )


def _owned_app_owners(call: Call, app_id: str) -> list[str]:
    """Owners of the application behind an appId (OwnedBy callers may instantiate their own apps)."""
    apps = call.ctx.store.find(call.tenant, "applications", appId=app_id.lower()) if app_id else []
    return list(apps[0].get("_owners", [])) if apps else []


def _sp_response(call: Call, sp: dict[str, Any], status: int = 200) -> GraphResponse:
    return entity_response(
        call,
        ENTITY_SET,
        sp,
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
    items = candidates(call, service_principals.KIND, query)
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
    except GraphError as error:
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


def get_sp_owners(call: Call) -> GraphResponse:
    require(call.caller, "servicePrincipals.read")
    return list_owners(call, target(call))


def add_sp_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return add_owner(call, target(call), service_principals.KIND)


def remove_sp_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return remove_owner(call, target(call), service_principals.KIND)


# --------------------------------------------------------------------------- app role assignments

_ASSIGNMENT_TYPE = app_role_assignments.TYPE_NAME


def _assignment_set(sp: dict[str, Any], side: str) -> str:
    nav = "appRoleAssignedTo" if side == "resource" else "appRoleAssignments"
    return f"servicePrincipals('{sp['id']}')/{nav}"


def _list_assignments(call: Call, side: str) -> GraphResponse:
    require(call.caller, "assignments.read")
    sp = target(call)
    if side == "resource":
        items = app_role_assignments.list_for(call.ctx, call.tenant, resource_id=sp["id"])
    else:
        items = app_role_assignments.list_for(call.ctx, call.tenant, principal_id=sp["id"])
    return collection_response(
        call, _assignment_set(sp, side), items, call.query(), type_name=_ASSIGNMENT_TYPE
    )


def _create_assignment(call: Call, side: str) -> GraphResponse:
    require(call.caller, "assignments.write")
    sp = target(call)
    assignment = app_role_assignments.create(
        call.ctx, call.tenant, call.request.json_object(), anchor=side, anchor_id=sp["id"]
    )
    return entity_response(
        call, _assignment_set(sp, side), assignment, type_name=_ASSIGNMENT_TYPE, status=201
    )


def _get_assignment(call: Call, side: str) -> GraphResponse:
    require(call.caller, "assignments.read")
    sp = target(call)
    assignment = app_role_assignments.get_for(
        call.ctx, call.tenant, call.params["assignment"], side=side, sp_id=sp["id"]
    )
    return entity_response(call, _assignment_set(sp, side), assignment, type_name=_ASSIGNMENT_TYPE)


def _delete_assignment(call: Call, side: str) -> GraphResponse:
    require(call.caller, "assignments.write")
    sp = target(call)
    assignment = app_role_assignments.get_for(
        call.ctx, call.tenant, call.params["assignment"], side=side, sp_id=sp["id"]
    )
    app_role_assignments.delete(call.ctx, call.tenant, assignment)
    return GraphResponse(204)


# --------------------------------------------------------------------------- oauth2PermissionGrants

_GRANT_SET = "oauth2PermissionGrants"


def list_grants(call: Call) -> GraphResponse:
    require(call.caller, "grants.read")
    query = call.query()
    items = candidates(call, grants.KIND, query)
    return collection_response(call, _GRANT_SET, items, query, type_name=grants.TYPE_NAME)


def list_sp_grants(call: Call) -> GraphResponse:
    require(call.caller, "grants.read")
    sp = target(call)
    items = call.ctx.store.find(call.tenant, grants.KIND, clientId=sp["id"])
    return collection_response(call, _GRANT_SET, items, call.query(), type_name=grants.TYPE_NAME)


def create_grant(call: Call) -> GraphResponse:
    require(call.caller, "grants.write")
    grant = grants.create(call.ctx, call.tenant, call.request.json_object())
    return entity_response(call, _GRANT_SET, grant, type_name=grants.TYPE_NAME, status=201)


def get_grant(call: Call) -> GraphResponse:
    require(call.caller, "grants.read")
    grant = grants.get(call.ctx, call.tenant, call.params["grant"])
    return entity_response(call, _GRANT_SET, grant, type_name=grants.TYPE_NAME)


def patch_grant(call: Call) -> GraphResponse:
    require(call.caller, "grants.write")
    grant = grants.get(call.ctx, call.tenant, call.params["grant"])
    grants.update(call.ctx, call.tenant, grant, call.request.json_object())
    return GraphResponse(204)


def delete_grant(call: Call) -> GraphResponse:
    require(call.caller, "grants.write")
    grants.delete(call.ctx, call.tenant, grants.get(call.ctx, call.tenant, call.params["grant"]))
    return GraphResponse(204)


def register(router: Router) -> None:
    router.add("GET", r"/servicePrincipals/\$count", count_sps)
    router.add("GET", r"/servicePrincipals", list_sps)
    router.add("POST", r"/servicePrincipals", create_sp)
    router.add("GET", SP, get_sp)
    router.add("PATCH", SP, patch_sp)
    router.add("DELETE", SP, delete_sp)
    router.add("GET", SP + r"/owners", get_sp_owners)
    router.add("POST", SP + r"/owners/\$ref", add_sp_owner)
    router.add("DELETE", SP + r"/owners/" + ID.format(name="owner") + r"/\$ref", remove_sp_owner)
    for nav, side in (("appRoleAssignedTo", "resource"), ("appRoleAssignments", "principal")):
        collection = SP + "/" + nav
        item = collection + "/" + ID.format(name="assignment")
        router.add("GET", collection, lambda call, s=side: _list_assignments(call, s))
        router.add("POST", collection, lambda call, s=side: _create_assignment(call, s))
        router.add("GET", item, lambda call, s=side: _get_assignment(call, s))
        router.add("DELETE", item, lambda call, s=side: _delete_assignment(call, s))
    router.add("GET", SP + r"/oauth2PermissionGrants", list_sp_grants)
    router.add("GET", r"/oauth2PermissionGrants", list_grants)
    router.add("POST", r"/oauth2PermissionGrants", create_grant)
    grant = r"/oauth2PermissionGrants/" + ID.format(name="grant")
    router.add("GET", grant, get_grant)
    router.add("PATCH", grant, patch_grant)
    router.add("DELETE", grant, delete_grant)
