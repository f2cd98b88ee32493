"""Groups: enough of the directory to assign a group to an app and to sign its members in.

Tests seed groups with ``POST /groups`` (``members@odata.bind`` or ``POST
/groups/{id}/members/$ref``) as an administrator would; the token endpoint asks
:func:`member_of` whether a user is a direct member of a group assigned to an app
(group assignment covers direct members only, as in Entra). Shapes, required
properties and errors follow the group resource and "Create group" pages.
"""

from __future__ import annotations

import re
from typing import Any

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import bad_request, invalid_value, not_found, unknown_property
from provisioner.emulator.graph.ids import is_guid, new_id

KIND = "groups"
TYPE_NAME = "microsoft.graph.group"
RESOURCE = "Group"
MEMBERS = "_members"  # internal: direct member object ids (users)
# Properties a create may set; ``members@odata.bind`` / ``owners@odata.bind`` are handled apart.
_WRITABLE = frozenset(
    {
        "description",
        "displayName",
        "groupTypes",
        "isAssignableToRole",
        "mailEnabled",
        "mailNickname",
        "securityEnabled",
        "visibility",
    }
)
KNOWN_PROPERTIES = frozenset(
    {
        "id",
        "deletedDateTime",
        "classification",
        "createdDateTime",
        "description",
        "displayName",
        "expirationDateTime",
        "groupTypes",
        "isAssignableToRole",
        "mail",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
        "proxyAddresses",
        "renewedDateTime",
        "securityEnabled",
        "securityIdentifier",
        "visibility",
    }
)
# mailNickname: ASCII 0-127 except @ () \ [] " ; : <> , SPACE (Create group page); at most 64.
_NICKNAME = re.compile(r"^[\x21-\x7e]{1,64}$")
_NICKNAME_FORBIDDEN = set('@()\\[]";:<>,')
_BIND = re.compile(r"/directoryObjects/([^/?#]+)$|/users/([^/?#]+)$", re.IGNORECASE)


def bound_id(reference: Any) -> str:
    """The object id an ``@odata.id`` / ``@odata.bind`` URL names (``.../directoryObjects/{id}``)."""
    match = _BIND.search(str(reference or ""))
    value = (match.group(1) or match.group(2)) if match else ""
    if not is_guid(value):
        raise bad_request(f"Invalid object identifier '{value or reference}'.")
    return value.lower()


def create(ctx: EmulatorContext, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    member_refs = body.pop("members@odata.bind", None)
    body.pop("owners@odata.bind", None)  # accepted, not modelled
    for key in body:
        if key not in _WRITABLE:
            raise unknown_property(key, TYPE_NAME)
    for prop in ("displayName", "mailNickname"):
        if not isinstance(body.get(prop), str) or not body[prop].strip():
            raise invalid_value(prop, RESOURCE)
    for prop in ("mailEnabled", "securityEnabled"):
        if not isinstance(body.get(prop), bool):
            raise invalid_value(prop, RESOURCE)
    nickname = body["mailNickname"]
    if not _NICKNAME.match(nickname) or _NICKNAME_FORBIDDEN & set(nickname):
        raise invalid_value("mailNickname", RESOURCE)
    group_types = body.get("groupTypes") or []
    if not isinstance(group_types, list) or not all(
        t in ("Unified", "DynamicMembership") for t in group_types
    ):
        raise invalid_value("groupTypes", RESOURCE)
    members: list[str] = []
    if member_refs is not None:
        if not isinstance(member_refs, list):
            raise invalid_value("members", RESOURCE)
        for ref in member_refs:
            user_id = bound_id(ref)
            if ctx.store.view(tenant, "users", user_id) is None:
                raise not_found(user_id)
            if user_id not in members:
                members.append(user_id)
    group = {
        "id": new_id(),
        "deletedDateTime": None,
        "classification": None,
        "createdDateTime": iso(ctx.clock.now()),
        "description": body.get("description"),
        "displayName": body["displayName"],
        "expirationDateTime": None,
        "groupTypes": group_types,
        "isAssignableToRole": body.get("isAssignableToRole"),
        "mail": None,
        "mailEnabled": body["mailEnabled"],
        "mailNickname": nickname,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "proxyAddresses": [],
        "renewedDateTime": iso(ctx.clock.now()),
        "securityEnabled": body["securityEnabled"],
        "securityIdentifier": None,
        "visibility": body.get("visibility"),
        MEMBERS: members,
    }
    ctx.store.put(tenant, KIND, group)
    return group


def get(ctx: EmulatorContext, tenant: str, group_id: str) -> dict[str, Any]:
    if not is_guid(group_id):
        raise bad_request(f"Invalid object identifier '{group_id}'.")
    group = ctx.store.get(tenant, KIND, group_id.lower())
    if group is None:
        raise not_found(group_id)
    return group


def add_member(ctx: EmulatorContext, tenant: str, group: dict[str, Any], member_id: str) -> None:
    if ctx.store.view(tenant, "users", member_id) is None:
        raise not_found(member_id)
    members = list(group.get(MEMBERS) or [])
    if member_id in members:
        raise bad_request(
            "One or more added object references already exist for the following modified properties: "
            "'members'."
        )
    group[MEMBERS] = [*members, member_id]
    ctx.store.put(tenant, KIND, group)


def remove_member(ctx: EmulatorContext, tenant: str, group: dict[str, Any], member_id: str) -> None:
    members = list(group.get(MEMBERS) or [])
    if member_id.lower() not in members:
        raise not_found(member_id)
    group[MEMBERS] = [m for m in members if m != member_id.lower()]
    ctx.store.put(tenant, KIND, group)


def member_of(ctx: EmulatorContext, tenant: str, user_id: str) -> list[str]:
    """Ids of the groups the user is a direct member of."""
    return [g["id"] for g in ctx.store.views(tenant, KIND) if user_id in (g.get(MEMBERS) or [])]


def delete(ctx: EmulatorContext, tenant: str, group: dict[str, Any]) -> None:
    """The group and its app role assignments (they go with their principal, as in Entra).

    Reads the assignments' store kind directly: app_role_assignments depends on this module."""
    ctx.store.delete(tenant, KIND, group["id"])
    for assignment in ctx.store.find_views(tenant, "appRoleAssignments", principalId=group["id"]):
        ctx.store.delete(tenant, "appRoleAssignments", assignment["id"])
