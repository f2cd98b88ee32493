"""HTTP handlers for app management policies (``/policies/...``) and their assignment to applications
and service principals (``{applications|servicePrincipals}/{id}/appManagementPolicies/$ref``: one
policy per object; the policy then judges that object's new credentials instead of the tenant default,
whose ``servicePrincipalRestrictions`` apply to service principals)."""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.applications import management_policies as models
from provisioner.emulator.graph.applications import schema as app_schema
from provisioner.emulator.graph.applications.responses import target
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import collection_response, entity_response
from provisioner.emulator.graph.errors import bad_request, invalid_value, not_found, unknown_property
from provisioner.emulator.graph.ids import new_id
from provisioner.emulator.graph.lookups import SERVICE_PRINCIPALS, service_principal_in_path
from provisioner.emulator.graph.routing import APP, ID, SP, Call, GraphResponse, Router

_POLICY_SET = "policies/appManagementPolicies"
_APP_POLICY_FIELDS = ("displayName", "description", "isEnabled", "restrictions")
_DEFAULT_FIELDS = (
    "displayName",
    "description",
    "isEnabled",
    "applicationRestrictions",
    "servicePrincipalRestrictions",
)


def get_default(call: Call) -> GraphResponse:
    require(call.caller, "policies.read")
    policy = models.default_policy(call.ctx, call.tenant)
    return entity_response(
        call, "policies/defaultAppManagementPolicy", policy, type_name=models.DEFAULT_TYPE_NAME
    )


def patch_default(call: Call) -> GraphResponse:
    require(call.caller, "policies.write")
    policy = dict(models.default_policy(call.ctx, call.tenant))
    body = call.request.json_object()
    for key, value in body.items():
        if key not in _DEFAULT_FIELDS:
            raise unknown_property(key, models.DEFAULT_TYPE_NAME)
        if key.endswith("Restrictions"):
            value = models.check_restrictions(value, key, "tenantAppManagementPolicy")
        elif key == "isEnabled" and not isinstance(value, bool):
            raise invalid_value(key, "tenantAppManagementPolicy")
        policy[key] = value
    call.ctx.store.put(call.tenant, models.DEFAULT_KIND, policy, models.DEFAULT_ID)
    return GraphResponse(204)


