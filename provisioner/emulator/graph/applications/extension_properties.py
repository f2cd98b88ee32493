"""An application's directory extension definitions (``/applications/{id}/extensionProperties``).

Create, list, get and delete, as the extensionProperty reference describes them: the
stored name is ``extension_{appId without hyphens}_{name}``, ``dataType`` and
``targetObjects`` take the documented values, an application holds at most 100
definitions. They live inside the application (internal key ``_extensionProperties``),
so they go to the deleted items and come back with it.
"""

from __future__ import annotations

import re
from typing import Any

from provisioner.emulator.graph.applications import schema
from provisioner.emulator.graph.applications.responses import target
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.errors import bad_request, invalid_value, not_found, unknown_property
from provisioner.emulator.graph.ids import new_id
from provisioner.emulator.graph.routing import APP, ID, Call, GraphResponse, Router

TYPE_NAME = "microsoft.graph.extensionProperty"
RESOURCE = "ExtensionProperty"
KEY = "_extensionProperties"
MAX_PER_APPLICATION = 100
DATA_TYPES = frozenset({"Binary", "Boolean", "DateTime", "Integer", "LargeInteger", "String"})
TARGET_OBJECTS = frozenset({"User", "Group", "AdministrativeUnit", "Application", "Device", "Organization"})
_FIELDS = frozenset({"name", "dataType", "targetObjects", "isMultiValued"})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _set(app: dict[str, Any]) -> str:
    return f"applications('{app['id']}')/extensionProperties"


def create(app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    for key in body:
        if key not in _FIELDS:
            raise unknown_property(key, TYPE_NAME)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("Required property 'name' is missing.")
    if not _NAME.match(name):
        raise invalid_value("name", RESOURCE)
    data_type = body.get("dataType")
    if data_type not in DATA_TYPES:
        raise invalid_value("dataType", RESOURCE)
    targets = body.get("targetObjects")
    if not isinstance(targets, list) or not targets or any(t not in TARGET_OBJECTS for t in targets):
        raise invalid_value("targetObjects", RESOURCE)
    multi = body.get("isMultiValued", False)
    if not isinstance(multi, bool):
        raise invalid_value("isMultiValued", RESOURCE)
    existing = app.setdefault(KEY, [])
    full_name = f"extension_{app['appId'].replace('-', '')}_{name}"
    if any(p["name"].lower() == full_name.lower() for p in existing):
        raise bad_request(f"An extension property exists with the name {full_name}.")
    if len(existing) >= MAX_PER_APPLICATION:
        raise bad_request(
            f"An application can have at most {MAX_PER_APPLICATION} extension properties.",
        )
    prop = {
        "id": new_id(),
        "deletedDateTime": None,
        "appDisplayName": app.get("displayName"),
        "dataType": data_type,
        "isMultiValued": multi,
        "isSyncedFromOnPremises": False,
        "name": full_name,
        "targetObjects": list(dict.fromkeys(targets)),
    }
    existing.append(prop)
    return prop


def find(app: dict[str, Any], prop_id: str) -> dict[str, Any]:
    for prop in app.get(KEY, []):
        if prop["id"].lower() == prop_id.lower():
            return prop
    raise not_found(prop_id)


def list_properties(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    app = target(call)
    items = [{**p, "appDisplayName": app.get("displayName")} for p in app.get(KEY, [])]
    return collection_response(call, _set(app), items, call.query(), type_name=TYPE_NAME)


def create_property(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    prop = create(app, call.request.json_object())
    call.ctx.store.put(call.tenant, schema.KIND, app)
    return entity_response(call, _set(app), prop, type_name=TYPE_NAME, status=201)


def get_property(call: Call) -> GraphResponse:
    require(call.caller, "applications.read")
    app = target(call)
    prop = find(app, call.params["extension"])
    return entity_response(call, _set(app), prop, type_name=TYPE_NAME)


def delete_property(call: Call) -> GraphResponse:
    app = target(call)
    require(call.caller, "applications.write", owners=app.get("_owners", []))
    prop = find(app, call.params["extension"])
    app[KEY].remove(prop)
    call.ctx.store.put(call.tenant, schema.KIND, app)
    return GraphResponse(204)


def register(router: Router) -> None:
    collection = APP + r"/extensionProperties"
    item = collection + "/" + ID.format(name="extension")
    router.add("GET", collection, list_properties)
    router.add("POST", collection, create_property)
    router.add("GET", item, get_property)
    router.add("DELETE", item, delete_property)
