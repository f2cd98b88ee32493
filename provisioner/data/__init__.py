"""Permission catalogues shipped with the package: plain data that both the tool and the emulator read.

This package holds the Microsoft Graph and Office 365 Exchange Online service-principal dumps
(see SOURCES.md) and nothing else, so the emulator can read them without depending on the tool,
and the tool without depending on the emulator. Stdlib only: ``validate`` reads it on its hot path.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Literal

CatalogName = Literal["graph", "exchange"]
NAMES: tuple[CatalogName, ...] = ("graph", "exchange")


@functools.cache
def load_catalog(name: CatalogName) -> dict[str, Any]:
    """One catalogue (``graph`` or ``exchange``) as parsed JSON, read once per process."""
    text = resources.files(__name__).joinpath(f"{name}-permissions.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
