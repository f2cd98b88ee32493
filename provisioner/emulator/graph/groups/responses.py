"""HTTP handlers for /groups: list (``$filter=displayName eq ...``), get, create, delete, direct members.

Transport-free (``$batch`` reuses them). Members are users only (the emulator has no
nested groups); ``GET /groups/{id}/members`` answers with ``directoryObject`` entries.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.directory_objects import annotated
from provisioner.emulator.graph.envelopes import collection_response, entity_response, public
from provisioner.emulator.graph.groups import models as groups
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router
from provisioner.emulator.graph.users import models as users

GROUP = r"/groups/" + ID.format(name="group")
ENTITY_SET = "groups"


def _group_response(call: Call, group: dict[str, Any], status: int = 200) -> GraphResponse:
    return entity_response(
        call, ENTITY_SET, group, type_name=groups.TYPE_NAME, status=status, known=groups.KNOWN_PROPERTIES
    )


def list_groups(call: Call) -> GraphResponse:
    require(call.caller, "groups.read")
    return collection_response(
        call,
        ENTITY_SET,
        call.ctx.store.views(call.tenant, groups.KIND),
        call.query(),
        type_name=groups.TYPE_NAME,
        known=groups.KNOWN_PROPERTIES,
    )


def get_group(call: Call) -> GraphResponse:
    require(call.caller, "groups.read")
    return _group_response(call, groups.get(call.ctx, call.tenant, call.params["group"]))


def create_group(call: Call) -> GraphResponse:
    require(call.caller, "groups.write")
    group = groups.create(call.ctx, call.tenant, call.request.json_object())
    return _group_response(call, group, status=201)


def delete_group(call: Call) -> GraphResponse:
    require(call.caller, "groups.write")
    groups.delete(call.ctx, call.tenant, groups.get(call.ctx, call.tenant, call.params["group"]))
    return GraphResponse(204)


def list_members(call: Call) -> GraphResponse:
    require(call.caller, "groups.read")
    group = groups.get(call.ctx, call.tenant, call.params["group"])
    items = []
    for member_id in group.get(groups.MEMBERS) or []:
        user = call.ctx.store.view(call.tenant, users.KIND, member_id)
        if user is not None:
            items.append(annotated("users", {k: public(user).get(k) for k in users.USER_DEFAULT_SELECT}))
    return collection_response(
        call, "directoryObjects", items, call.query(), type_name="microsoft.graph.directoryObject"
    )


def add_member(call: Call) -> GraphResponse:
    require(call.caller, "groups.members.write")
    group = groups.get(call.ctx, call.tenant, call.params["group"])
    body = call.request.body if isinstance(call.request.body, dict) else {}
    groups.add_member(call.ctx, call.tenant, group, groups.bound_id(body.get("@odata.id")))
    return GraphResponse(204)


def remove_member(call: Call) -> GraphResponse:
    require(call.caller, "groups.members.write")
    group = groups.get(call.ctx, call.tenant, call.params["group"])
    groups.remove_member(call.ctx, call.tenant, group, call.params["member"])
    return GraphResponse(204)


def register(router: Router) -> None:
    router.add("GET", r"/groups", list_groups)
    router.add("POST", r"/groups", create_group)
    router.add("GET", GROUP + r"/members", list_members)
    router.add("POST", GROUP + r"/members/\$ref", add_member)
    router.add("DELETE", GROUP + r"/members/" + ID.format(name="member") + r"/\$ref", remove_member)
    router.add("GET", GROUP, get_group)
    router.add("DELETE", GROUP, delete_group)
