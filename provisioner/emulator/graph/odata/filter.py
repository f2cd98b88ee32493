"""``$filter``: the expression language, parsed into a small AST.

Comparison (``eq ne gt ge lt le``), ``in``, ``and``/``or``/``not``,
``startswith``/``endswith``/``contains``, ``any``/``all`` lambdas over
collections and ``{collection}/$count`` (``owners/$count eq 0``), the subset
Graph's directory endpoints accept. A syntax error is
:class:`FilterSyntaxError` (Graph's 400 BadRequest). The query layer inspects the
tree (:mod:`.analysis`) before it is evaluated (:mod:`.evaluate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioner.emulator.clock import parse_iso

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
    r"|(?P<ident>\$count\b|[A-Za-z_@][A-Za-z0-9_.]*)"
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
