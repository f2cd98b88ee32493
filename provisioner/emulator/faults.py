"""Fault injection: the hook where the emulator turns into a slow, throttling, flaky service.

Real Graph throttles (429 + ``Retry-After``) per calling application, fails
transiently (503 / 504) and replicates writes with a lag; the tool's retry
logic must be exercised against that, in CI, reproducibly. Off by default:
:class:`FaultConfig` with all zeros is a no-op and the middleware then costs one
attribute check per request.

What is injected where:

* latency, 503, 504 and throttling: :class:`FaultMiddleware`, in front of every
  Graph request (identity endpoints only with ``include_identity``);
* throttling of ``$batch``: per *inner* request, as Graph evaluates each one
  against the limits (``/$batch`` itself is never throttled), through
  :func:`inner_fault`, called by :mod:`provisioner.emulator.graph.batch`;
* Entra's directory throttling (``entra_limits``): Microsoft's documented
  "identity and access service limits" (Graph service-specific throttling
  limits page): token buckets of *resource units* per application+tenant pair
  (3,500 per 10 s, the small-tenant figure: emulated tenants have few users)
  and per application (150,000 per 20 s), and *write* quotas per
  application+tenant pair (3,000 per 2 min 30 s), per application (35,000 per
  5 min) and per tenant (18,000 per 5 min). A request's cost follows the page's
  table (``GET applications`` 2 RU, other reads 1, writes 1 RU and 1 write;
  ``$select`` -1, ``$expand`` +1, ``$top`` under 20 -1, never below 1); inner
  requests of ``$batch`` are evaluated and answered 429 one by one, the batch
  itself costs nothing. A 429 carries ``Retry-After`` (whole seconds until the
  bucket holds the request's cost) and ``x-ms-throttle-scope``
  (``<Scope>/<Limit>/<app id>/<tenant id>``). The first limit reached throttles;
* replication lag: by the Graph layer (:mod:`provisioner.emulator.graph.replication`)
  reading ``replication_lag_ms``.

Admin routes (``/_emulator``) are never faulted, and seeding a tenant bypasses
replication lag. Every injected fault is counted in ``ctx.counters``
(``faults_429``, ``faults_503``, ``faults_504``, ``faults_injected``) so tests
and ``make chaos`` can report what they survived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.paths import ADMIN_PREFIX, BATCH_PATH, GRAPH_PREFIX

_UNKNOWN_CALLER = "-"


@dataclass
class FaultConfig:
    """Which faults to inject. All zero = healthy service."""

    latency_ms: int = 0
    # Per-caller (token ``appid``) token bucket: sustained requests per second and burst; 0 = off.
    throttle_rate_per_s: float = 0.0
    throttle_burst: int = 0
    # Fraction (0..1) of requests throttled at random (429), on top of the token bucket.
    throttle_probability: float = 0.0
    # Fraction (0..1) of requests answered 503 Service Unavailable.
    error_rate: float = 0.0
    # Fraction (0..1) of requests answered 504 Gateway Timeout (before the request is executed).
    timeout_rate: float = 0.0
    # Retry-After sent with random 429s and 5xx (seconds; Graph sends whole seconds, tests want less).
    retry_after_s: float = 1.0
    # Delay before a new object becomes visible to key lookups (applied by the Graph layer).
    replication_lag_ms: int = 0
    # Seed for the random choices, so a failing run can be replayed.
    seed: int | None = None
    # Also fault the identity endpoints (token, authorize, discovery), not only Graph.
    include_identity: bool = False
    # Enforce Entra's documented directory throttling limits (see the module docstring).
    entra_limits: bool = False

    def __post_init__(self) -> None:
        # Runtime state (buckets, random generator) lives with the settings it belongs to:
        # PUT /_emulator/faults installs a new config, which starts from a full bucket.
        self._runtime = _Runtime(self.seed)

    @property
    def active(self) -> bool:
        """Whether the middleware has anything to do (replication lag is the Graph layer's)."""
        return bool(self.latency_ms or self.throttles or self.error_rate or self.timeout_rate)

    @property
    def throttles(self) -> bool:
        return bool(self.throttle_rate_per_s or self.throttle_probability or self.entra_limits)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON (admin endpoint, CLI); unknown keys and wrong types are a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        numbers = (
            "latency_ms",
            "throttle_rate_per_s",
            "throttle_burst",
            "throttle_probability",
            "error_rate",
            "timeout_rate",
            "retry_after_s",
            "replication_lag_ms",
        )
        for name in numbers:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        for name in ("throttle_probability", "error_rate", "timeout_rate"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError("seed must be an integer")
        if not isinstance(self.include_identity, bool):
            raise ValueError("include_identity must be true or false")
        if not isinstance(self.entra_limits, bool):
            raise ValueError("entra_limits must be true or false")


#: Entra's identity and access limits: (scope, kind) -> (quota, window seconds). ``RU`` buckets
#: hold resource units, ``Write`` buckets count writes. Tenant size S (under 50 users).
ENTRA_LIMITS: dict[tuple[str, str], tuple[float, float]] = {
    ("Tenant_Application", "ReadWrite"): (3_500, 10),
    ("Tenant_Application", "Write"): (3_000, 150),
    ("Application", "ReadWrite"): (150_000, 20),
    ("Application", "Write"): (35_000, 300),
    ("Tenant", "Write"): (18_000, 300),
}
#: Base resource-unit costs of reads the page lists above 1 (lower-case path patterns; ``*`` = an id).
_READ_COSTS = {
    ("applications",): 2,
    ("applications", "*", "extensionproperties"): 2,
    ("oauth2permissiongrants",): 2,
    ("oauth2permissiongrants", "*"): 2,
    ("serviceprincipals", "*", "approleassignments"): 2,
    ("users",): 2,
    ("contracts",): 3,
    ("subscribedskus",): 3,
    ("groups", "*", "members"): 3,
    ("groups", "*", "transitivemembers"): 5,
}


def request_cost(method: str, path: str, query: dict[str, str]) -> tuple[int, int]:
    """(resource units, writes) of one Graph request as Entra's limits count it."""
    parts = tuple(p.lower() for p in path.strip("/").split("/") if p)
    if parts and parts[0] == "v1.0":
        parts = parts[1:]
    write = method.upper() not in ("GET", "HEAD")
    if write:
        return 1, 1
    shape = tuple("*" if i % 2 else part for i, part in enumerate(parts))
    cost = _READ_COSTS.get(shape, 1)
    keys = {k.lower() for k in query}
    if "$select" in keys:
        cost -= 1
    if "$expand" in keys:
        cost += 1
    top = query.get("$top") or query.get("$TOP")
    if top is not None and top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1), 0


class _Runtime:
    """Mutable state behind one FaultConfig: seeded randomness and one token bucket per caller."""

    def __init__(self, seed: int | None) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, refilled at)
        self.entra: dict[tuple[str, str, str], tuple[float, float]] = {}  # (scope, kind, key) -> bucket

    def take_entra(self, app_id: str, tenant: str, units: int, writes: int) -> tuple[float, str]:
        """(0, "") when every limit admits the request (its cost is then taken), else (wait, scope)."""
        wanted = [("Tenant_Application", "ReadWrite", f"{app_id}/{tenant}", units)]
        wanted.append(("Application", "ReadWrite", app_id, units))
        if writes:
            wanted += [
                ("Tenant_Application", "Write", f"{app_id}/{tenant}", writes),
                ("Application", "Write", app_id, writes),
                ("Tenant", "Write", tenant, writes),
            ]
        now = time.monotonic()
        with self.lock:
            levels: list[tuple[tuple[str, str, str], float, float]] = []
            for scope, kind, key, cost in wanted:
                quota, window = ENTRA_LIMITS[scope, kind]
                tokens, refilled = self.entra.get((scope, kind, key), (quota, now))
                tokens = min(quota, tokens + (now - refilled) * quota / window)
                if tokens < cost:  # the first limit reached throttles; nothing is taken
                    self.entra[scope, kind, key] = (tokens, now)
                    return (cost - tokens) * window / quota, f"{scope}/{kind}/{app_id}/{tenant}"
                levels.append(((scope, kind, key), tokens - cost, now))
            for bucket, tokens, when in levels:
                self.entra[bucket] = (tokens, when)
        return 0.0, ""

    def take_token(self, config: FaultConfig, caller: str) -> float:
        """0 when the caller's request may pass, else seconds until its bucket has a token again."""
        burst = float(max(1, config.throttle_burst or math.ceil(config.throttle_rate_per_s)))
        now = time.monotonic()
        with self.lock:
            tokens, refilled = self.buckets.get(caller, (burst, now))
            tokens = min(burst, tokens + (now - refilled) * config.throttle_rate_per_s)
            if tokens >= 1:
                self.buckets[caller] = (tokens - 1, now)
                return 0.0
            self.buckets[caller] = (tokens, now)
            return (1 - tokens) / config.throttle_rate_per_s

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.lock:
            return self.rng.random() < probability


