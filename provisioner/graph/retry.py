"""Bounded retries for Entra's eventual consistency (not for throttling).

Throttling (429/503/504 + Retry-After) is the SDK's RetryHandler middleware's
job. What it cannot know: a service principal POSTed right after its
application may be refused with 400 "appId ... does not reference a valid
application object", and grants/assignments referencing a brand-new service
principal may 404 for a while. Those are retried here, only for objects this
run just created, with exponential backoff inside a fixed time budget, and
every wait is reported so a slow apply is never silent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from provisioner.graph.errors import error_message, error_status

T = TypeVar("T")

BUDGET_SECONDS = 30.0
FIRST_DELAY = 0.25

_REPLICATION_HINTS = (
    "does not reference a valid application object",
    "does not exist",
    "not found",
    "invalid value specified for property",
)


def is_replication_lag(exc: BaseException) -> bool:
    """A 404, or a 400 whose message says a just-created object is not visible yet."""
    status = error_status(exc)
    if status == 404:
        return True
    return status == 400 and any(h in error_message(exc).lower() for h in _REPLICATION_HINTS)


async def retry_replication(
    call: Callable[[], Awaitable[T]],
    *,
    waiting_for: str,
    progress: Callable[[str], None] | None = None,
    enabled: bool = True,
    budget: float = BUDGET_SECONDS,
    is_transient: Callable[[BaseException], bool] = is_replication_lag,
) -> T:
    """Run ``call``; while it fails with replication lag, back off and retry within ``budget`` seconds."""
    from kiota_abstractions.api_error import APIError

    deadline = time.monotonic() + budget
    delay = FIRST_DELAY
    attempt = 1
    while True:
        try:
            return await call()
        except APIError as exc:
            remaining = deadline - time.monotonic()
            if not enabled or not is_transient(exc) or remaining <= 0:
                raise
            wait = min(delay, remaining)
            if progress:
                progress(f"waiting for {waiting_for} to replicate (attempt {attempt}, retry in {wait:.1f}s)")
            await asyncio.sleep(wait)
            delay *= 2
            attempt += 1
