"""OData query options as Graph's directory and Outlook endpoints accept them.

``$filter`` is parsed into a small AST (comparison, ``in``, ``and``/``or``/``not``,
``startswith``/``endswith``/``contains`` and ``any``/``all`` lambdas over
collections) and evaluated against the stored Graph-shaped dicts. Directory
rules are enforced the way Graph enforces them: ``ne``, ``not`` and
``endswith`` (and ``$search``) need ``ConsistencyLevel: eventual`` plus
``$count=true``; ``$top`` is 1..999; string comparisons ignore case.
Paging is offset based behind an opaque ``$skiptoken`` carried in a full
``@odata.nextLink`` URL, which clients must follow verbatim.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.graph.errors import GraphError, bad_request, unsupported_query

ADVANCED_HINT = (
    "Operator '{op}' is not supported because the required parameters might be missing. Try adding"
    " $count=true query parameter and ConsistencyLevel:eventual header. Refer to"
    " https://aka.ms/graph-docs/advanced-queries for more information"
)

# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # "string" | "guid" | "bool" | "null" | "number" | "datetime"


@dataclass(frozen=True)
class Path:
    segments: tuple[str, ...]


@dataclass(frozen=True)
class Lambda:
    collection: Path
    op: str  # "any" | "all"
    var: str | None
    body: Node | None


@dataclass(frozen=True)
class Compare:
    op: str  # eq ne gt ge lt le
    left: Node
    right: Node


@dataclass(frozen=True)
class In:
    left: Node
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Func:
    name: str  # startswith | endswith | contains
    args: tuple[Node, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Literal | Path | Lambda | Compare | In | Func | BoolOp | Not


class FilterSyntaxError(ValueError):
    """The $filter text is not valid OData; Graph answers 400 BadRequest."""


# --------------------------------------------------------------------------- tokenizer

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<string>'(?:[^']|'')*')"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)"
    rf"|(?P<guid>{_GUID})(?![\w-])"
    r"|(?P<number>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<ident>[A-Za-z_@][A-Za-z0-9_.]*)"
    r"|(?P<punct>[(),:/])"
    r")"
)
_COMPARE_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"startswith", "endswith", "contains"}


@dataclass
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterSyntaxError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        pos = match.end()
    return tokens


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError(f"Syntax error: unexpected end of filter '{self.text}'.")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise FilterSyntaxError(f"Syntax error: expected '{text}' but found '{token.text}'.")

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "ident" and token.text.lower() in words:
            self.pos += 1
            return token.text.lower()
        return None

    def parse(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise FilterSyntaxError(f"Syntax error at '{self.peek().text}' in '{self.text}'.")  # type: ignore[union-attr]
        return node

    def expr(self) -> Node:
        node = self.conjunction()
        while self.keyword("or"):
            node = BoolOp("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.keyword("and"):
            node = BoolOp("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.keyword("not"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.value()
        op = self.keyword(*_COMPARE_OPS)
        if op:
            return Compare(op, left, self.value())
        if self.keyword("in"):
            self.expect("(")
            values: list[Literal] = []
            while True:
                value = self.value()
                if not isinstance(value, Literal):
                    raise FilterSyntaxError("Syntax error: 'in' takes a list of literals.")
                values.append(value)
                if self.next().text == ")":
                    break
            return In(left, tuple(values))
        return left

    def value(self) -> Node:
        token = self.next()
        if token.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string")
        if token.kind == "guid":
            return Literal(token.text.lower(), "guid")
        if token.kind == "datetime":
            return Literal(parse_iso(token.text), "datetime")
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal(number, "number")
        if token.kind != "ident":
            raise FilterSyntaxError(f"Syntax error at '{token.text}' in '{self.text}'.")
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return Literal(lowered == "true", "bool")
        if lowered == "null":
            return Literal(None, "null")
        nxt = self.peek()
        if lowered in _FUNCTIONS and nxt is not None and nxt.text == "(":
            self.next()
            args = [self.value()]
            while self.next().text == ",":
                args.append(self.value())
            if len(args) != 2:
                raise FilterSyntaxError(f"Function '{token.text}' takes two arguments.")
            return Func(lowered, tuple(args))
        return self.path(token.text)

    def path(self, first: str) -> Node:
        segments = [first]
        while (token := self.peek()) is not None and token.text == "/":
            self.next()
            name = self.next()
            nxt = self.peek()
            if name.text.lower() in ("any", "all") and nxt is not None and nxt.text == "(":
                self.next()
                if (closing := self.peek()) is not None and closing.text == ")":
                    self.next()
                    return Lambda(Path(tuple(segments)), name.text.lower(), None, None)
                var = self.next()
                self.expect(":")
                body = self.expr()
                self.expect(")")
                return Lambda(Path(tuple(segments)), name.text.lower(), var.text, body)
            if name.kind != "ident":
                raise FilterSyntaxError(f"Syntax error at '{name.text}' in '{self.text}'.")
            segments.append(name.text)
        return Path(tuple(segments))


def parse_filter(text: str) -> Node:
    """Parse a ``$filter`` expression; raises :class:`FilterSyntaxError`."""
    if not text.strip():
        raise FilterSyntaxError("The $filter expression is empty.")
    return _Parser(text).parse()


# --------------------------------------------------------------------------- analysis


def advanced_operators(node: Node) -> list[str]:
    """Operators that Graph only serves as advanced queries (ConsistencyLevel + $count)."""
    found: list[str] = []

    def walk(n: Node | None) -> None:
        if isinstance(n, Compare):
            if n.op == "ne":
                found.append("ne")
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Not):
            found.append("not")
            walk(n.operand)
        elif isinstance(n, Func):
            if n.name == "endswith":
                found.append("endsWith")
            for arg in n.args:
                walk(arg)
        elif isinstance(n, BoolOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Lambda):
            walk(n.body)
        elif isinstance(n, In):
            walk(n.left)

    walk(node)
    return found


def referenced_properties(node: Node) -> set[str]:
    """Top-level properties a filter reads (lambda variables excluded)."""
    props: set[str] = set()

    def walk(n: Node | None, scope: frozenset[str]) -> None:
        if isinstance(n, Path):
            if n.segments[0] not in scope:
                props.add(n.segments[0])
        elif isinstance(n, Lambda):
            walk(n.collection, scope)
            walk(n.body, scope | {n.var} if n.var else scope)
        elif isinstance(n, Compare | BoolOp):
            walk(n.left, scope)
            walk(n.right, scope)
        elif isinstance(n, In):
            walk(n.left, scope)
        elif isinstance(n, Func):
            for arg in n.args:
                walk(arg, scope)
        elif isinstance(n, Not):
            walk(n.operand, scope)

    walk(node, frozenset())
    return props


def indexed_equality(node: Node | None, props: frozenset[str]) -> tuple[str, str] | None:
    """A ``prop eq 'value'`` conjunct on a GUID-valued property, usable as an exact-match index.

    Only for properties stored in lower case (object ids, appIds): the caller narrows
    candidates with an exact store lookup and still applies the full filter.
    """
    if isinstance(node, BoolOp) and node.op == "and":
        return indexed_equality(node.left, props) or indexed_equality(node.right, props)
    if (
        isinstance(node, Compare)
        and node.op == "eq"
        and isinstance(node.left, Path)
        and len(node.left.segments) == 1
        and isinstance(node.right, Literal)
        and isinstance(node.right.value, str)
    ):
        wanted = node.left.segments[0].lower()
        for prop in props:
            if prop.lower() == wanted:
                return prop, node.right.value.lower()
    return None


# --------------------------------------------------------------------------- evaluation

_MISSING = object()


def _resolve(path: Path, obj: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    first, *rest = path.segments
    if first in env:
        current: Any = env[first]
    else:
        current = _get_ci(obj, first)
    for segment in rest:
        if not isinstance(current, Mapping):
            return None
        current = _get_ci(current, segment)
    return current


def _get_ci(obj: Mapping[str, Any], key: str) -> Any:
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for name, value in obj.items():
        if name.lower() == lowered:
            return value
    return None


def _operand(node: Node, obj: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return _resolve(node, obj, env)
    return _evaluate(node, obj, env)


def _normalise(left: Any, right: Any) -> tuple[Any, Any]:
    """Make two operands comparable the way the directory compares them."""
    if isinstance(left, datetime) and isinstance(right, str):
        right = _try_datetime(right)
    elif isinstance(right, datetime) and isinstance(left, str):
        left = _try_datetime(left)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _try_datetime(value: str) -> Any:
    try:
        return parse_iso(value)
    except ValueError:
        return value


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _normalise(left, right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _evaluate(node: Node, obj: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    if isinstance(node, BoolOp):
        if node.op == "and":
            return bool(_evaluate(node.left, obj, env)) and bool(_evaluate(node.right, obj, env))
        return bool(_evaluate(node.left, obj, env)) or bool(_evaluate(node.right, obj, env))
    if isinstance(node, Not):
        return not _evaluate(node.operand, obj, env)
    if isinstance(node, Compare):
        return _compare(node.op, _operand(node.left, obj, env), _operand(node.right, obj, env))
    if isinstance(node, In):
        value = _operand(node.left, obj, env)
        return any(_compare("eq", value, literal.value) for literal in node.values)
    if isinstance(node, Func):
        haystack, needle = (_operand(arg, obj, env) for arg in node.args)
        if not isinstance(haystack, str) or not isinstance(needle, str):
            return False
        haystack, needle = haystack.casefold(), needle.casefold()
        if node.name == "startswith":
            return haystack.startswith(needle)
        if node.name == "endswith":
            return haystack.endswith(needle)
        return needle in haystack
    if isinstance(node, Lambda):
        items = _resolve(node.collection, obj, env) or []
        if not isinstance(items, list):
            return False
        if node.body is None:
            return bool(items) if node.op == "any" else True
        var = node.var or ""
        results = (bool(_evaluate(node.body, obj, {**env, var: item})) for item in items)
        return any(results) if node.op == "any" else all(results)
    if isinstance(node, Path):
        return _resolve(node, obj, env)
    return node.value


def matches(node: Node, obj: Mapping[str, Any]) -> bool:
    """Does ``obj`` satisfy the parsed filter?"""
    return bool(_evaluate(node, obj, {}))


# --------------------------------------------------------------------------- $search

_SEARCH_CLAUSE = re.compile(r'"(?P<prop>[A-Za-z]+):(?P<value>[^"]*)"')


def parse_search(text: str) -> list[list[tuple[str, str]]]:
    """``"displayName:foo" OR "description:bar"`` -> OR-list of AND-lists of (property, term)."""
    groups: list[list[tuple[str, str]]] = []
    for part in re.split(r"\s+OR\s+", text.strip()):
        clauses = [(m.group("prop"), m.group("value")) for m in _SEARCH_CLAUSE.finditer(part)]
        if not clauses:
            raise bad_request(f"Syntax error: '{text}' is not a valid $search expression.")
        groups.append(clauses)
    return groups


def search_matches(groups: list[list[tuple[str, str]]], obj: Mapping[str, Any]) -> bool:
    """Directory $search tokenises values and matches word prefixes, case-insensitively."""

    def clause(prop: str, term: str) -> bool:
        value = _get_ci(obj, prop)
        if not isinstance(value, str):
            return False
        words = re.split(r"[\s\-_.@/]+", value.casefold())
        term = term.casefold()
        return value.casefold().startswith(term) or any(w.startswith(term) for w in words if w)

    return any(all(clause(p, t) for p, t in group) for group in groups)


# --------------------------------------------------------------------------- query options


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
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {exc}") from None
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


def encode_skiptoken(offset: int) -> str:
    raw = json.dumps({"o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError):
        raise bad_request("The specified page token value has expired or is invalid.") from None


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
        selected.sort(key=lambda o, p=prop: _sort_key(_get_ci(o, p)), reverse=descending)
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
