"""The ``provisioner`` command: Typer, one module per command, thin.

Importing this package registers every command on ``app``. Each command module stays cheap to
import (the engine and its heavy libraries are imported inside the command function), because
``provisioner --help`` imports every one of them. A command parses options, builds the engine's
options object, calls one engine function and hands the outcome to :mod:`provisioner.views`.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

from provisioner import __version__
from provisioner.cli import (  # noqa: F401
    apply,
    authorize,
    destroy,
    doctor,
    emulator,
    export,
    plan,
    restore,
    rotate,
    schema,
    status,
    validate,
    verify,
)
from provisioner.cli._base import app
from provisioner.core import settings


def _skip_unused_imports() -> None:
    """Keep the command's start-up to what it uses (a no-change ``plan`` is mostly imports).

    Only for the console script (a process of its own), never when ``app`` is imported: httpcore
    probes for trio (this CLI runs on asyncio only) and httpx imports its own command line (with
    pygments) when they are installed; pydantic scans every installed distribution for plugins.
    """
    for module in ("trio", "httpx._main"):
        if module not in sys.modules:
            sys.modules[module] = None  # type: ignore[assignment]  # import fails: the library's fallback
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def _no_cycle_collection() -> None:
    """Run a command without Python's cyclic garbage collector, and skip its passes at exit.

    Why: a command is a short process that builds a large, mostly long-lived heap (the plan, the
    SDK's request models, one set of values per app) and leaves little cyclic garbage (the
    connection files are written without any, see ``core.fileio.indented_json``). The collector
    still walked every object that lived past one of its passes: at 1,000 apps that was ~0.15 s
    of a fresh ``apply``'s CPU and at 5,000 apps over 1 s (growing faster than the app count,
    as older generations are walked again), to free about 50 objects per app. Memory held by
    the uncollected garbage is small beside the heap (a 5,000-app ``apply`` stays under the
    bench's 400 MB). At exit the interpreter would collect again while it tears down every
    module (~0.1 s of every command, a fifth of a one-app ``plan``); :func:`gc.freeze` moves
    every object out of reach of those passes. ``emulator serve`` runs for hours and turns the
    collector back on.
    """
    gc.disable()


def main() -> None:
    _skip_unused_imports()
    _no_cycle_collection()
    # Libraries (azure-identity above all) log failures as warnings with the whole token-endpoint
    # response; with no handler, Python would print them to stderr beside our one-line error.
    # The CLI reports every failure itself, so library logs stay silent unless asked for.
    # ``basicConfig`` does nothing once the root logger has a handler, so it must come first.
    if settings.env(settings.DEBUG):
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("provisioner").debug("provisioner %s: debug logging on", __version__)
    else:
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        app()
    finally:
        gc.freeze()


__all__ = ["app", "main"]
