"""The emulator's ASGI application: identity at "/", Graph under "/v1.0", admin under "/_emulator".

Admin routes exist for tests and the benchmark, which drive the emulator from
outside its process: move the clock, read request counters, create tenants,
switch fault injection on and off.
"""

from __future__ import annotations

import dataclasses
import json
from email.utils import format_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.faults import ADMIN_PREFIX, GRAPH_PREFIX, FaultConfig, FaultMiddleware
from provisioner.emulator.identity.responses import routes as identity_routes

TOKEN_SUFFIX = "/oauth2/v2.0/token"


class CountingMiddleware:
    """Counts requests into ``ctx.counters`` (pure ASGI: a few dict operations per request).

    ``requests`` counts every non-admin request, ``graph_requests`` those under /v1.0,
    ``token_requests`` those to a token endpoint. Faulted (429/503) requests are counted:
    they are load the client generated.
    """

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if not path.startswith(ADMIN_PREFIX):
                self.ctx.count("requests")
                if path == GRAPH_PREFIX or path.startswith(GRAPH_PREFIX + "/"):
                    self.ctx.count("graph_requests")
                elif path.endswith(TOKEN_SUFFIX):
                    self.ctx.count("token_requests")
        await self.app(scope, receive, send)


class DateHeaderMiddleware:
    """Every response carries ``Date`` (RFC 9110 section 6.6.1) read from ``ctx.clock``.

    Clients take "now" from Graph's ``Date`` header (secret expiry is judged by
    Entra's clock, not the caller's), so when a test moves the emulator clock the
    tool sees the same moved time. uvicorn's own wall-clock Date header is
    switched off in :mod:`provisioner.emulator.server`; any Date a route set is replaced.
    """

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                date = format_datetime(self.ctx.clock.now(), usegmt=True)
                headers.append((b"date", date.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_date)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "BadRequest", "message": message}}, status_code=400)


def tenant_json(info: Any) -> dict[str, Any]:
    return (
        dataclasses.asdict(info)
        if dataclasses.is_dataclass(info) and not isinstance(info, type)
        else dict(info)
    )


def admin_routes(ctx: EmulatorContext) -> list[BaseRoute]:
    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                seconds = (await _json_body(request)).get("advance_seconds", 0)
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise ValueError("advance_seconds must be a number")
            except ValueError as exc:
                return _bad_request(str(exc))
            ctx.clock.advance(seconds)
        return JSONResponse({"now": iso(ctx.clock.now()), "offset_seconds": ctx.clock.offset_seconds})

    async def counters(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.counters.clear()
        return JSONResponse(dict(ctx.counters))

    async def tenants(request: Request) -> Response:
        from provisioner.emulator import seed  # the Graph helper's module; imported when first used

        if request.method == "GET":
            return JSONResponse([tenant_json(t) for t in seed.list_tenants(ctx)])
        try:
            tenant_id = (await _json_body(request)).get("tenant_id")
        except ValueError as exc:
            return _bad_request(str(exc))
        if tenant_id is not None and not isinstance(tenant_id, str):
            return _bad_request("tenant_id must be a string")
        return JSONResponse(tenant_json(seed.ensure_tenant(ctx, tenant_id)))

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                ctx.faults = FaultConfig.from_json(await _json_body(request))
            except (TypeError, ValueError) as exc:
                return _bad_request(str(exc))
        config = ctx.faults if isinstance(ctx.faults, FaultConfig) else FaultConfig()
        return JSONResponse(config.to_json())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "base_url": ctx.base_url})

    return [
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/counters", counters, methods=["GET", "DELETE"]),
        Route("/tenants", tenants, methods=["GET", "POST"]),
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/health", health, methods=["GET"]),
    ]


def build_app(ctx: EmulatorContext, *, graph_routes: list[BaseRoute] | None = None) -> Starlette:
    """Compose the emulator. ``graph_routes`` defaults to the Graph layer's ``routes(ctx)``."""
    if graph_routes is None:
        from provisioner.emulator.graph.asgi import routes as make_graph_routes

        graph_routes = make_graph_routes(ctx)
    if ctx.faults is None:
        ctx.faults = FaultConfig()
    return Starlette(
        routes=[
            Mount(ADMIN_PREFIX, routes=admin_routes(ctx)),
            Mount(GRAPH_PREFIX, routes=graph_routes),
            *identity_routes(ctx),
        ],
        middleware=[
            Middleware(DateHeaderMiddleware, ctx=ctx),
            Middleware(CountingMiddleware, ctx=ctx),
            Middleware(FaultMiddleware, ctx=ctx),
        ],
    )
