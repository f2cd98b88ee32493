"""Polymorphic directory-object lookups (owners, assignment principals, deleted items).

Graph's ``directoryObject`` collections mix users and service principals; the
``@odata.type`` annotation tells clients which one each entry is. The
``/directoryObjects`` and ``ownedObjects`` routes are in :mod:`.responses`.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.context import EmulatorContext

# Store kind -> OData type of the objects it holds.
KINDS = {
    "users": "#microsoft.graph.user",
    "servicePrincipals": "#microsoft.graph.servicePrincipal",
    "applications": "#microsoft.graph.application",
    "groups": "#microsoft.graph.group",
}


def find(
    ctx: EmulatorContext, tenant: str, object_id: str, kinds: tuple[str, ...] = ("users", "servicePrincipals")
) -> tuple[str, dict[str, Any]] | None:
    """The object as a read-only store view (callers only read it)."""
    for kind in kinds:
        obj = ctx.store.view(tenant, kind, object_id)
        if obj is not None:
            return kind, obj
    return None


def annotated(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.type": KINDS[kind], **obj}


def principal_type(kind: str) -> str:
    return {"users": "User", "servicePrincipals": "ServicePrincipal", "groups": "Group"}[kind]
