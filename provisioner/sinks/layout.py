"""Where the tool keeps its own files under the state directory (``./.provisioner`` by default).

The default connection file of every app and the delivery journal are found
here, so delivery, rotation holdings, the journal and destroy agree on one
layout without passing paths to each other.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

PathLike = str | os.PathLike[str]


#: The tenant being processed by a multi-tenant run (``--tenants``), if any: its connection files go
#: to ``<state_dir>/connections/<tenant>/<app>.json``. A ContextVar, so concurrent tenants (one asyncio
#: task each) see their own, and every reader and writer of the default file (delivery, rotation
#: holdings, destroy) agrees without threading a parameter through each of them.
CONNECTIONS_SUBDIR: ContextVar[str | None] = ContextVar("provisioner_connections_subdir", default=None)


def default_sink_path(app_name: str, state_dir: PathLike) -> Path:
    """``<state_dir>/connections/[<tenant>/]<app>.json``; the CLI's state dir defaults to ``./.provisioner``."""
    root = Path(state_dir).absolute() / "connections"
    subdir = CONNECTIONS_SUBDIR.get()
    return (root / subdir if subdir else root) / f"{app_name}.json"


def resolve_state_dir(base_dir: PathLike, state_dir: PathLike | None) -> Path:
    """The state directory a caller named, else ``<base_dir>/.provisioner``."""
    return Path(state_dir) if state_dir is not None else Path(base_dir) / ".provisioner"
