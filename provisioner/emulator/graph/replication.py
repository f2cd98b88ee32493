"""Replication lag: a new directory object is invisible to key lookups for a while.

Real Entra ID answers 404 for an application read right after it was created,
400 "does not reference a valid application object" for its service principal,
and fails role assignments for a freshly created service principal. With
``ctx.faults.replication_lag_ms`` set (fault injection, off by default) the
emulator does the same, so the tool's bounded retries are exercised in CI.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.context import EmulatorContext

_KEY = "_visibleAfter"


def stamp(ctx: EmulatorContext, obj: dict[str, Any]) -> None:
    """Mark a newly created object as replicating for the configured lag."""
    lag_ms = getattr(ctx.faults, "replication_lag_ms", 0) or 0
    if lag_ms > 0:
        obj[_KEY] = ctx.clock.timestamp() + lag_ms / 1000.0


def visible(ctx: EmulatorContext, obj: dict[str, Any] | None) -> bool:
    if obj is None:
        return False
    after = obj.get(_KEY)
    return after is None or ctx.clock.timestamp() >= after
