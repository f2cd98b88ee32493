"""Human durations in manifests: ``90d``, ``12mo``, ``2y``, ``6w``, ``36h``.

Months and years are calendar-agnostic on purpose (30 and 365 days): a secret
lifetime is a policy number, and users compare it with the portal's choices
("180 days", "12 months", "24 months"), which use the same arithmetic.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "m": 60,  # minutes (mostly for tests)
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*(min|mo|m|h|d|w|y)\s*$")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(str(text))
    if not match:
        raise DurationError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 90d, 12mo, 2y, 6w, 36h"
        )
    value, unit = int(match.group(1)), match.group(2)
    if value <= 0:
        raise DurationError(f"invalid duration {text!r}: must be greater than zero")
    return timedelta(seconds=value * _UNITS[unit])


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("y", "mo", "w", "d", "h"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}min"
