"""Evaluating a parsed ``$filter`` and a ``$search`` against stored Graph-shaped objects.

The directory compares strings case-insensitively and property names are matched
the same way; ``$search`` tokenises values and matches word prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.graph.errors import bad_request
from provisioner.emulator.graph.odata.filter import (
    BoolOp,
    Compare,
    Func,
    In,
    Lambda,
    Literal,
    Node,
    Not,
    Path,
)

# Navigation properties a filter may count (``owners/$count``) and the internal key holding them.
COUNTABLE = {"owners": "_owners"}


def _resolve(path: Path, obj: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    if path.segments[-1] == "$count":
        return _count(Path(path.segments[:-1]), obj, env)
    first, *rest = path.segments
    if first in env:
        current: Any = env[first]
    else:
        current = get_ci(obj, first)
    for segment in rest:
        if not isinstance(current, Mapping):
            return None
        current = get_ci(current, segment)
    return current


def _count(path: Path, obj: Mapping[str, Any], env: Mapping[str, Any]) -> int:
    """``{collection}/$count``: the number of related objects (or collection items)."""
    if len(path.segments) == 1 and path.segments[0].lower() in COUNTABLE:
        items = obj.get(COUNTABLE[path.segments[0].lower()])
    else:
        items = _resolve(path, obj, env)
    return len(items) if isinstance(items, list) else 0


def get_ci(obj: Mapping[str, Any], key: str) -> Any:
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


# Properties whose values $search tokenises; any other string property matches by prefix
# ("fields other than displayName and description default to $filter startswith behavior").
TOKENIZED = frozenset({"displayname", "description"})
_RUNS = re.compile(r"[^\W\d_]+|\d+|[\W_]", re.UNICODE)


def _split_case(word: str) -> list[str]:
    """Split letters where lower case turns upper (``HelloWorld`` -> Hello, World; ``HELLOworld`` stays)."""
    parts, start = [], 0
    for i in range(1, len(word)):
        if word[i - 1].islower() and word[i].isupper():
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return parts


def search_tokens(text: str) -> list[str]:
    """Tokens of a value or search term, as the directory's $search tokeniser makes them.

    Words split at spaces, at a lower-to-upper case change, between letters and digits,
    and around symbols; symbols are tokens too, and words separated only by symbols
    are also joined (``hello.world`` -> hello, ., world, helloworld). Lower-cased, since
    matching ignores case.
    """
    tokens: list[str] = []
    for chunk in text.split():
        words: list[str] = []
        symbol = False
        for run in _RUNS.findall(chunk):
            if run[0].isdigit():
                words.append(run)
            elif run.isalpha():
                words.extend(_split_case(run))
            else:
                symbol = True
                tokens.append(run.casefold())
        tokens.extend(w.casefold() for w in words)
        if symbol and len(words) > 1:
            tokens.append("".join(words).casefold())
    return tokens


def search_matches(groups: list[list[tuple[str, str]]], obj: Mapping[str, Any]) -> bool:
    """Directory $search: every token of the term starts a token of the value, in any order.

    Only displayName and description are tokenised; other properties match when the
    whole value starts with the term. Case is ignored.
    """

    def clause(prop: str, term: str) -> bool:
        value = get_ci(obj, prop)
        if not isinstance(value, str):
            return False
        if prop.lower() not in TOKENIZED:
            return value.casefold().startswith(term.casefold())
        have = search_tokens(value)
        return all(any(token.startswith(wanted) for token in have) for wanted in search_tokens(term))

    return any(all(clause(p, t) for p, t in group) for group in groups)
