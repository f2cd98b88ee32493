"""HTTP handlers for an application's federatedIdentityCredentials (by id or ``(name='…')``).

The credentials live inside the application object (internal key
``_federatedIdentityCredentials``); :mod:`.federated` holds their rules.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.applications import federated, schema
from provisioner.emulator.graph.applications.responses import target
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.routing import APP, Call, GraphResponse, Router, unquote

_FIC_TYPE = "microsoft.graph.federatedIdentityCredential"


def _fic_set(app: dict[str, Any]) -> str:
    return f"applications('{app['id']}')/federatedIdentityCredentials"


def list_fics(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    app = target(call)
    items = app.get("_federatedIdentityCredentials", [])
    return collection_response(call, _fic_set(app), items, call.query(), type_name=_FIC_TYPE)


def create_fic(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    cred = federated.add_federated_credential(app, call.request.json_object())
    call.ctx.store.put(call.tenant, schema.KIND, app)
    response = entity_response(call, _fic_set(app), cred, type_name=_FIC_TYPE, status=201)
    # The documented create response names the new credential by its directory path.
    odata_id = (
        f"{call.ctx.base_url}/v2/{call.tenant}/directoryObjects/$/Microsoft.DirectoryServices.Application"
        f"('{app['id']}')/federatedIdentityCredentials/{cred['id']}"
    )
    response.body = {
        "@odata.context": response.body["@odata.context"],
        "@odata.id": odata_id,
        **response.body,
    }
    return response


def get_fic(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    app = target(call)
    cred = federated.find_federated_credential(app, unquote(call.params["fic"]) or "")
    return entity_response(call, _fic_set(app), cred, type_name=_FIC_TYPE)


def patch_fic(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    cred = federated.find_federated_credential(app, unquote(call.params["fic"]) or "")
    federated.update_federated_credential(app, cred, call.request.json_object())
    call.ctx.store.put(call.tenant, schema.KIND, app)
    return GraphResponse(204)


def delete_fic(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    cred = federated.find_federated_credential(app, unquote(call.params["fic"]) or "")
    app["_federatedIdentityCredentials"].remove(cred)
    call.ctx.store.put(call.tenant, schema.KIND, app)
    return GraphResponse(204)


def register(router: Router) -> None:
    fic = APP + r"/federatedIdentityCredentials"
    fic_key = fic + r"(?:/(?P<fic>[^/()']+)|\(name='(?P<fic_name>(?:[^']|'')*)'\))"
    router.add("GET", fic, list_fics)
    router.add("POST", fic, create_fic)
    router.add("GET", fic_key, _by_name(get_fic))
    router.add("PATCH", fic_key, _by_name(patch_fic))
    router.add("DELETE", fic_key, _by_name(delete_fic))


def _by_name(handler: Any) -> Any:
    """``federatedIdentityCredentials(name='x')`` addresses the same credential as its id."""

    def wrapped(call: Call) -> GraphResponse:
        if "fic_name" in call.params:
            call.params["fic"] = call.params["fic_name"]
        return handler(call)

    return wrapped