@dataclass(frozen=True)
class Fault:
    """One injected failure: status, the Retry-After to send, and the Graph error code/message."""

    status: int
    retry_after: float
    code: str
    message: str

    scope: str = "Tenant_Application/ReadWrite"

    def headers(self, request_id: str) -> dict[str, str]:
        headers = {"Retry-After": format_retry_after(self.retry_after), "request-id": request_id}
        if self.status == 429:
            # Header names from Graph's throttling guidance (identity and access service limits).
            write = "/Write/" in f"{self.scope}/"
            headers["x-ms-throttle-information"] = (
                "WriteLimitExceeded" if write else "ResourceUnitLimitExceeded"
            )
            headers["x-ms-throttle-scope"] = self.scope
        return headers

    def body(self, ctx: EmulatorContext, request_id: str, client_request_id: str | None) -> dict[str, Any]:
        """Graph's error envelope (code, message, innerError with date and request ids)."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": iso(ctx.clock.now()),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def format_retry_after(seconds: float) -> str:
    """Whole seconds as Graph sends them; sub-second values (tests) with millisecond precision."""
    if seconds >= 1:
        return str(math.ceil(seconds))
    return f"{max(seconds, 0.001):.3f}"


def _throttled(retry_after: float) -> Fault:
    return Fault(
        429, retry_after, "TooManyRequests", "Too many requests. Please retry after the given delay."
    )


def _server_error(config: FaultConfig) -> Fault | None:
    if config._runtime.chance(config.error_rate):
        return Fault(
            503,
            config.retry_after_s,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        )
    if config._runtime.chance(config.timeout_rate):
        return Fault(
            504, config.retry_after_s, "GatewayTimeout", "The gateway did not receive a timely response."
        )
    return None


def _entra_fault(config: FaultConfig, request: tuple[str, str, str, dict[str, str]] | None) -> Fault | None:
    """Entra's directory limits for one request (app id, tenant, method, path, query)."""
    if not config.entra_limits or request is None:
        return None
    caller, method, path, query = request
    app_id, _, tenant = caller.partition("@")
    units, writes = request_cost(method, path, query)
    wait, scope = config._runtime.take_entra(app_id, tenant or "-", units, writes)
    if not wait:
        return None
    return Fault(
        429,
        max(1.0, math.ceil(wait)),
        "TooManyRequests",
        "Too many requests. Please retry after the given delay.",
        scope,
    )


