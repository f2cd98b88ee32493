"""Admin routes under ``/_emulator``: the hooks tests and the benchmark drive from outside the process.

Move the clock, read and reset request counters, create and list tenants (with
their bootstrap admin credentials), switch fault injection on and off, read and
configure the Key Vault (its URL, tenant, soft-delete retention, purge protection), and a
health probe. They are the emulator's own API, not Microsoft's: errors are a
plain ``{"error": {"code", "message"}}`` body.

``GET /tenants`` hands out every tenant's admin secret and the others can wreck a
run (move time, fault every request), so each request must carry the emulator's
admin token, ``Authorization: Bearer <token>``: generated for every emulator start
(``ctx.admin_token``), printed by ``provisioner emulator serve`` as
``PROVISIONER_EMULATOR_ADMIN_TOKEN`` and available in-process as
``RunningEmulator.admin_token``. Without it: 401. Only ``GET /health`` is open: it
says nothing but "serving", which liveness probes need to know without a secret.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.faults import FaultConfig


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


ADMIN_TOKEN_ENV = "PROVISIONER_EMULATOR_ADMIN_TOKEN"
# Paths (below the admin mount) any local caller may GET without the token.
OPEN_PATHS = frozenset({"/health"})
_CHALLENGE = 'Bearer realm="provisioner-emulator-admin"'


def admin_headers(token: str) -> dict[str, str]:
    """The header an admin request carries."""
    return {"Authorization": f"Bearer {token}"}


def token_matches(authorization: str, token: str) -> bool:
    """``Authorization: Bearer <token>`` (scheme case-insensitive), compared in constant time."""
    scheme, _, presented = authorization.partition(" ")
    presented = presented.strip()
    return scheme.lower() == "bearer" and bool(presented) and hmac.compare_digest(presented, token)


class AdminGuard:
    """Answers 401 to any admin request without the admin token, before routing (unknown paths too)."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            response = JSONResponse(
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "Admin routes need the emulator's admin token: send 'Authorization: Bearer"
                        f" <token>' with the value of {ADMIN_TOKEN_ENV} printed by 'provisioner emulator"
                        " serve' (RunningEmulator.admin_token in-process).",
                    }
                },
                status_code=401,
                headers={"WWW-Authenticate": _CHALLENGE},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # the mount's prefix (Starlette keeps the full path)
            path = path[len(root) :]
        if scope["method"] in ("GET", "HEAD") and path in OPEN_PATHS:
            return True
        authorization = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
                break
        return token_matches(authorization, self.ctx.admin_token)


def admin_app(ctx: EmulatorContext) -> ASGIApp:
    """The admin routes behind :class:`AdminGuard`, to mount at ``/_emulator``."""
    return AdminGuard(Router(routes=admin_routes(ctx)), ctx)


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
                ctx.clock.advance(seconds)  # ClockRangeError (a ValueError): out of 1970..9999, unchanged
            except ValueError as exc:
                return _bad_request(str(exc))
        return JSONResponse({"now": iso(ctx.clock.now()), "offset_seconds": ctx.clock.offset_seconds})

    async def counters(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.counters.clear()
        return JSONResponse(dict(ctx.counters))

    async def tenants(request: Request) -> Response:
        # Imported when first used: seeding pulls in the whole Graph layer, which build_app can leave out.
        from provisioner.emulator.seed import ensure_tenant, list_tenants

        if request.method == "GET":
            return JSONResponse([tenant_json(t) for t in list_tenants(ctx)])
        try:
            tenant_id = (await _json_body(request)).get("tenant_id")
        except ValueError as exc:
            return _bad_request(str(exc))
        if tenant_id is not None and not isinstance(tenant_id, str):
            return _bad_request("tenant_id must be a string")
        return JSONResponse(tenant_json(ensure_tenant(ctx, tenant_id)))

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                ctx.faults = FaultConfig.from_json(await _json_body(request))
            except (TypeError, ValueError) as exc:
                return _bad_request(str(exc))
        config = ctx.faults if isinstance(ctx.faults, FaultConfig) else FaultConfig()
        return JSONResponse(config.to_json())

    async def keyvault(request: Request) -> Response:
        from provisioner.emulator.keyvault.models import configure_vault, get_vault

        if request.method == "PUT":
            try:
                body = await _json_body(request)
                days = body.get("soft_delete_retention_days")
                protection = body.get("purge_protection")
                tenant = body.get("tenant_id")
                if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
                    raise ValueError("soft_delete_retention_days must be an integer")
                if protection is not None and not isinstance(protection, bool):
                    raise ValueError("purge_protection must be a boolean")
                if tenant is not None and not isinstance(tenant, str):
                    raise ValueError("tenant_id must be a string")
                configure_vault(ctx, tenant_id=tenant, retention_days=days, purge_protection=protection)
            except ValueError as exc:
                return _bad_request(str(exc))
        vault = get_vault(ctx)
        if vault is None:
            return _bad_request("the emulator hosts no tenant yet")
        return JSONResponse(vault.to_json(ctx.base_url))

    async def audit_logs(request: Request) -> Response:
        """Per-tenant sign-in log settings: ``premium`` (Entra ID P1/P2) and ``reporting_delay_seconds``."""
        from provisioner.emulator.graph.audit_logs.models import configure, settings
        from provisioner.emulator.seed import ensure_tenant

        try:
            body = await _json_body(request) if request.method == "PUT" else {}
            tenant = body.get("tenant_id", request.query_params.get("tenant_id"))
            if tenant is not None and not isinstance(tenant, str):
                raise ValueError("tenant_id must be a string")
            premium = body.get("premium")
            delay = body.get("reporting_delay_seconds")
            if premium is not None and not isinstance(premium, bool):
                raise ValueError("premium must be a boolean")
            if delay is not None and (
                isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0
            ):
                raise ValueError("reporting_delay_seconds must be a number >= 0")
        except ValueError as exc:
            return _bad_request(str(exc))
        tenant_id = ensure_tenant(ctx, tenant).tenant_id
        if request.method == "PUT":
            return JSONResponse(configure(ctx, tenant_id, premium=premium, delay_seconds=delay))
        return JSONResponse(settings(ctx, tenant_id))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "base_url": ctx.base_url})

    return [
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/counters", counters, methods=["GET", "DELETE"]),
        Route("/tenants", tenants, methods=["GET", "POST"]),
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/keyvault", keyvault, methods=["GET", "PUT"]),
        Route("/audit_logs", audit_logs, methods=["GET", "PUT"]),
        Route("/health", health, methods=["GET"]),
    ]
