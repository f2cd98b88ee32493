"""Shared fixtures. Keep this file small: helpers add their fixtures next to their tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from provisioner.emulator import RunningEmulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """One in-memory emulator for the session. Tests must not move its clock (use tmp_emulator)."""
    from provisioner.emulator import start_emulator  # imported here: unit-only runs skip uvicorn

    with start_emulator() as running:
        yield running


@pytest.fixture
def tmp_emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A private emulator with durable state in tmp_path, for tests that change time or global state."""
    from provisioner.emulator import start_emulator

    with start_emulator(state_path=tmp_path / "state" / "emulator.db") as running:
        yield running
