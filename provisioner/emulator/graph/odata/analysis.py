"""What a parsed ``$filter`` asks for, read before it is evaluated.

The query layer uses these to answer the way Graph does: operators that only run as
advanced queries, properties a filter reads (unknown ones are a 400), and an id
equality that narrows the candidates to an exact store lookup.
"""

from __future__ import annotations

from provisioner.emulator.graph.odata.evaluate import COUNTABLE
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
        elif isinstance(n, Path) and n.segments[-1] == "$count":
            found.append("$count")

    walk(node)
    return found


def referenced_properties(node: Node) -> set[str]:
    """Top-level properties a filter reads (lambda variables excluded)."""
    props: set[str] = set()

    def walk(n: Node | None, scope: frozenset[str]) -> None:
        if isinstance(n, Path):
            counted_navigation = n.segments[-1] == "$count" and n.segments[0].lower() in COUNTABLE
            if n.segments[0] not in scope and not counted_navigation:
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
