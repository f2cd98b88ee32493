"""Human durations in manifests: ``90d``, ``12mo``, ``2y``, ``6w``, ``36h``.

Months and years are calendar-agnostic on purpose (30 and 365 days): a secret
lifetime is a policy number, and users compare it with the portal's choices
("180 days", "12 months", "24 months"), which use the same arithmetic.
"""

from __future__ import annotations

import functools
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
_PATTERN = re.compile(r"^\s*(\d+)\s*(min|mo|m|h|d|w|y)\s*$", re.ASCII)

#: The longest duration accepted, in years. Every duration ends up added to a date (a secret's
#: end date, a rotation deadline); ``datetime`` stops at year 9999, so a lifetime of 100000y
#: passed validation and crashed ``apply`` while computing the end date. A thousand years is far
#: beyond any policy and leaves the arithmetic (now + lifetime + overlap, a moved emulator clock)
#: well inside what ``datetime`` can represent.
MAX_YEARS = 1000
MAX_DURATION = timedelta(days=365 * MAX_YEARS)


class DurationError(ValueError):
    """A duration that cannot be used; ``str()`` is one line naming the text and the rule."""


def _shown(text: str) -> str:
    """The text quoted for a message, cut short: a 5000-digit number is not worth a screen."""
    return repr(text if len(text) <= 40 else text[:20] + "…" + text[-4:])


def parse_duration(text: str) -> timedelta:
    """``text`` as a ``timedelta``; a :class:`DurationError` (a ``ValueError``) otherwise.

    Bounded on both sides (more than zero, at most :data:`MAX_DURATION`), so the result
    can be added to any date of this millennium without overflowing. Text is parsed once
    per process: a run reads each app's few durations about ten times (checks, policy, plan).
    """
    if isinstance(text, str):
        return _parse_text(text)
    return _parse(text)


@functools.lru_cache(maxsize=1024)
def _parse_text(text: str) -> timedelta:
    return _parse(text)  # a DurationError is raised again on every call (lru_cache keeps results only)


def _parse(text: str) -> timedelta:
    match = _PATTERN.match(str(text))
    if not match:
        raise DurationError(
            f"invalid duration {_shown(str(text))}: use a number and a unit, e.g. 90d, 12mo, 2y, 6w, 36h"
        )
    digits, unit = match.group(1), match.group(2)
    too_long = DurationError(f"invalid duration {_shown(str(text))}: must be at most {MAX_YEARS}y")
    if len(digits.lstrip("0")) > 12:  # before int(): a 5000-digit number is its own ValueError
        raise too_long
    value = int(digits)
    if value <= 0:
        raise DurationError(f"invalid duration {_shown(str(text))}: must be greater than zero")
    seconds = value * _UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        raise too_long
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("y", "mo", "w", "d", "h"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}min"
