"""The bodies Graph answers with: ``$select`` projection and the entity and collection envelopes.

Every response goes through :func:`public` (internal keys such as secret hashes and
owners never leave the emulator) and, for GET, ``$select`` (unknown names are a 400
like Graph's). Collections carry ``@odata.context``, ``@odata.count`` when asked for
with ``ConsistencyLevel: eventual``, ``value`` and an ``@odata.nextLink`` while more
pages remain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioner.emulator.graph import odata
from provisioner.emulator.graph.errors import bad_request, unsupported_query
from provisioner.emulator.graph.routing import Call, Expander, GraphResponse


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Never serialise internal keys (leading underscore) such as secret hashes."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def project(
    obj: Mapping[str, Any],
    select: list[str] | None,
    *,
    type_name: str,
    known: set[str] | frozenset[str] | None = None,
    default: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Apply ``$select`` (case-insensitive, unknown names are a 400 like Graph's)."""
    data = public(obj)
    if not select:
        if default is not None:
            return {k: data.get(k) for k in default}
        return data
    names = known if known is not None else set(data)
    by_lower = {name.lower(): name for name in names}
    out: dict[str, Any] = {}
    for requested in select:
        if requested == "*":
            return data
        name = by_lower.get(requested.lower())
        if name is None:
            raise bad_request(f"Could not find a property named '{requested}' on type '{type_name}'.")
        out[name] = data.get(name)
    return out


GUID_PROPERTIES = frozenset({"id", "appId", "clientId", "resourceId", "principalId"})


def candidates(call: Call, kind: str, query: odata.Query) -> list[dict[str, Any]]:
    """Objects a list request has to look at: an exact-match lookup when the filter pins an id.

    Read-only views of the store (list responses only read and project them), so
    listing service principals does not copy the first-party ones' ~1500 permissions.
    """
    hint = odata.indexed_equality(query.filter, GUID_PROPERTIES)
    if hint is not None:
        prop, value = hint
        return call.ctx.store.find_views(call.tenant, kind, **{prop: value})
    return call.ctx.store.views(call.tenant, kind)


def entity_context(call: Call, entity_set: str, select: list[str] | None) -> str:
    if select:
        return call.metadata(f"{entity_set}({','.join(select)})/$entity")
    return call.metadata(f"{entity_set}/$entity")


def collection_response(
    call: Call,
    entity_set: str,
    items: list[dict[str, Any]],
    query: odata.Query,
    *,
    type_name: str,
    known: set[str] | frozenset[str] | None = None,
    default_select: tuple[str, ...] | None = None,
    default_top: int = 100,
    directory: bool = True,
    expand: Expander | None = None,
) -> GraphResponse:
    """The ``{"@odata.context", "@odata.count"?, "value", "@odata.nextLink"?}`` envelope."""
    if query.filter is not None and known is not None:
        by_lower = {name.lower() for name in known}
        for prop in sorted(odata.referenced_properties(query.filter)):
            if prop.lower() not in by_lower:
                resource = type_name.rsplit(".", 1)[-1]
                raise unsupported_query(
                    f"Unsupported or invalid query filter clause specified for property '{prop}' of resource"
                    f" '{resource[:1].upper() + resource[1:]}'."
                )
    page = odata.apply(query, items, default_top=default_top)
    context = f"{entity_set}({','.join(query.select)})" if query.select else entity_set
    body: dict[str, Any] = {"@odata.context": call.metadata(context)}
    if query.count:
        body["@odata.count"] = page.total
    if page.next_offset is not None:
        body["@odata.nextLink"] = odata.next_link(
            f"{call.ctx.base_url}/v1.0",
            call.request.path,
            query.raw,
            offset=page.next_offset,
            directory=directory,
        )
    body["value"] = [
        project(item, query.select, type_name=type_name, known=known, default=default_select)
        for item in page.items
    ]
    if expand is not None and query.expand:
        for shown, item in zip(body["value"], page.items, strict=True):
            shown.update(expand(item, query.expand))
    return GraphResponse(200, body)


def entity_response(
    call: Call,
    entity_set: str,
    obj: Mapping[str, Any],
    *,
    type_name: str,
    status: int = 200,
    known: set[str] | frozenset[str] | None = None,
    default_select: tuple[str, ...] | None = None,
    context: str | None = None,
    expandable: frozenset[str] = frozenset(),
    expand: Expander | None = None,
) -> GraphResponse:
    query = call.query(expandable=expandable, type_name=type_name) if call.request.method == "GET" else None
    select = query.select if query else None
    body = {"@odata.context": context or entity_context(call, entity_set, select)}
    body.update(project(obj, select, type_name=type_name, known=known, default=default_select))
    if query and query.expand and expand is not None:
        body.update(expand(obj, query.expand))
    return GraphResponse(status, body)


def count_response(call: Call, total: int) -> GraphResponse:
    """``GET /{entitySet}/$count``: a text/plain number, only as an advanced query (ConsistencyLevel)."""
    if call.request.header("consistencylevel").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    return GraphResponse(200, str(total), {"Content-Type": "text/plain"})
