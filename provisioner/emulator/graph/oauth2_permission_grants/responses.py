"""HTTP handlers for /oauth2PermissionGrants and a service principal's delegated grants."""

from __future__ import annotations

from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import candidates, collection_response, entity_response
from provisioner.emulator.graph.lookups import service_principal_in_path as target
from provisioner.emulator.graph.oauth2_permission_grants import models as grants
from provisioner.emulator.graph.routing import ID, SP, Call, GraphResponse, Router

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
    router.add("GET", SP + r"/oauth2PermissionGrants", list_sp_grants)
    router.add("GET", r"/oauth2PermissionGrants", list_grants)
    router.add("POST", r"/oauth2PermissionGrants", create_grant)
    grant = r"/oauth2PermissionGrants/" + ID.format(name="grant")
    router.add("GET", grant, get_grant)
    router.add("PATCH", grant, patch_grant)
    router.add("DELETE", grant, delete_grant)
