"""HTTP handlers for /organization (the tenant's organization object)."""

from __future__ import annotations

from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.errors import not_found
from provisioner.emulator.graph.organization import models as organization
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router


def list_organization(call: Call) -> GraphResponse:
    require(call.caller, "organization.read")
    items = call.ctx.store.list(call.tenant, organization.KIND)
    return collection_response(call, "organization", items, call.query(), type_name=organization.TYPE_NAME)


def get_organization(call: Call) -> GraphResponse:
    require(call.caller, "organization.read")
    org = call.ctx.store.get(call.tenant, organization.KIND, call.params["org"].lower())
    if org is None:
        raise not_found(call.params["org"])
    return entity_response(call, "organization", org, type_name=organization.TYPE_NAME)


def register(router: Router) -> None:
    router.add("GET", r"/organization", list_organization)
    router.add("GET", r"/organization/" + ID.format(name="org"), get_organization)
