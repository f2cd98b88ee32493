"""HTTP handlers for /applications: the collection, one application, its owners, secrets and keys.

Thin: parse the request, check the permission, call the models of this package,
shape the Graph response (``@odata.context``, 201/204). Transport-free, so
``$batch`` runs the very same handlers. Federated identity credentials have their
handlers in :mod:`.federated_responses`.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import delta, expansions, owners
from provisioner.emulator.graph.applications import credentials, key_rollover, schema
from provisioner.emulator.graph.applications import models as applications
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import (
    candidates,
    collection_response,
    count_response,
    entity_response,
)
from provisioner.emulator.graph.errors import GraphApiError, bad_request
from provisioner.emulator.graph.routing import APP, ID, Call, GraphResponse, Router, unquote

ENTITY_SET = "applications"


def target(call: Call) -> dict[str, Any]:
    p = call.params
    return applications.get(
        call.ctx,
        call.tenant,
        object_id=p.get("app_id"),
        app_id=unquote(p.get("app_appid")),
        unique_name=unquote(p.get("app_unique")),
    )


def _app_response(
    call: Call, app: dict[str, Any], *, status: int = 200, secrets: list[str] | None = None
) -> GraphResponse:
    get = call.request.method == "GET"
    select = call.query(expandable=expansions.APPLICATION, type_name=schema.TYPE_NAME).select if get else None
    shown = credentials.hide_key_material(app, select)
    if secrets:
        creds = [{**c, "secretText": v} for c, v in zip(shown["passwordCredentials"], secrets, strict=True)]
        shown = {**shown, "passwordCredentials": creds}
    return entity_response(
        call,
        ENTITY_SET,
        shown,
        type_name=schema.TYPE_NAME,
        status=status,
        known=schema.KNOWN_PROPERTIES,
        expandable=expansions.APPLICATION,
        expand=expansions.expander(call),
    )


# --------------------------------------------------------------------------- collection


def list_applications(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    query = call.query(expandable=expansions.APPLICATION, type_name=schema.TYPE_NAME)
    items = [credentials.hide_key_material(a, query.select) for a in candidates(call, schema.KIND, query)]
    return collection_response(
        call,
        ENTITY_SET,
        items,
        query,
        type_name=schema.TYPE_NAME,
        known=schema.KNOWN_PROPERTIES,
        expand=expansions.expander(call),
    )


def count_applications(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    return count_response(call, len(call.ctx.store.views(call.tenant, schema.KIND)))


def create_application(call: Call) -> GraphResponse:
    require(call.caller, "applications.write", creating=True)
    app, secrets = applications.create(
        call.ctx, call.tenant, call.request.json_object(), owner_id=call.caller.oid
    )
    return _app_response(call, app, status=201, secrets=secrets)


# --------------------------------------------------------------------------- entity


def get_application(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    return _app_response(call, target(call))


def patch_application(call: Call) -> GraphResponse:
    body = call.request.json_object()
    try:
        app = target(call)
    except GraphApiError as error:
        unique = unquote(call.params.get("app_unique"))
        if error.status != 404 or unique is None or not call.request.prefers("create-if-missing"):
            raise
        require(call.caller, "applications.write", creating=True)
        app, secrets = applications.create(
            call.ctx, call.tenant, body, owner_id=call.caller.oid, unique_name=unique
        )
        return _app_response(call, app, status=201, secrets=secrets)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    applications.update(call.ctx, call.tenant, app, body)
    return GraphResponse(204)


def delete_application(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    applications.delete(call.ctx, call.tenant, app)
    return GraphResponse(204)


# --------------------------------------------------------------------------- credentials


def add_password(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    body = call.request.json_object()
    cred = body.get("passwordCredential") or {}
    if not isinstance(cred, dict):
        raise bad_request("Invalid value specified for property 'passwordCredential'.")
    entry = credentials.add_password(call.ctx, call.tenant, app, cred)
    return GraphResponse(
        200, {"@odata.context": call.metadata("microsoft.graph.passwordCredential"), **entry}
    )


def remove_password(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    credentials.remove_password(call.ctx, call.tenant, app, call.request.json_object().get("keyId"))
    return GraphResponse(204)


def _require_key_rollover(call: Call, app: dict[str, Any]) -> None:
    """ "An application does not need any specific permission to roll its own keys" (addKey docs)."""
    if not call.caller.delegated and call.caller.app_id.lower() == app["appId"].lower():
        return
    require(call.caller, "applications.write", owners=app.get("_owners", []))


def add_key(call: Call) -> GraphResponse:
    app = target(call)
    _require_key_rollover(call, app)
    entry = key_rollover.add_key(call.ctx, call.tenant, app, call.request.json_object())
    return GraphResponse(
        200, {"@odata.context": call.metadata("microsoft.graph.keyCredential"), **entry, "key": None}
    )


def remove_key(call: Call) -> GraphResponse:
    app = target(call)
    _require_key_rollover(call, app)
    key_rollover.remove_key(call.ctx, call.tenant, app, call.request.json_object())
    return GraphResponse(204)


# --------------------------------------------------------------------------- owners


def get_app_owners(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    return owners.list_owners(call, target(call))


def add_app_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return owners.add_owner(call, target(call), schema.KIND)


def remove_app_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return owners.remove_owner(call, target(call), schema.KIND)


list_changes = delta.handler(
    kind=schema.KIND,
    deleted_kind=schema.DELETED_KIND,
    entity_set=ENTITY_SET,
    type_name=schema.TYPE_NAME,
    known=schema.KNOWN_PROPERTIES,
    rule="applications.read",
    shown=lambda app: credentials.hide_key_material(dict(app), None),
)


def register(router: Router) -> None:
    router.add("GET", r"/applications/\$count", count_applications)
    router.add("GET", r"/applications" + delta.SUFFIX, list_changes)
    router.add("GET", r"/applications", list_applications)
    router.add("POST", r"/applications", create_application)
    router.add("GET", APP, get_application)
    router.add("PATCH", APP, patch_application)
    router.add("DELETE", APP, delete_application)
    router.add("POST", APP + r"/addPassword", add_password)
    router.add("POST", APP + r"/removePassword", remove_password)
    router.add("POST", APP + r"/addKey", add_key)
    router.add("POST", APP + r"/removeKey", remove_key)
    router.add("GET", APP + r"/owners", get_app_owners)
    router.add("POST", APP + r"/owners/\$ref", add_app_owner)
    router.add("DELETE", APP + r"/owners/" + ID.format(name="owner") + r"/\$ref", remove_app_owner)
