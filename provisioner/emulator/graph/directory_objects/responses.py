"""HTTP handlers for ``/directoryObjects`` (one object, ``getByIds``) and ``ownedObjects``.

``directoryObject`` answers are polymorphic: each object carries its ``@odata.type``
(``#microsoft.graph.user``, ``…servicePrincipal``, ``…application``). Users show the
default v1.0 property subset, applications hide certificate key material, as on their
own endpoints. ``ownedObjects`` is a relationship: an object of a type the caller may
not read is listed with its type and id only, every other property null ("limited
information returned for inaccessible member objects" in Graph's docs).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.auth import may, require
from provisioner.emulator.graph.credentials import hide_key_material
from provisioner.emulator.graph.directory_objects import KINDS, annotated
from provisioner.emulator.graph.envelopes import collection_response, public
from provisioner.emulator.graph.errors import bad_request, insufficient_privileges, not_found
from provisioner.emulator.graph.ids import is_guid
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router
from provisioner.emulator.graph.users import models as users
from provisioner.emulator.graph.users.responses import signed_in_user

TYPE_NAME = "microsoft.graph.directoryObject"
MAX_IDS = 1000  # getByIds: "You can specify up to 1000 IDs."
# What each store kind needs to be read in full (relationships show less otherwise).
_READ_RULE = {
    "users": "users.read",
    "servicePrincipals": "servicePrincipals.read",
    "applications": "applications.read",
    "groups": "groups.read",
}
# getByIds "types" values, by the OData type name's last segment (lower case).
_TYPE_KINDS = {
    "user": "users",
    "serviceprincipal": "servicePrincipals",
    "application": "applications",
    "group": "groups",
}


def shown(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a directoryObject answer shows it."""
    data = public(obj)
    if kind == "users":
        data = {k: data.get(k) for k in users.USER_DEFAULT_SELECT}
    elif kind == "applications":
        data = hide_key_material(data, None)
    return annotated(kind, data)


def limited(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Type and id only: what a relationship shows of an object the caller may not read."""
    return annotated(kind, {k: (obj["id"] if k == "id" else None) for k in shown(kind, obj) if k[0] != "@"})


def _find(
    call: Call, object_id: str, kinds: tuple[str, ...] = tuple(KINDS)
) -> tuple[str, dict[str, Any]] | None:
    for kind in kinds:
        obj = call.ctx.store.view(call.tenant, kind, object_id.lower())
        if obj is not None:
            return kind, obj
    return None


def get_directory_object(call: Call) -> GraphResponse:
    require(call.caller, "directory.read")
    object_id = call.params["object"]
    if not is_guid(object_id):
        raise bad_request(f"Invalid object identifier '{object_id}'.")
    found = _find(call, object_id)
    if found is None:
        raise not_found(object_id)
    body = {"@odata.context": call.metadata("directoryObjects/$entity"), **shown(*found)}
    return GraphResponse(200, body)


def get_by_ids(call: Call) -> GraphResponse:
    require(call.caller, "directory.read")
    body = call.request.json_object()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise bad_request("Invalid value specified for property 'ids' of resource 'DirectoryObject'.")
    if len(ids) > MAX_IDS:
        raise bad_request(f"Too many ids specified: {len(ids)}. The maximum is {MAX_IDS}.")
    kinds = tuple(KINDS)
    types = body.get("types")
    if types is not None:
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise bad_request("Invalid value specified for property 'types' of resource 'DirectoryObject'.")
        # Types the emulator has no objects of (device, ...) are valid and match nothing.
        wanted = {t.rsplit(".", 1)[-1].lower() for t in types}
        kinds = tuple(k for name, k in _TYPE_KINDS.items() if name in wanted or "directoryobject" in wanted)
    items = []
    for object_id in dict.fromkeys(i.lower() for i in ids):
        found = _find(call, object_id, kinds) if is_guid(object_id) else None
        if found is not None:
            items.append(shown(*found))
    query = call.query()
    return collection_response(call, "directoryObjects", items, query, type_name=TYPE_NAME)


def _owned_objects(call: Call, user_id: str) -> GraphResponse:
    items = []
    for kind in ("applications", "servicePrincipals"):
        for obj in call.ctx.store.views(call.tenant, kind):
            if user_id in (obj.get("_owners") or []):
                items.append(shown(kind, obj) if may(call.caller, _READ_RULE[kind]) else limited(kind, obj))
    return collection_response(call, "directoryObjects", items, call.query(), type_name=TYPE_NAME)


def my_owned_objects(call: Call) -> GraphResponse:
    user = signed_in_user(call)
    require(call.caller, "ownedObjects.read")
    return _owned_objects(call, user["id"])


def user_owned_objects(call: Call) -> GraphResponse:
    user = users.get(call.ctx, call.tenant, call.params["user"])
    if not call.caller.delegated:  # "Application: Not supported." (user-list-ownedobjects)
        raise insufficient_privileges()
    rule = "ownedObjects.read" if user["id"] == call.caller.oid else "users.read"
    require(call.caller, rule)
    return _owned_objects(call, user["id"])


def register(router: Router) -> None:
    router.add("POST", r"/directoryObjects/getByIds", get_by_ids, transactional=False)
    router.add("GET", r"/directoryObjects/" + ID.format(name="object"), get_directory_object)
    router.add("GET", r"/me/ownedObjects", my_owned_objects)
    router.add("GET", r"/users/" + ID.format(name="user") + r"/ownedObjects", user_owned_objects)
