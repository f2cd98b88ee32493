"""The emulator's ASGI application: identity at "/", Graph under "/v1.0", ARM under "/arm", admin under
"/_emulator", and a Key Vault secrets data plane at "/secrets" and "/deletedsecrets"
(:mod:`provisioner.emulator.keyvault`).

The admin routes (:mod:`provisioner.emulator.admin`) exist for tests and the
benchmark, which drive the emulator from outside its process. The middlewares
here count requests, stamp every response with the emulator clock's ``Date`` and
inject faults (:mod:`provisioner.emulator.faults`).
"""

from __future__ import annotations

from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.emulator.admin import admin_app
from provisioner.emulator.arm.responses import routes as arm_routes
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.faults import FaultConfig, FaultMiddleware
from provisioner.emulator.identity.responses import routes as identity_routes
from provisioner.emulator.keyvault.urls import routes as keyvault_routes
from provisioner.emulator.paths import ADMIN_PREFIX, ARM_PREFIX, BETA_PREFIX, GRAPH_PREFIX

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


def build_app(ctx: EmulatorContext, *, graph_routes: list[BaseRoute] | None = None) -> Starlette:
    """Compose the emulator. ``graph_routes`` defaults to the Graph layer's ``routes(ctx)``."""
    if graph_routes is None:
        from provisioner.emulator.graph.asgi import routes as make_graph_routes

        graph_routes = make_graph_routes(ctx)
    beta: list[BaseRoute] = []
    if graph_routes:
        from provisioner.emulator.graph.asgi import beta_routes

        beta = beta_routes(ctx)
    if ctx.faults is None:
        ctx.faults = FaultConfig()
    return Starlette(
        routes=[
            Mount(ADMIN_PREFIX, app=admin_app(ctx)),
            Mount(GRAPH_PREFIX, routes=graph_routes),
            Mount(ARM_PREFIX, routes=arm_routes(ctx)),
            Mount(BETA_PREFIX, routes=beta),
            *keyvault_routes(ctx),  # before identity's "/{tenant}/..." patterns
            *identity_routes(ctx),
        ],
        middleware=[
            Middleware(DateHeaderMiddleware, ctx=ctx),
            Middleware(CountingMiddleware, ctx=ctx),
            Middleware(FaultMiddleware, ctx=ctx),
        ],
    )
