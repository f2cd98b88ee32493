"""HTTP handlers for ``/beta/auditLogs/signIns`` (List and Get signIn, beta).

Follows the beta reference: ``AuditLog.Read.All`` (or ``Directory.Read.All``) required; a tenant
without Entra ID P1/P2 gets 403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant``; without
a ``signInEventTypes`` filter only interactive user sign-ins are listed (the emulator records none,
so the list is empty); newest first; at most 1,000 per page; ``$filter`` on ``appId``,
``createdDateTime`` (``ge``/``le``), ``signInEventTypes/any(...)`` and the other listed properties.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph import odata
from provisioner.emulator.graph.audit_logs import models
from provisioner.emulator.graph.auth import require
from provisioner.emulator.graph.envelopes import project
from provisioner.emulator.graph.errors import GraphApiError, not_found
from provisioner.emulator.graph.routing import ID, Call, GraphResponse, Router

MAX_PAGE = 1000


def _check_access(call: Call) -> None:
    require(call.caller, "auditLogs.read")
    if not models.settings(call.ctx, call.tenant)["premium"]:
        raise GraphApiError(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )


def _context(call: Call, fragment: str) -> str:
    return f"{call.ctx.base_url}/beta/$metadata#{fragment}"


def _mentions_event_types(node: Any) -> bool:
    return any(p.lower().startswith("signineventtypes") for p in odata.referenced_properties(node))


def list_sign_ins(call: Call) -> GraphResponse:
    _check_access(call)
    query = call.query(directory=False, max_top=MAX_PAGE, type_name=models.TYPE_NAME)
    rows = models.visible(call.ctx, call.tenant, call.ctx.clock.now())
    if query.filter is None or not _mentions_event_types(query.filter):
        rows = [r for r in rows if "interactiveUser" in (r.get("signInEventTypes") or [])]
    page = odata.apply(query, rows, default_top=MAX_PAGE)
    body: dict[str, Any] = {"@odata.context": _context(call, "auditLogs/signIns")}
    if page.next_offset is not None:
        body["@odata.nextLink"] = odata.next_link(
            f"{call.ctx.base_url}/beta",
            call.request.path,
            query.raw,
            offset=page.next_offset,
            directory=False,
        )
    body["value"] = [
        project(item, query.select, type_name=models.TYPE_NAME, known=set(models.PROPERTIES), default=None)
        for item in page.items
    ]
    return GraphResponse(200, body)


def get_sign_in(call: Call) -> GraphResponse:
    _check_access(call)
    wanted = call.params["id"].lower()
    for row in models.visible(call.ctx, call.tenant, call.ctx.clock.now()):
        if str(row["id"]).lower() == wanted:
            body = {"@odata.context": _context(call, "auditLogs/signIns/$entity"), **dict(row)}
            return GraphResponse(200, body)
    raise not_found(call.params["id"])


def register(router: Router) -> None:
    router.add("GET", r"/auditLogs/signIns", list_sign_ins)
    router.add("GET", r"/auditLogs/signIns/" + ID.format(name="id"), get_sign_in)
