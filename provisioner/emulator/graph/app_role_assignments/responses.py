"""HTTP handlers for app role assignments, from both sides of a service principal.

``/servicePrincipals/{resource}/appRoleAssignedTo`` lists and grants the roles a
resource hands out; ``/servicePrincipals/{principal}/appRoleAssignments`` the roles
a principal holds. Both address the same objects (:mod:`.models`).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.app_role_assignments import models as app_role_assignments
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.lookups import service_principal_in_path as target
from provisioner.emulator.graph.routing import ID, SP, Call, GraphResponse, Router
from provisioner.emulator.graph.users import models as users

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


def _list_user_assignments(call: Call) -> GraphResponse:
    """``/users/{id | userPrincipalName}/appRoleAssignments``: direct ones and those of the user's groups."""
    require(call.caller, "userAssignments.read")
    user = users.get(call.ctx, call.tenant, call.params["user"])
    items = app_role_assignments.held_by_user(call.ctx, call.tenant, user["id"])
    return collection_response(
        call, f"users('{user['id']}')/appRoleAssignments", items, call.query(), type_name=_ASSIGNMENT_TYPE
    )


def register(router: Router) -> None:
    router.add("GET", r"/users/" + ID.format(name="user") + r"/appRoleAssignments", _list_user_assignments)
    for nav, side in (("appRoleAssignedTo", "resource"), ("appRoleAssignments", "principal")):
        collection = SP + "/" + nav
        item = collection + "/" + ID.format(name="assignment")
        router.add("GET", collection, lambda call, s=side: _list_assignments(call, s))
        router.add("POST", collection, lambda call, s=side: _create_assignment(call, s))
        router.add("GET", item, lambda call, s=side: _get_assignment(call, s))
        router.add("DELETE", item, lambda call, s=side: _delete_assignment(call, s))
