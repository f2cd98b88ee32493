"""A clock the tests can move forward.

Secret expiry, token lifetimes and rotation windows are all about time; tests
must exercise "six months later" without waiting, so every time the emulator
reads goes through one :class:`Clock` whose offset can be advanced (over the
admin endpoint ``POST /_emulator/clock`` or directly in-process).

The moved clock stays between 1970 and the end of year 9999: Python's datetime
ends there, and every response's ``Date`` header reads the clock, so a clock
moved past it would fail every later request. A move out of range is refused
(:class:`ClockRangeError`) and leaves the clock where it was.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class ClockRangeError(ValueError):
    """A move that would take the clock before 1970 or past year 9999 (the clock is unchanged)."""


class Clock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._offset = timedelta(seconds=offset_seconds)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        try:
            moved = datetime.now(UTC) + offset
        except OverflowError:  # only when wall time itself crossed the edge after a move right up to it
            return LATEST if offset > timedelta(0) else EARLIEST
        return min(max(moved, EARLIEST), LATEST)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        """Move the clock by ``seconds`` (negative: back); :class:`ClockRangeError` if that leaves 1970..9999."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ClockRangeError("the clock moves by a finite number of seconds")
        with self._lock:
            try:
                offset = self._offset + timedelta(seconds=seconds)
                moved = datetime.now(UTC) + offset
            except OverflowError:
                moved = None
            if moved is None or not EARLIEST <= moved <= LATEST:
                raise ClockRangeError(
                    f"this move would take the clock out of {EARLIEST.year}..{LATEST.year};"
                    " the clock is unchanged"
                )
            self._offset = offset
        return self.now()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()


def iso(dt: datetime) -> str:
    """Graph's timestamp format: ISO 8601, UTC, ``Z`` suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt
