"""parse_duration: bounded on both sides, so every duration can be added to a date without overflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.core.durations import MAX_DURATION, MAX_YEARS, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12mo", timedelta(days=360)),
        ("2y", timedelta(days=730)),
        (" 6w ", timedelta(weeks=6)),
        ("15min", timedelta(minutes=15)),
        (f"{MAX_YEARS}y", MAX_DURATION),
        (f"{365 * MAX_YEARS}d", MAX_DURATION),
    ],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1000000000d", "must be at most 1000y"),  # beyond timedelta itself (was an OverflowError)
        ("100000y", "must be at most 1000y"),  # fits a timedelta, not now + it (crashed apply)
        (f"{MAX_YEARS + 1}y", "must be at most 1000y"),
        (f"{365 * MAX_YEARS * 86400 // 60 + 1}m", "must be at most 1000y"),
        ("9" * 5000 + "d", "must be at most 1000y"),  # longer than int() accepts from text
        ("0d", "greater than zero"),
        ("000d", "greater than zero"),
        ("٣d", "use a number and a unit"),  # non-ASCII digits are not digits here
        ("3x", "use a number and a unit"),
        ("", "use a number and a unit"),
    ],
)
def test_rejects_with_a_value_error_naming_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_duration(text)
    assert isinstance(caught.value, DurationError)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@given(st.integers(min_value=1, max_value=10**15), st.sampled_from(["min", "m", "h", "d", "w", "mo", "y"]))
def test_any_accepted_duration_can_be_added_to_now_and_back(value: int, unit: str) -> None:
    try:
        delta = parse_duration(f"{value}{unit}")
    except DurationError:
        return
    assert timedelta(0) < delta <= MAX_DURATION
    now = datetime.now(UTC)
    assert now + delta + delta > now  # end date plus an overlap: no OverflowError
    assert parse_duration(format_duration(delta)) == delta


def test_parsed_once_and_refused_every_time() -> None:
    """Text is remembered, a refusal is not: the same bad text fails on each call, any input type."""
    assert parse_duration("90d") is parse_duration("90d")
    for _ in range(2):
        with pytest.raises(DurationError, match="invalid duration '0d': must be greater than zero"):
            parse_duration("0d")
    with pytest.raises(DurationError, match="invalid duration '12'"):
        parse_duration(12)  # type: ignore[arg-type]
