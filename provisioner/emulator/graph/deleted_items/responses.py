"""HTTP handlers for ``/directory/deletedItems``: soft-deleted applications and service principals.

Entra keeps both kinds in one recycle bin addressed by object id; the typed
casts (``microsoft.graph.application`` / ``microsoft.graph.servicePrincipal``)
list one kind each. Restore and permanent delete go through the model of the
object's kind, so each keeps its own rules (uniqueName clash, appId in use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.applications import models as applications
from provisioner.emulator.graph.applications import schema as application_schema
from provisioner.emulator.graph.applications.credentials import hide_key_material
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, project, public
from provisioner.emulator.graph.errors import bad_request, not_found
from provisioner.emulator.graph.ids import is_guid
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router
from provisioner.emulator.graph.service_principals import models as service_principals


@dataclass(frozen=True)
class _Bin:
    """One kind of soft-deleted object: where it is stored and how it comes back."""

    kind: str
    type_name: str
    known: frozenset[str]
    read: str
    write: str
    restore: Callable[[EmulatorContext, str, str], dict[str, Any]]
    purge: Callable[[EmulatorContext, str, str], None]


_BINS = (
    _Bin(
        application_schema.DELETED_KIND,
        application_schema.TYPE_NAME,
        application_schema.KNOWN_PROPERTIES,
        "applications.read",
        "applications.write",
        applications.restore,
        applications.purge,
    ),
    _Bin(
        service_principals.DELETED_KIND,
        service_principals.TYPE_NAME,
        service_principals.KNOWN_PROPERTIES,
        "servicePrincipals.read",
        "servicePrincipals.write",
        service_principals.restore,
        service_principals.purge,
    ),
)


def _lister(bin_: _Bin) -> Callable[[Call], GraphResponse]:
    def list_deleted(call: Call) -> GraphResponse:
        require(call.caller, bin_.read)
        items = call.ctx.store.views(call.tenant, bin_.kind)
        response = collection_response(
            call, "directoryObjects", items, call.query(), type_name=bin_.type_name, known=bin_.known
        )
        response.body["@odata.context"] = call.metadata(f"directory/deletedItems/{bin_.type_name}")
        return response

    return list_deleted


def _deleted(call: Call) -> tuple[_Bin, dict[str, Any]]:
    object_id = call.params["deleted"]
    if not is_guid(object_id):
        raise bad_request(f"Invalid object identifier '{object_id}'.")
    for bin_ in _BINS:
        found = call.ctx.store.get(call.tenant, bin_.kind, object_id.lower())
        if found is not None:
            return bin_, found
    raise not_found(object_id)


def _view(bin_: _Bin, obj: dict[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    shown = project(obj, select, type_name=bin_.type_name, known=bin_.known)
    if bin_.kind == application_schema.DELETED_KIND:
        shown = hide_key_material(shown, select)
    return {"@odata.type": f"#{bin_.type_name}", **shown}


def get_deleted_item(call: Call) -> GraphResponse:
    bin_, deleted = _deleted(call)
    require(call.caller, bin_.read)
    body = {"@odata.context": call.metadata("directoryObjects/$entity")}
    body.update(_view(bin_, deleted, call.query().select))
    return GraphResponse(200, body)


def restore_deleted_item(call: Call) -> GraphResponse:
    bin_, deleted = _deleted(call)
    require(call.caller, bin_.write, owners=deleted.get("_owners", []))
    restored = bin_.restore(call.ctx, call.tenant, deleted["id"])
    body = {"@odata.context": call.metadata("directoryObjects/$entity")}
    body.update(_view(bin_, public(restored)))
    return GraphResponse(200, body)


def purge_deleted_item(call: Call) -> GraphResponse:
    bin_, deleted = _deleted(call)
    require(call.caller, bin_.write, owners=deleted.get("_owners", []))
    bin_.purge(call.ctx, call.tenant, deleted["id"])
    return GraphResponse(204)


def register(router: Router) -> None:
    # The SDK casts with the "graph." namespace alias; Graph accepts it as well as "microsoft.graph.".
    for bin_ in _BINS:
        name = bin_.type_name.rsplit(".", 1)[-1]
        router.add("GET", r"/directory/deletedItems/(?:microsoft\.)?graph\." + name, _lister(bin_))
    deleted = r"/directory/deletedItems/" + ID.format(name="deleted")
    router.add("GET", deleted, get_deleted_item)
    router.add("POST", deleted + r"/restore", restore_deleted_item)
    router.add("DELETE", deleted, purge_deleted_item)
