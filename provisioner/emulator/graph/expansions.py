"""``$expand`` for applications and service principals: owners, a principal's app role assignments, endpoints.

Graph inlines a navigation property as an array under its own name, each
directory object annotated with ``@odata.type`` (owners mix users and service
principals). Directory resources expand one level only, accept a nested
``$select`` and return at most 20 related objects per entity (Graph's documented
limit; clients page the navigation endpoint for more), which is what this does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioner.emulator.graph import directory_objects
from provisioner.emulator.graph.app_role_assignments import models as app_role_assignments
from provisioner.emulator.graph.envelopes import project, public
from provisioner.emulator.graph.routing import Call, Expander

MAX_EXPANDED = 20
APPLICATION = frozenset({"owners"})
SERVICE_PRINCIPAL = frozenset({"owners", "appRoleAssignments", "endpoints"})


def _owners(call: Call, obj: Mapping[str, Any], select: list[str] | None) -> list[dict[str, Any]]:
    out = []
    for owner_id in list(obj.get("_owners", []))[:MAX_EXPANDED]:
        found = directory_objects.find(call.ctx, call.tenant, owner_id)
        if found is None:
            continue
        kind, owner = found
        shown = project(owner, select, type_name=directory_objects.KINDS[kind].lstrip("#"))
        out.append({"@odata.type": directory_objects.KINDS[kind], **shown})
    return out


def _assignments(call: Call, obj: Mapping[str, Any], select: list[str] | None) -> list[dict[str, Any]]:
    items = app_role_assignments.list_for(call.ctx, call.tenant, principal_id=obj["id"])[:MAX_EXPANDED]
    return [project(public(a), select, type_name=app_role_assignments.TYPE_NAME) for a in items]


def expander(call: Call) -> Expander:
    """The function that inlines the requested navigation properties of one object."""

    def expand(obj: Mapping[str, Any], wanted: list[tuple[str, list[str] | None]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, select in wanted:
            if name == "owners":
                out[name] = _owners(call, obj, select)
            elif name == "endpoints":
                out[name] = []  # no service in the emulator publishes discovery endpoints
            else:
                out[name] = _assignments(call, obj, select)
        return out

    return expand
