"""appRoleAssignments: application permissions (and user/app role grants) on a resource SP.

Addressable from both sides: ``/servicePrincipals/{resource}/appRoleAssignedTo``
and ``/servicePrincipals/{principal}/appRoleAssignments``. The role must be one
the resource publishes for the principal's kind (``allowedMemberTypes``), and a
duplicate is 400 "Permission being assigned already exists on the object." —
the same answers idempotent tools have to handle against Graph.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import directory_objects, replication
from provisioner.emulator.graph.errors import bad_request, invalid_value, not_found, unknown_property
from provisioner.emulator.graph.ids import assignment_id, is_guid

KIND = "appRoleAssignments"
TYPE_NAME = "microsoft.graph.appRoleAssignment"
RESOURCE = "AppRoleAssignment"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
_FIELDS = frozenset(
    {
        "appRoleId",
        "principalId",
        "resourceId",
        "principalType",
        "principalDisplayName",
        "resourceDisplayName",
        "createdDateTime",
        "id",
        "deletedDateTime",
    }
)


def create(
    ctx: EmulatorContext, tenant: str, body: dict[str, Any], *, anchor: str, anchor_id: str
) -> dict[str, Any]:
    """``anchor`` is "resource" (appRoleAssignedTo) or "principal" (appRoleAssignments) for the URL's SP."""
    for key in body:
        if key not in _FIELDS:
            raise unknown_property(key, TYPE_NAME)
    principal_id, resource_id, role_id = (
        body.get("principalId"),
        body.get("resourceId"),
        body.get("appRoleId"),
    )
    for prop, value in (("principalId", principal_id), ("resourceId", resource_id), ("appRoleId", role_id)):
        if not is_guid(value):
            raise invalid_value(prop, RESOURCE)
    principal_id, resource_id, role_id = principal_id.lower(), resource_id.lower(), role_id.lower()
    url_value = resource_id if anchor == "resource" else principal_id
    if url_value != anchor_id.lower():
        prop = "resourceId" if anchor == "resource" else "principalId"
        raise bad_request(
            f"The {prop} in the request body does not match the service principal in the request URL."
        )
    resource = ctx.store.view(tenant, "servicePrincipals", resource_id)  # read only: no copy
    if not replication.visible(ctx, resource):
        raise not_found(resource_id)
    principal = directory_objects.find(ctx, tenant, principal_id, ("users", "servicePrincipals", "groups"))
    if principal is None or not replication.visible(ctx, principal[1]):
        raise not_found(principal_id)
    kind, principal_obj = principal
    # allowedMemberTypes "User" covers users and groups (app roles are assigned to either)
    member_type = "Application" if kind == "servicePrincipals" else "User"
    roles = resource.get("appRoles") or []
    role = next((r for r in roles if str(r.get("id", "")).lower() == role_id), None)
    allowed = (
        role is not None
        and role.get("isEnabled", True)
        and member_type in (role.get("allowedMemberTypes") or [])
    ) or (role_id == DEFAULT_ACCESS and (member_type == "User" or not roles))
    if not allowed:
        raise bad_request(
            f"Permission being assigned was not found on application '{resource.get('appId')}'."
        )
    for existing in ctx.store.find_views(tenant, KIND, principalId=principal_id, resourceId=resource_id):
        if existing["appRoleId"] == role_id:
            raise bad_request("Permission being assigned already exists on the object.")
    assignment = {
        "id": assignment_id(principal_id),
        "deletedDateTime": None,
        "appRoleId": role_id,
        "createdDateTime": iso(ctx.clock.now()),
        "principalDisplayName": principal_obj.get("displayName"),
        "principalId": principal_id,
        "principalType": directory_objects.principal_type(kind),
        "resourceDisplayName": resource.get("displayName"),
        "resourceId": resource_id,
    }
    ctx.store.put(tenant, KIND, assignment)
    return assignment


def list_for(
    ctx: EmulatorContext, tenant: str, *, resource_id: str | None = None, principal_id: str | None = None
) -> list[dict[str, Any]]:
    """Read-only views (callers only list them)."""
    if resource_id is not None:
        return ctx.store.find_views(tenant, KIND, resourceId=resource_id)
    return ctx.store.find_views(tenant, KIND, principalId=principal_id)


def held_by_user(ctx: EmulatorContext, tenant: str, user_id: str) -> list[dict[str, Any]]:
    """The user's own assignments and those of the groups the user is a direct member of."""
    from provisioner.emulator.identity.directory import held_by_user as held

    return held(ctx, tenant, user_id)


def get_for(
    ctx: EmulatorContext, tenant: str, assignment_key: str, *, side: str, sp_id: str
) -> dict[str, Any]:
    """An assignment addressed under a service principal; it must belong to that side."""
    assignment = ctx.store.get(tenant, KIND, assignment_key)
    field = "resourceId" if side == "resource" else "principalId"
    if assignment is None or assignment[field] != sp_id:
        raise not_found(assignment_key)
    return assignment


def delete(ctx: EmulatorContext, tenant: str, assignment: dict[str, Any]) -> None:
    ctx.store.delete(tenant, KIND, assignment["id"])


def delete_referencing(ctx: EmulatorContext, tenant: str, object_id: str) -> None:
    for assignment in ctx.store.list(tenant, KIND):
        if object_id in (assignment.get("principalId"), assignment.get("resourceId")):
            ctx.store.delete(tenant, KIND, assignment["id"])
