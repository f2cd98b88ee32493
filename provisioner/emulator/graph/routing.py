"""Request/response plumbing shared by every Graph handler (and by ``$batch``).

Handlers see a transport-neutral :class:`GraphRequest` and return a
:class:`GraphResponse`, so ``$batch`` can dispatch its inner requests into the
very same handlers in-process. Path matching is regex based because Graph
addresses entities by key segments such as ``applications(appId='…')`` that
a plain path router cannot express. The bodies handlers answer with are built
by :mod:`provisioner.emulator.graph.envelopes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import odata
from provisioner.emulator.graph.auth import Caller
from provisioner.emulator.graph.errors import GraphApiError, bad_request

JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


@dataclass
class GraphRequest:
    method: str
    path: str  # relative to /v1.0, starting with "/"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None
    # A body that could not be parsed; reported after authentication, as Graph does.
    body_error: GraphApiError | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def prefers(self, token: str) -> bool:
        return any(p.strip().lower() == token for p in self.header("prefer").split(","))

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object with OData annotations (``@odata.type``…) removed."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad_request("The request body must be a JSON object.", code="BadRequest")
        return strip_annotations(self.body)


@dataclass
class GraphResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """What a handler gets: the request, the authenticated caller and the emulator state."""

    ctx: EmulatorContext
    request: GraphRequest
    caller: Caller
    params: dict[str, str]

    @property
    def tenant(self) -> str:
        return self.caller.tenant

    def query(
        self,
        *,
        directory: bool = True,
        max_top: int = 999,
        expandable: frozenset[str] = frozenset(),
        type_name: str = "",
    ) -> odata.Query:
        return odata.parse_query(
            self.request.query,
            self.request.headers,
            directory=directory,
            max_top=max_top,
            expandable=expandable,
            type_name=type_name,
        )

    def metadata(self, fragment: str) -> str:
        return f"{self.ctx.base_url}/v1.0/$metadata#{fragment}"


Handler = Callable[[Call], GraphResponse]
# Adds the requested navigation properties ($expand: (name, nested $select) pairs) to one object.
Expander = Callable[[Mapping[str, Any], list[tuple[str, list[str] | None]]], dict[str, Any]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    transactional: bool


@dataclass
class Match:
    handler: Handler
    params: dict[str, str]
    transactional: bool  # run inside one store transaction (writes); $batch manages its own


class Router:
    """Ordered (method, regex) table; first match wins, 405 when only the method differs."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, transactional: bool | None = None) -> None:
        method = method.upper()
        if transactional is None:
            transactional = method not in ("GET", "HEAD")
        self._routes.append(_Route(method, re.compile(f"^{pattern}$", re.IGNORECASE), handler, transactional))

    def resolve(self, method: str, path: str) -> Match:
        path_matched = False
        for route in self._routes:
            match = route.pattern.match(path)
            if not match:
                continue
            path_matched = True
            if route.method == method.upper():
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                return Match(route.handler, params, route.transactional)
        if path_matched:
            raise GraphApiError(
                405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        segment = self.unknown_segment(path)
        raise bad_request(f"Resource not found for the segment '{segment}'.", code="BadRequest")

    def unknown_segment(self, path: str) -> str:
        """The first segment of ``path`` that no route continues: Graph names that one in its 400.

        ``/applications/{id}/fooAction`` -> ``fooAction`` (``/applications/{id}`` is served), not
        ``applications``.
        """
        segments = [s for s in path.split("/") if s]
        for known in range(len(segments) - 1, 0, -1):
            prefix = "/" + "/".join(segments[:known])
            if any(route.pattern.match(prefix) for route in self._routes):
                return segments[known]
        return segments[0] if segments else ""


# Key segments: /applications/{id}, /applications(appId='…'), /applications(uniqueName='…').
_QUOTED = r"'(?P<{name}>(?:[^']|'')*)'"
APP = (
    r"/applications(?:/(?P<app_id>[^/()']+)|\(appId=" + _QUOTED.format(name="app_appid") + r"\)"
    r"|\(uniqueName=" + _QUOTED.format(name="app_unique") + r"\))"
)
SP = r"/servicePrincipals(?:/(?P<sp_id>[^/()']+)|\(appId=" + _QUOTED.format(name="sp_appid") + r"\))"
ID = r"(?P<{name}>[^/]+)"


def unquote(value: str | None) -> str | None:
    """Key values in URLs double single quotes (``uniqueName='O''Brien'``)."""
    return value.replace("''", "'") if value is not None else None


def strip_annotations(value: Any) -> Any:
    """Drop ``@odata.*`` instance annotations the SDK sends (``@odata.type`` on every model)."""
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items() if not k.startswith("@odata.")}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


def decode_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of"
            " valid JSON format.",
            code="BadRequest",
        ) from None
