"""Owners of applications and service principals: list, add (``$ref``) and remove.

Both resources keep their owners' object ids under the internal ``_owners`` key;
the owners collection is polymorphic (users and service principals), each entry
annotated with its ``@odata.type``. The caller checks the permission first.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import directory_objects
from provisioner.emulator.graph.envelopes import collection_response, public
from provisioner.emulator.graph.errors import bad_request, not_found
from provisioner.emulator.graph.routing import Call, GraphResponse
from provisioner.emulator.store import thaw


def list_owners(call: Call, obj: dict[str, Any]) -> GraphResponse:
    owners = []
    for owner_id in obj.get("_owners", []):
        found = directory_objects.find(call.ctx, call.tenant, owner_id)
        if found is not None:
            owners.append(directory_objects.annotated(found[0], public(found[1])))
    query = call.query()
    return collection_response(
        call, "directoryObjects", owners, query, type_name="microsoft.graph.directoryObject"
    )


def add_owner(call: Call, obj: dict[str, Any], kind: str) -> GraphResponse:
    reference = call.request.body  # raw: "@odata.id" is the payload here, not an annotation
    odata_id = reference.get("@odata.id") if isinstance(reference, dict) else None
    if not isinstance(odata_id, str) or not odata_id.rstrip("/"):
        raise bad_request("Required property '@odata.id' is missing.")
    owner_id = odata_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if directory_objects.find(call.ctx, call.tenant, owner_id) is None:
        raise not_found(owner_id)
    obj = thaw(obj)  # the target may be a read-only store view
    owners = obj.setdefault("_owners", [])
    if owner_id in owners:
        raise bad_request(
            "One or more added object references already exist for the following modified properties: 'owners'."
        )
    owners.append(owner_id)
    call.ctx.store.put(call.tenant, kind, obj)
    return GraphResponse(204)


def remove_owner(call: Call, obj: dict[str, Any], kind: str) -> GraphResponse:
    owner_id = call.params["owner"].lower()
    if owner_id not in obj.get("_owners", []):
        raise not_found(owner_id)
    obj = thaw(obj)  # the target may be a read-only store view
    obj["_owners"].remove(owner_id)
    call.ctx.store.put(call.tenant, kind, obj)
    return GraphResponse(204)
