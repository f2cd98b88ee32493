"""Filter, order and page a candidate list, and the ``@odata.nextLink`` that continues it.

Paging is offset based behind an opaque ``$skiptoken`` carried in a full
``@odata.nextLink`` URL (directory) or a plain ``$skip`` (Outlook).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from provisioner.emulator.graph.odata.evaluate import get_ci, matches, search_matches
from provisioner.emulator.graph.odata.query import Query
from provisioner.emulator.graph.odata.skiptoken import encode_skiptoken


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    next_offset: int | None


def apply(
    query: Query,
    items: Iterable[dict[str, Any]],
    *,
    default_top: int,
    extra: Callable[[dict[str, Any]], bool] | None = None,
) -> Page:
    """Filter, order and page ``items`` (already restricted to what the caller may see)."""
    selected = [
        item
        for item in items
        if (query.filter is None or matches(query.filter, item))
        and (query.search is None or search_matches(query.search, item))
        and (extra is None or extra(item))
    ]
    for prop, descending in reversed(query.orderby):
        selected.sort(key=lambda o, p=prop: _sort_key(get_ci(o, p)), reverse=descending)
    top = query.top or default_top
    start = query.offset
    page = selected[start : start + top]
    next_offset = start + top if start + top < len(selected) else None
    return Page(page, len(selected), next_offset)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, bool | int | float):
        return (1, value)
    return (1, str(value))


def next_link(base: str, path: str, raw: Mapping[str, str], *, offset: int, directory: bool = True) -> str:
    """A full URL for the next page, keeping the caller's other query options."""
    params = {k: v for k, v in raw.items() if k.lower() not in ("$skiptoken", "$skip")}
    params["$skiptoken" if directory else "$skip"] = encode_skiptoken(offset) if directory else str(offset)
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=chr(39) + '(),:$*')}" for k, v in params.items())
    return f"{base}{path}?{query}"
