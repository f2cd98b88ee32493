"""Replication lag: a new directory object is invisible to key lookups for a while.

Real Entra ID answers 404 for an application read right after it was created,
400 "does not reference a valid application object" for its service principal,
and fails role assignments for a freshly created service principal. With
``ctx.faults.replication_lag_ms`` set (fault injection, off by default) the
emulator does the same, so the tool's bounded retries are exercised in CI.

Seeding a tenant (:func:`provisioner.emulator.seed.ensure_tenant`) runs inside
:func:`bypassed`: the bootstrap app, its service principal and role assignments
are created in one go, as Microsoft's own provisioning of a tenant is not
subject to the caller-visible lag. Each lookup that the lag hides is counted
(``ctx.counters["replication_hidden"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from provisioner.emulator.context import EmulatorContext

_KEY = "_visibleAfter"
_bypass: ContextVar[bool] = ContextVar("replication_bypass", default=False)


@contextmanager
def bypassed() -> Iterator[None]:
    """Objects created inside are visible at once (tenant seeding, admin set-up)."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def lag_seconds(ctx: EmulatorContext) -> float:
    return (getattr(ctx.faults, "replication_lag_ms", 0) or 0) / 1000.0


def stamp(ctx: EmulatorContext, obj: dict[str, Any]) -> None:
    """Mark a newly created object as replicating for the configured lag."""
    lag = lag_seconds(ctx)
    if lag > 0 and not _bypass.get():
        obj[_KEY] = ctx.clock.timestamp() + lag


def visible(ctx: EmulatorContext, obj: dict[str, Any] | None) -> bool:
    if obj is None:
        return False
    after = obj.get(_KEY)
    if after is None or _bypass.get() or ctx.clock.timestamp() >= after:
        return True
    ctx.count("replication_hidden")
    return False