def _policy_fields(body: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    for key, value in body.items():
        if key not in _APP_POLICY_FIELDS:
            raise unknown_property(key, models.TYPE_NAME)
        if key == "restrictions":
            value = models.check_restrictions(value, key, "appManagementPolicy")
        elif (key == "isEnabled" and not isinstance(value, bool)) or (
            key == "displayName" and (not isinstance(value, str) or not value.strip())
        ):
            raise invalid_value(key, "appManagementPolicy")
        policy[key] = value
    return policy


def list_policies(call: Call) -> GraphResponse:
    require(call.caller, "policies.read")
    items = call.ctx.store.list(call.tenant, models.KIND)
    return collection_response(call, _POLICY_SET, items, call.query(), type_name=models.TYPE_NAME)


def create_policy(call: Call) -> GraphResponse:
    require(call.caller, "policies.write")
    body = call.request.json_object()
    if not body.get("displayName"):
        raise bad_request("Required property 'displayName' is missing.")
    policy = _policy_fields(
        body, {"id": new_id(), "description": None, "isEnabled": True, "restrictions": {}}
    )
    call.ctx.store.put(call.tenant, models.KIND, policy, policy["id"])
    return entity_response(call, _POLICY_SET, policy, type_name=models.TYPE_NAME, status=201)


def _policy(call: Call) -> dict[str, Any]:
    found = call.ctx.store.get(call.tenant, models.KIND, call.params["policy"].lower())
    if found is None:
        raise not_found(call.params["policy"])
    return found


def get_policy(call: Call) -> GraphResponse:
    require(call.caller, "policies.read")
    return entity_response(call, _POLICY_SET, _policy(call), type_name=models.TYPE_NAME)


def patch_policy(call: Call) -> GraphResponse:
    require(call.caller, "policies.write")
    policy = _policy_fields(call.request.json_object(), dict(_policy(call)))
    call.ctx.store.put(call.tenant, models.KIND, policy, policy["id"])
    return GraphResponse(204)


def delete_policy(call: Call) -> GraphResponse:
    require(call.caller, "policies.write")
    policy = _policy(call)
    for kind in (app_schema.KIND, SERVICE_PRINCIPALS):
        for app in call.ctx.store.list(call.tenant, kind):
            if policy["id"] in app.get("_appManagementPolicies", []):
                raise bad_request("The policy is applied to applications; remove it from them first.")
    call.ctx.store.delete(call.tenant, models.KIND, policy["id"])
    return GraphResponse(204)


def applies_to(call: Call) -> GraphResponse:
    require(call.caller, "policies.read")
    policy = _policy(call)
    apps = [
        {
            "@odata.type": "#microsoft.graph.application",
            "id": a["id"],
            "appId": a["appId"],
            "displayName": a.get("displayName"),
        }
        for a in call.ctx.store.list(call.tenant, app_schema.KIND)
        if policy["id"] in a.get("_appManagementPolicies", [])
    ] + [
        {
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": sp["id"],
            "appId": sp.get("appId"),
            "displayName": sp.get("displayName"),
        }
        for sp in call.ctx.store.list(call.tenant, SERVICE_PRINCIPALS)
        if policy["id"] in sp.get("_appManagementPolicies", [])
    ]
    return collection_response(
        call, "directoryObjects", apps, call.query(), type_name="microsoft.graph.directoryObject"
    )


def _object(call: Call) -> tuple[dict[str, Any], str]:
    """The application or service principal the route names, and its store kind."""
    if "sp_id" in call.params or "sp_appid" in call.params:
        return dict(service_principal_in_path(call)), SERVICE_PRINCIPALS  # a copy: the store hands out views
    return target(call), app_schema.KIND


def app_policies(call: Call) -> GraphResponse:
    require(call.caller, "policies.read")
    app, _ = _object(call)
    items = [
        p
        for pid in app.get("_appManagementPolicies", [])
        if (p := call.ctx.store.get(call.tenant, models.KIND, pid)) is not None
    ]
    return collection_response(call, _POLICY_SET, items, call.query(), type_name=models.TYPE_NAME)


def assign_policy(call: Call) -> GraphResponse:
    """``POST {applications|servicePrincipals}/{id}/appManagementPolicies/$ref``: one policy per object."""
    require(call.caller, "policies.write")
    app, kind = _object(call)
    reference = call.request.body
    odata_id = reference.get("@odata.id") if isinstance(reference, dict) else None
    if not isinstance(odata_id, str) or not odata_id.rstrip("/"):
        raise bad_request("Required property '@odata.id' is missing.")
    policy_id = odata_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if call.ctx.store.get(call.tenant, models.KIND, policy_id) is None:
        raise not_found(policy_id)
    if app.get("_appManagementPolicies"):
        raise bad_request("An application can have only one app management policy applied.")
    app["_appManagementPolicies"] = [policy_id]
    call.ctx.store.put(call.tenant, kind, app)
    return GraphResponse(204)


def unassign_policy(call: Call) -> GraphResponse:
    require(call.caller, "policies.write")
    app, kind = _object(call)
    policy_id = call.params["policy"].lower()
    if policy_id not in app.get("_appManagementPolicies", []):
        raise not_found(policy_id)
    app["_appManagementPolicies"] = []
    call.ctx.store.put(call.tenant, kind, app)
    return GraphResponse(204)


def register(router: Router) -> None:
    router.add("GET", r"/policies/defaultAppManagementPolicy", get_default)
    router.add("PATCH", r"/policies/defaultAppManagementPolicy", patch_default)
    router.add("GET", r"/policies/appManagementPolicies", list_policies)
    router.add("POST", r"/policies/appManagementPolicies", create_policy)
    one = r"/policies/appManagementPolicies/" + ID.format(name="policy")
    router.add("GET", one + r"/appliesTo", applies_to)
    router.add("GET", one, get_policy)
    router.add("PATCH", one, patch_policy)
    router.add("DELETE", one, delete_policy)
    for owner in (APP, SP):
        router.add("GET", owner + r"/appManagementPolicies", app_policies)
        router.add("POST", owner + r"/appManagementPolicies/\$ref", assign_policy)
        router.add(
            "DELETE",
            owner + r"/appManagementPolicies/" + ID.format(name="policy") + r"/\$ref",
            unassign_policy,
        )
