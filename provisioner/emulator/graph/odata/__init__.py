"""OData query options as Graph's directory and Outlook endpoints accept them.

``$filter`` is parsed into a small AST (:mod:`.filter`), inspected (:mod:`.analysis`) and evaluated against the
stored Graph-shaped dicts (:mod:`.evaluate`, which also does ``$search``).
:mod:`.query` validates the system query options of a request with Graph's
directory rules (advanced queries need ``ConsistencyLevel: eventual`` plus
``$count=true``; ``$top`` is 1..999; string comparisons ignore case).
:mod:`.paging` filters, orders and pages, offset based behind an opaque
``$skiptoken`` (:mod:`.skiptoken`) carried in a full ``@odata.nextLink`` URL,
which clients must follow verbatim.

The names below are the package's interface; handlers use them as ``odata.X``.
"""

from __future__ import annotations

from provisioner.emulator.graph.odata.analysis import (
    advanced_operators,
    indexed_equality,
    referenced_properties,
)
from provisioner.emulator.graph.odata.evaluate import matches, parse_search, search_matches
from provisioner.emulator.graph.odata.filter import (
    BoolOp,
    Compare,
    FilterSyntaxError,
    Func,
    In,
    Lambda,
    Literal,
    Node,
    Not,
    Path,
    parse_filter,
)
from provisioner.emulator.graph.odata.paging import Page, apply, next_link
from provisioner.emulator.graph.odata.query import ADVANCED_HINT, Query, parse_expand, parse_query
from provisioner.emulator.graph.odata.skiptoken import decode_skiptoken, encode_skiptoken

__all__ = [
    "ADVANCED_HINT",
    "BoolOp",
    "Compare",
    "FilterSyntaxError",
    "Func",
    "In",
    "Lambda",
    "Literal",
    "Node",
    "Not",
    "Page",
    "Path",
    "Query",
    "advanced_operators",
    "apply",
    "decode_skiptoken",
    "encode_skiptoken",
    "indexed_equality",
    "matches",
    "next_link",
    "parse_expand",
    "parse_filter",
    "parse_query",
    "parse_search",
    "referenced_properties",
    "search_matches",
]
