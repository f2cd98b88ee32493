"""The one options object every engine operation takes.

Single-tenant and ``--tenants`` runs differ only in where targets come from, so
they share this object instead of threading a dozen positional parameters
through twin code paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioner.engine.planner import Plan

DEFAULT_STATE_DIR = Path(".provisioner")

#: Asked with the plan before anything is written; may be async (a run over several tenants waits
#: until every tenant has planned, then one answer decides for all).
Approve = Callable[["Plan"], "bool | Awaitable[bool]"]


@dataclass(frozen=True)
class RunOptions:
    """What a command asked for; the engine never reads CLI flags or globals beyond this."""

    paths: tuple[str, ...] = ()
    state_dir: Path = DEFAULT_STATE_DIR
    #: Folder relative sink paths resolve against; ``None`` means the working directory at call time.
    base_dir: Path | None = None
    emulator: bool = False
    tenant: str | None = None
    #: A tenants file: the same manifests converge in every tenant it lists.
    tenants_file: Path | None = None
    cloud: str = "public"
    prune: bool = False
    #: Restrict ``rotate``/``status``/``destroy`` to these apps (empty: every declared app).
    apps: tuple[str, ...] = field(default=())
    force: bool = False

    @property
    def base(self) -> Path:
        return self.base_dir or Path.cwd()
