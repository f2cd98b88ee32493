"""The emulator clock moves freely inside 1970..9999 and refuses, unchanged, to leave that range."""

from __future__ import annotations

import math

import pytest

from provisioner.emulator.clock import EARLIEST, LATEST, Clock, ClockRangeError


@pytest.mark.parametrize("seconds", [1e12, -1e12, 10**40, -(10**40), math.inf, -math.inf, math.nan])
def test_moves_out_of_range_are_refused_and_change_nothing(seconds: float) -> None:
    clock = Clock()
    clock.advance(86400)
    with pytest.raises(ClockRangeError):
        clock.advance(seconds)
    assert clock.offset_seconds == 86400
    assert EARLIEST < clock.now() < LATEST


@pytest.mark.parametrize("seconds", [True, "60", None])
def test_only_numbers_move_the_clock(seconds: object) -> None:
    clock = Clock()
    with pytest.raises(ClockRangeError):
        clock.advance(seconds)  # type: ignore[arg-type]
    assert clock.offset_seconds == 0


def test_the_edges_themselves_are_reachable() -> None:
    clock = Clock()
    to_end = (LATEST - clock.now()).total_seconds() - 5
    assert clock.advance(to_end).year == 9999
    with pytest.raises(ClockRangeError):
        clock.advance(3600)
    back = Clock()
    assert back.advance(-(back.now() - EARLIEST).total_seconds() + 5).year == 1970
    with pytest.raises(ClockRangeError):
        back.advance(-3600)


def test_now_stays_in_range_even_when_wall_time_crosses_the_edge() -> None:
    """An offset set right at the edge must not make now() overflow a moment later."""
    clock = Clock(offset_seconds=(LATEST - Clock().now()).total_seconds() + 3600)
    assert clock.now() == LATEST
    assert Clock(offset_seconds=-1e12).now() == EARLIEST