def _throttle_fault(
    config: FaultConfig, caller: str, request: tuple[str, str, str, dict[str, str]] | None = None
) -> Fault | None:
    fault = _entra_fault(config, request)
    if fault is not None:
        return fault
    if config.throttle_rate_per_s:
        wait = config._runtime.take_token(config, caller)
        if wait:
            return _throttled(max(wait, min(config.retry_after_s, 1.0)))
    if config._runtime.chance(config.throttle_probability):
        return _throttled(config.retry_after_s)
    return None


def _record(ctx: EmulatorContext, fault: Fault) -> None:
    ctx.count(f"faults_{fault.status}")
    ctx.count("faults_injected")


def inner_fault(
    ctx: EmulatorContext,
    caller_app_id: str,
    *,
    tenant: str = "",
    method: str = "GET",
    path: str = "/",
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """Throttling for one inner request of ``$batch``: (status, body, headers) of a 429, or None.

    Graph evaluates every inner request against the caller's limits and answers
    429 for that request alone (with its own Retry-After); the batch stays 200.
    """
    config = ctx.faults
    if not isinstance(config, FaultConfig) or not config.throttles:
        return None
    caller = caller_app_id or _UNKNOWN_CALLER
    fault = _throttle_fault(config, caller, (f"{caller}@{tenant}", method, path, query or {}))
    if fault is None:
        return None
    _record(ctx, fault)
    request_id = str(uuid.uuid4())
    headers = fault.headers(request_id)
    headers.pop("request-id")
    return fault.status, fault.body(ctx, request_id, None), headers


def caller_key(headers: dict[str, str]) -> str:
    """The ``appid``/``azp`` claim of the bearer token, read without verification (throttling key only)."""
    return _claims_key(headers)[0]


def _claims_key(headers: dict[str, str]) -> tuple[str, str]:
    """(``appid``/``azp``, ``tid``) of the bearer token, read without verification (throttling keys only)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return _UNKNOWN_CALLER, ""
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return _UNKNOWN_CALLER, ""
    if not isinstance(claims, dict):
        return _UNKNOWN_CALLER, ""
    return str(claims.get("appid") or claims.get("azp") or _UNKNOWN_CALLER), str(claims.get("tid") or "")


class FaultMiddleware:
    """Pure ASGI middleware applying ``ctx.faults`` (read per request, so tests can change it live)."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        fault: Fault | None = None
        if config.throttles and path != BATCH_PATH:  # $batch: per inner request (inner_fault)
            app_id, tenant = _claims_key(headers)
            request = None
            if is_graph:
                query = dict(
                    parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
                )
                request = (f"{app_id}@{tenant}", scope["method"], path[len(GRAPH_PREFIX) :], query)
            fault = _throttle_fault(config, app_id, request)
        if fault is None:
            fault = _server_error(config)
        if fault is None:
            await self.app(scope, receive, send)
            return
        _record(self.ctx, fault)
        await self._fail(send, fault, headers, is_graph)

    async def _fail(self, send: Send, fault: Fault, headers: dict[str, str], is_graph: bool) -> None:
        request_id = str(uuid.uuid4())
        if is_graph:
            body: dict[str, Any] = fault.body(self.ctx, request_id, headers.get("client-request-id"))
        else:
            body = {
                "error": "temporarily_unavailable",
                "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                "error_codes": [90033],
            }
        payload = json.dumps(body).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        response_headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers(request_id).items()]
        await send({"type": "http.response.start", "status": fault.status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})
