"""Finding a service principal by object id or appId, for every resource nested under one.

``/servicePrincipals/{id}/appRoleAssignments`` and ``.../oauth2PermissionGrants``
are served by their own resource folders; they look their parent up here rather
than through ``service_principals``, which itself cascades deletes into those
resources, so the resource folders depend on each other in one direction only.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication
from provisioner.emulator.graph.errors import bad_request, not_found
from provisioner.emulator.graph.ids import is_guid
from provisioner.emulator.graph.routing import Call, unquote

SERVICE_PRINCIPALS = "servicePrincipals"


def find_service_principal(
    ctx: EmulatorContext, tenant: str, *, object_id: str | None = None, app_id: str | None = None
) -> dict[str, Any] | None:
    """A read-only store view: the first-party resource SPs are too big to copy per request.

    Writers copy first (``service_principals.models.update`` deep-copies; owner changes thaw a copy).
    """
    if object_id is not None:
        if not is_guid(object_id):
            raise bad_request(f"Invalid object identifier '{object_id}'.")
        return ctx.store.view(tenant, SERVICE_PRINCIPALS, object_id.lower())
    if app_id is not None:
        matches = ctx.store.find_views(tenant, SERVICE_PRINCIPALS, appId=app_id.lower())
        return matches[0] if matches else None
    return None


def get_service_principal(
    ctx: EmulatorContext, tenant: str, *, object_id: str | None = None, app_id: str | None = None
) -> dict[str, Any]:
    """Like :func:`find_service_principal`, but 404 for a missing (or not yet replicated) one."""
    found = find_service_principal(ctx, tenant, object_id=object_id, app_id=app_id)
    if not replication.visible(ctx, found):
        raise not_found(object_id or app_id or "")
    return found


def service_principal_in_path(call: Call) -> dict[str, Any]:
    """The service principal a URL names, by ``{sp_id}`` or ``(appId='...')``."""
    return get_service_principal(
        call.ctx, call.tenant, object_id=call.params.get("sp_id"), app_id=unquote(call.params.get("sp_appid"))
    )
