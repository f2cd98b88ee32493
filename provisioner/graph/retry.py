"""Retries, in two layers that never multiply: transient HTTP failures, and Entra's replication lag.

1. :class:`~provisioner.graph.http_retry.GraphRetryHandler` — a kiota middleware
   (in its own module, so this one imports neither httpx nor kiota) that *replaces* the SDK's
   ``RetryHandler`` in the Graph client's pipeline (see
   :mod:`provisioner.graph.connect`). It retries one HTTP request on 429, 503,
   504 and connection failures: honouring ``Retry-After`` (seconds or an HTTP
   date; a value above ``max_wait`` is not waited for, the error is reported),
   else capped exponential backoff with jitter, at most ``max_retries`` times.
   Why not the SDK's handler: it adds a fixed 3 s to every backoff, cannot
   retry connection resets, has no cap on ``Retry-After`` and waits silently.
   Every wait here is reported ("waited 2.1 s for Graph throttling (429) on
   create service principal") through the client's ``on_wait`` callback.
   Requests that may have reached Graph before failing (a reset after sending,
   504) are replayed only when replaying is harmless: reads, PUT/PATCH/DELETE,
   and POSTs whose duplicates Graph refuses (grants, assignments answer 409 /
   "already exists"). ``addPassword`` is never replayed after an ambiguous
   failure: a second secret would be minted that nobody holds.

2. :func:`retry_replication` — around a whole SDK call, only for objects this
   run has just created: a service principal POSTed right after its
   application may be refused with 400 "appId ... does not reference a valid
   application object", and grants/assignments referencing a brand-new service
   principal may 404 for a while. Retried with backoff until
   ``replication_timeout``. Throttling inside such a call is layer 1's job (a
   429 that outlasts layer 1 is not retried again here), so the layers never
   multiply into retry storms.

Bounds come from the environment (documented in docs/reliability.md):
``PROVISIONER_MAX_RETRIES`` (default 6), ``PROVISIONER_RETRY_MAX_WAIT``
(seconds, default 60), ``PROVISIONER_REPLICATION_TIMEOUT`` (seconds, default 60).
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from provisioner.core import settings
from provisioner.core.errors import ProvisionerError
from provisioner.graph.failures import error_message, error_status

T = TypeVar("T")
Report = Callable[[str], None]


RETRY_STATUSES = frozenset({429, 503, 504})

_REPLICATION_HINTS = (
    "does not reference a valid application object",
    "does not exist",
    "not found",
    # a grant/assignment naming a service principal Graph cannot see yet
    "invalid value specified for property 'clientid'",
    "invalid value specified for property 'resourceid'",
    "invalid value specified for property 'principalid'",
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry; see the module docstring for the environment variables."""

    max_retries: int = 6
    max_wait: float = 60.0  # cap of one wait; a longer Retry-After is not waited for
    base_delay: float = 0.5  # first backoff without Retry-After
    replication_timeout: float = 60.0  # total time to wait for a just-created object to replicate
    replication_first_delay: float = 0.25

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        env = os.environ if environ is None else environ
        return cls(
            max_retries=int(_number(env, settings.MAX_RETRIES, cls.max_retries, integer=True)),
            max_wait=_number(env, settings.RETRY_MAX_WAIT, cls.max_wait),
            replication_timeout=_number(env, settings.REPLICATION_TIMEOUT, cls.replication_timeout),
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Capped exponential backoff with "equal jitter": half fixed, half random.

        ``attempt`` counts from 1. The fixed half keeps waits growing; the random half
        spreads concurrent clients (apps applied in parallel) so they do not retry in step.
        """
        ceiling = min(self.max_wait, self.base_delay * 2 ** (max(1, attempt) - 1))
        return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))

    def delay_after(self, retry_after: float | None, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``attempt``: Retry-After (plus a little jitter) or the backoff."""
        if retry_after is None:
            return self.backoff(attempt, rng)
        return retry_after + (rng or random).uniform(0, min(0.25, retry_after * 0.1))


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number of seconds"
        raise ProvisionerError(f"{name}={raw!r} is not {kind}") from None
    if value < 0 or not math.isfinite(value):
        raise ProvisionerError(f"{name}={raw!r} must not be negative")
    return value


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a (possibly fractional) number, or an HTTP date. None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def describe_wait(seconds: float, reasons: Mapping[str, int], action: str) -> str:
    """One line: "waited 2.1 s for Graph throttling (429) on create service principal"."""
    parts = [f"{reason} x{count}" if count > 1 else reason for reason, count in reasons.items()]
    return f"waited {seconds:.1f} s for {', '.join(parts)} on {action}"


@dataclass
class RetryStats:
    """What the HTTP layer survived in one client's lifetime (reported by doctor, asserted by tests)."""

    retries: int = 0
    waited: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0


# ---------------------------------------------------------------- layer 2: replication lag


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
    progress: Report | None = None,
    enabled: bool = True,
    budget: float | None = None,
    is_transient: Callable[[BaseException], bool] = is_replication_lag,
    policy: RetryPolicy | None = None,
) -> T:
    """Run ``call``; while it fails with replication lag, back off and retry until the time budget.

    ``budget`` defaults to ``PROVISIONER_REPLICATION_TIMEOUT``. When it succeeds after
    waiting, one line says how long and for what; when the budget runs out the last
    error is raised unchanged (the caller maps it to a one-line GraphError).
    """
    from kiota_abstractions.api_error import APIError

    policy = policy or RetryPolicy.from_env()
    budget = policy.replication_timeout if budget is None else budget
    started = time.monotonic()
    deadline = started + budget
    attempt = 0
    try:
        while True:
            try:
                return await call()
            except APIError as exc:
                remaining = deadline - time.monotonic()
                if not enabled or not is_transient(exc) or remaining <= 0:
                    raise
                attempt += 1
                wait = min(remaining, policy.backoff(attempt) + policy.replication_first_delay / 2)
                await asyncio.sleep(wait)
    finally:
        if attempt and progress:
            waited = time.monotonic() - started
            progress(f"waited {waited:.1f} s for the new {waiting_for} to replicate ({attempt} retries)")
