"""Fault injection: the hook where the emulator turns into a slow, throttling, flaky service.

Real Graph throttles (429 + Retry-After), fails transiently (503) and replicates
writes with a lag; the tool's retry logic must be exercised against that. Off by
default: :class:`FaultConfig` with all zeros is a no-op and the middleware then
costs one attribute check per request. ``replication_lag_ms`` is not applied
here; the Graph layer reads it from ``ctx.faults``. Admin routes (``/_emulator``)
are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext

ADMIN_PREFIX = "/_emulator"
GRAPH_PREFIX = "/v1.0"


@dataclass
class FaultConfig:
    """Which faults to inject. All zero = healthy service."""

    latency_ms: int = 0
    # Token bucket: sustained requests per second and burst size; 0 = no throttling.
    throttle_rate_per_s: float = 0.0
    throttle_burst: int = 0
    # Fraction (0..1) of requests answered 503 Service Unavailable.
    error_rate: float = 0.0
    # Delay before a write becomes visible to reads (applied by the Graph layer).
    replication_lag_ms: int = 0
    # Seed for the random choices (error_rate), so a failing run can be replayed.
    seed: int | None = None
    # Also fault the identity endpoints (token, authorize, discovery), not only Graph.
    include_identity: bool = False

    @property
    def active(self) -> bool:
        """Whether the middleware has anything to do (replication lag is the Graph layer's)."""
        return bool(self.latency_ms or self.throttle_rate_per_s or self.error_rate)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON (admin endpoint); unknown keys and wrong types are a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        config = cls(**data)
        numbers = ("latency_ms", "throttle_rate_per_s", "throttle_burst", "error_rate", "replication_lag_ms")
        for name in numbers:
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        if config.error_rate > 1:
            raise ValueError("error_rate must be between 0 and 1")
        if config.seed is not None and (isinstance(config.seed, bool) or not isinstance(config.seed, int)):
            raise ValueError("seed must be an integer")
        return config


class FaultMiddleware:
    """Pure ASGI middleware applying ``ctx.faults`` (read per request, so tests can change it live)."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx
        self._config: FaultConfig | None = None
        self._rng = random.Random()
        self._tokens = 0.0
        self._refilled = 0.0

    def _reset(self, config: FaultConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self._tokens = float(self._burst(config))
        self._refilled = time.monotonic()

    @staticmethod
    def _burst(config: FaultConfig) -> int:
        return max(1, config.throttle_burst or math.ceil(config.throttle_rate_per_s))

    def _take_token(self, config: FaultConfig) -> float:
        """0 when the request may pass, else seconds until a token is available."""
        now = time.monotonic()
        self._tokens = min(
            float(self._burst(config)), self._tokens + (now - self._refilled) * config.throttle_rate_per_s
        )
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / config.throttle_rate_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.ctx.faults
        if scope["type"] != "http" or not isinstance(config, FaultConfig) or not config.active:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_graph = path == GRAPH_PREFIX or path.startswith(GRAPH_PREFIX + "/")
        if path.startswith(ADMIN_PREFIX) or not (is_graph or config.include_identity):
            await self.app(scope, receive, send)
            return
        if config is not self._config:
            self._reset(config)
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if config.throttle_rate_per_s:
            wait = self._take_token(config)
            if wait:
                await self._fail(scope, send, 429, max(1, math.ceil(wait)), is_graph)
                return
        if config.error_rate and self._rng.random() < config.error_rate:
            await self._fail(scope, send, 503, 1, is_graph)
            return
        await self.app(scope, receive, send)

    async def _fail(self, scope: Scope, send: Send, status: int, retry_after: int, is_graph: bool) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = str(uuid.uuid4())
        if is_graph:
            code, message = (
                ("TooManyRequests", "Too many requests.")
                if status == 429
                else ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
            )
            body: dict[str, Any] = {
                "error": {
                    "code": code,
                    "message": message,
                    "innerError": {
                        "date": iso(self.ctx.clock.now()),
                        "request-id": request_id,
                        "client-request-id": headers.get("client-request-id", request_id),
                    },
                }
            }
        else:
            body = {
                "error": "temporarily_unavailable",
                "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                "error_codes": [90033],
            }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
