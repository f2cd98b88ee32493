"""Layer 1 of :mod:`provisioner.graph.retry`: bounded, visible retries of one HTTP request.

A kiota middleware that takes the place of the SDK's ``RetryHandler`` in the
Graph client's pipeline (:func:`provisioner.graph.connect.graph_middleware`).
Kept apart from :mod:`provisioner.graph.retry` because it needs httpx and kiota
at import time; the policy, ``Retry-After`` parsing and wait messages it uses
live there.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
from kiota_http.middleware.middleware import BaseMiddleware

from provisioner.graph import trace
from provisioner.graph.retry import (
    RETRY_STATUSES,
    Report,
    RetryPolicy,
    RetryStats,
    describe_wait,
    parse_retry_after,
)

_REASONS = {429: "Graph throttling (429)", 503: "Graph unavailable (503)", 504: "Graph gateway timeout (504)"}
# Requests whose repetition Graph turns into "already exists" / "already gone", or that change nothing.
_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_NEVER_REPLAY_MARKERS = (b"addPassword", b"addKey")


def _graph_path(request: httpx.Request) -> str:
    path = request.url.path
    index = path.find("/v1.0")
    return path[index + len("/v1.0") :] if index >= 0 else path


def _action_label(request: httpx.Request) -> str:
    return trace.current_action.get() or f"{request.method} {_graph_path(request).split('?')[0]}"


def replayable(request: httpx.Request) -> bool:
    """May this request be sent again although Graph may have executed it already?"""
    if request.method.upper() in _REPLAYABLE_METHODS:
        return True
    try:
        content = request.content
    except httpx.RequestNotRead:  # a streamed body cannot be inspected (or replayed)
        return False
    path = request.url.path.encode()
    return not any(marker in path or marker in content for marker in _NEVER_REPLAY_MARKERS)


def _transport_reason(exc: Exception) -> tuple[str, bool]:
    """(reason shown to the user, whether the request certainly never reached Graph)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return "connection failure", True
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", False
    return "connection reset", False


class GraphRetryHandler(BaseMiddleware):
    """Kiota middleware: bounded, visible retries of transient HTTP failures (layer 1)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        on_wait: Report | None = None,
        stats: RetryStats | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy or RetryPolicy.from_env()
        self.on_wait = on_wait
        self.stats = stats or RetryStats()
        self.rng = random.Random()

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        attempt = 0
        waited = 0.0
        reasons: Counter[str] = Counter()
        try:
            while True:
                retry_after: float | None = None
                try:
                    response = await super().send(request, transport)
                except httpx.TransportError as exc:
                    reason, unsent = _transport_reason(exc)
                    if attempt >= self.policy.max_retries or not (unsent or replayable(request)):
                        self.stats.gave_up += 1
                        raise
                else:
                    status = response.status_code
                    if status == 403:
                        trace.note_refusal(request.method, _graph_path(request))
                    if status not in RETRY_STATUSES or (status == 504 and not replayable(request)):
                        return response
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    if attempt >= self.policy.max_retries or (
                        retry_after is not None and retry_after > self.policy.max_wait
                    ):
                        self.stats.gave_up += 1
                        return response
                    reason = _REASONS[status]
                    await response.aclose()
                attempt += 1
                delay = self.policy.delay_after(retry_after, attempt, self.rng)
                reasons[reason] += 1
                self.stats.retries += 1
                self.stats.reasons[reason] += 1
                if delay >= 10 and self.on_wait:  # a long wait is announced before it starts
                    self.on_wait(f"waiting {delay:.0f} s for {reason} on {_action_label(request)}")
                await asyncio.sleep(delay)
                waited += delay
                self.stats.waited += delay
                request.headers["Retry-Attempt"] = str(attempt)
        finally:
            if reasons and self.on_wait:
                self.on_wait(describe_wait(waited, reasons, _action_label(request)))
