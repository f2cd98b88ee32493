"""The system query options of one request, validated the way Graph validates them.

Directory rules: ``ne``, ``not`` and ``endswith`` (and ``$search``) need
``ConsistencyLevel: eventual`` plus ``$count=true``; ``$top`` is 1..999;
``$skip`` is refused (paging is ``$skiptoken``). Outlook resources (messages)
page with ``$skip`` and have no advanced-query gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from provisioner.emulator.graph.errors import GraphApiError, bad_request, unsupported_query
from provisioner.emulator.graph.odata.analysis import advanced_operators
from provisioner.emulator.graph.odata.evaluate import parse_search
from provisioner.emulator.graph.odata.filter import FilterSyntaxError, Node, parse_filter
from provisioner.emulator.graph.odata.skiptoken import decode_skiptoken

ADVANCED_HINT = (
    "Operator '{op}' is not supported because the required parameters might be missing. Try adding"
    " $count=true query parameter and ConsistencyLevel:eventual header. Refer to"
    " https://aka.ms/graph-docs/advanced-queries for more information"
)


@dataclass
class Query:
    filter: Node | None = None
    search: list[list[tuple[str, str]]] | None = None
    select: list[str] | None = None
    top: int | None = None
    offset: int = 0
    count: bool = False
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    expand: list[tuple[str, list[str] | None]] = field(default_factory=list)  # (navigation, nested $select)
    raw: dict[str, str] = field(default_factory=dict)


_SUPPORTED = {"$filter", "$select", "$top", "$skiptoken", "$count", "$orderby", "$search", "$skip", "$expand"}
_EXPAND_ITEM = re.compile(r"^\s*(?P<name>[A-Za-z][A-Za-z0-9]*)\s*(?:\((?P<options>[^()]*)\))?\s*$")


def parse_expand(text: str, expandable: frozenset[str], type_name: str) -> list[tuple[str, list[str] | None]]:
    """``$expand=owners`` or ``owners($select=id,displayName)``: one level, nested ``$select`` only.

    Graph's directory resources support no more than that (no nested $filter/$expand).
    """
    items: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    by_lower = {name.lower(): name for name in expandable}
    result: list[tuple[str, list[str] | None]] = []
    for item in items:
        match = _EXPAND_ITEM.match(item)
        if match is None:
            raise bad_request(
                f"Parsing OData Select and Expand failed: invalid $expand clause '{item.strip()}'."
            )
        name = by_lower.get(match["name"].lower())
        if name is None:
            raise bad_request(
                f"Parsing OData Select and Expand failed: Could not find a property named '{match['name']}'"
                f" on type '{type_name}'."
            )
        select: list[str] | None = None
        options = (match["options"] or "").strip()
        if options:
            key, _, value = options.partition("=")
            if key.strip().lower() != "$select":
                raise bad_request(f"Query option '{key.strip()}' is not supported inside $expand.")
            select = [n.strip() for n in value.split(",") if n.strip()]
        result.append((name, select))
    return result


def parse_query(
    params: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    directory: bool = True,
    max_top: int = 999,
    expandable: frozenset[str] = frozenset(),
    type_name: str = "",
) -> Query:
    """Validate and parse the system query options of one request.

    ``expandable``: navigation properties this endpoint can ``$expand``; without any,
    ``$expand`` is refused as an unsupported option.

    ``directory`` selects Entra ID rules (advanced queries, $skiptoken paging);
    Outlook resources (messages) page with ``$skip`` and have no advanced-query gate.
    """
    query = Query(raw={k: v for k, v in params.items()})
    unknown = [
        k
        for k in params
        if k.startswith("$") and (k.lower() not in _SUPPORTED or (k.lower() == "$expand" and not expandable))
    ]
    if unknown:
        raise bad_request(f"Query option '{unknown[0]}' is not supported by this endpoint.")
    lowered = {k.lower(): v for k, v in params.items()}
    eventual = headers.get("consistencylevel", "").strip().lower() == "eventual"
    count_value = lowered.get("$count")
    if count_value is not None:
        if count_value.lower() not in ("true", "false"):
            raise bad_request(f"Invalid value '{count_value}' for $count; use true or false.")
        # Without the header Graph ignores ?$count=true on directory resources (no @odata.count).
        query.count = count_value.lower() == "true" and (eventual or not directory)
    advanced = eventual and query.count

    if (text := lowered.get("$filter")) is not None:
        try:
            query.filter = parse_filter(text)
        except FilterSyntaxError as exc:
            raise GraphApiError(400, "BadRequest", f"Invalid filter clause: {exc}") from None
        if directory and not advanced:
            ops = advanced_operators(query.filter)
            if ops:
                raise unsupported_query(ADVANCED_HINT.format(op=ops[0]))

    if (text := lowered.get("$search")) is not None:
        if directory and not eventual:
            raise unsupported_query(
                "Request with $search query parameter only works through MSGraph with a special request"
                " header: 'ConsistencyLevel: eventual'"
            )
        query.search = parse_search(text)

    if (text := lowered.get("$select")) is not None:
        query.select = [name.strip() for name in text.split(",") if name.strip()]

    if (text := lowered.get("$top")) is not None:
        try:
            top = int(text)
        except ValueError:
            raise bad_request(f"Invalid page size specified: '{text}'.") from None
        if directory and not 1 <= top <= max_top:
            raise unsupported_query(
                f"Invalid page size specified: '{text}'. Must be between 1 and {max_top} inclusive."
            )
        query.top = max(1, min(top, max_top))

    if (text := lowered.get("$skiptoken")) is not None:
        query.offset = decode_skiptoken(text)
    elif (text := lowered.get("$skip")) is not None:
        if directory:
            raise bad_request("'$skip' is not supported by the service.")
        try:
            query.offset = max(0, int(text))
        except ValueError:
            raise bad_request(f"Invalid value '{text}' for $skip.") from None

    if (text := lowered.get("$orderby")) is not None:
        if directory and query.filter is not None and not advanced:
            raise unsupported_query(
                "Sorting not supported for current query. $orderby with $filter needs $count=true and"
                " ConsistencyLevel:eventual."
            )
        for part in text.split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise bad_request(f"Invalid $orderby clause '{part.strip()}'.")
            query.orderby.append((words[0], len(words) == 2 and words[1].lower() == "desc"))

    if (text := lowered.get("$expand")) is not None:
        query.expand = parse_expand(text, expandable, type_name)
    return query
