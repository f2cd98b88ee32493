"""HTTP handlers for /applications, their owners, secrets, keys and federated credentials.

Thin: parse the request, check the permission, call the model in
``applications.py``, shape the Graph response (``@odata.context``, 201/204).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import (
    applications,
    deleted_item_handlers,
    directory_objects,
    expansions,
    key_rollover,
)
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.errors import GraphError, bad_request, not_found
from provisioner.emulator.graph.routing import (
    APP,
    ID,
    Call,
    GraphResponse,
    Router,
    candidates,
    collection_response,
    entity_response,
    public,
)
from provisioner.emulator.store import thaw

ENTITY_SET = "applications"


def unquote(value: str | None) -> str | None:
    """Key values in URLs double single quotes (``uniqueName='O''Brien'``)."""
    return value.replace("''", "'") if value is not None else None


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
    select = (
        call.query(expandable=expansions.APPLICATION, type_name=applications.TYPE_NAME).select
        if get
        else None
    )
    shown = applications.hide_key_material(app, select)
    if secrets:
        creds = [{**c, "secretText": v} for c, v in zip(shown["passwordCredentials"], secrets, strict=True)]
        shown = {**shown, "passwordCredentials": creds}
    return entity_response(
        call,
        ENTITY_SET,
        shown,
        type_name=applications.TYPE_NAME,
        status=status,
        known=applications.KNOWN_PROPERTIES,
        expandable=expansions.APPLICATION,
        expand=expansions.expander(call),
    )


# --------------------------------------------------------------------------- collection


def list_applications(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    query = call.query(expandable=expansions.APPLICATION, type_name=applications.TYPE_NAME)
    items = [
        applications.hide_key_material(a, query.select) for a in candidates(call, applications.KIND, query)
    ]
    return collection_response(
        call,
        ENTITY_SET,
        items,
        query,
        type_name=applications.TYPE_NAME,
        known=applications.KNOWN_PROPERTIES,
        expand=expansions.expander(call),
    )


def count_applications(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    return count_response(call, len(call.ctx.store.views(call.tenant, applications.KIND)))


def count_response(call: Call, total: int) -> GraphResponse:
    if call.request.header("consistencylevel").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    return GraphResponse(200, str(total), {"Content-Type": "text/plain"})


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
    except GraphError as error:
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
    entry = applications.add_password(call.ctx, call.tenant, app, cred)
    return GraphResponse(
        200, {"@odata.context": call.metadata("microsoft.graph.passwordCredential"), **entry}
    )


def remove_password(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    applications.remove_password(call.ctx, call.tenant, app, call.request.json_object().get("keyId"))
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


def get_app_owners(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    return list_owners(call, target(call))


def add_app_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return add_owner(call, target(call), applications.KIND)


def remove_app_owner(call: Call) -> GraphResponse:
    require(call.caller, "applications.owners")
    return remove_owner(call, target(call), applications.KIND)


# --------------------------------------------------------------------------- federated identity credentials

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
    cred = applications.add_federated_credential(app, call.request.json_object())
    call.ctx.store.put(call.tenant, applications.KIND, app)
    return entity_response(call, _fic_set(app), cred, type_name=_FIC_TYPE, status=201)


def get_fic(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    app = target(call)
    cred = applications.find_federated_credential(app, unquote(call.params["fic"]) or "")
    return entity_response(call, _fic_set(app), cred, type_name=_FIC_TYPE)


def patch_fic(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    cred = applications.find_federated_credential(app, unquote(call.params["fic"]) or "")
    body = call.request.json_object()
    if "name" in body and body["name"] != cred["name"]:
        raise bad_request("Property 'name' is read-only and cannot be set.")
    for key in ("issuer", "subject", "audiences", "description"):
        if key in body:
            cred[key] = body[key]
    call.ctx.store.put(call.tenant, applications.KIND, app)
    return GraphResponse(204)


def delete_fic(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    cred = applications.find_federated_credential(app, unquote(call.params["fic"]) or "")
    app["_federatedIdentityCredentials"].remove(cred)
    call.ctx.store.put(call.tenant, applications.KIND, app)
    return GraphResponse(204)


def register(router: Router) -> None:
    router.add("GET", r"/applications/\$count", count_applications)
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
    fic = APP + r"/federatedIdentityCredentials"
    fic_key = fic + r"(?:/(?P<fic>[^/()']+)|\(name='(?P<fic_name>(?:[^']|'')*)'\))"
    router.add("GET", fic, list_fics)
    router.add("POST", fic, create_fic)
    router.add("GET", fic_key, _by_name(get_fic))
    router.add("PATCH", fic_key, _by_name(patch_fic))
    router.add("DELETE", fic_key, _by_name(delete_fic))
    deleted_item_handlers.register(router)


def _by_name(handler: Any) -> Any:
    """``federatedIdentityCredentials(name='x')`` addresses the same credential as its id."""

    def wrapped(call: Call) -> GraphResponse:
        if "fic_name" in call.params:
            call.params["fic"] = call.params["fic_name"]
        return handler(call)

    return wrapped
