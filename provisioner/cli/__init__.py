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


def _collect_less_often() -> None:
    """Run the cyclic garbage collector less often than Python's default (every 700 allocations).

    msgraph-sdk's models keep their values in a backing store full of reference cycles
    (subscription lambdas), so a 1,000-app apply allocates millions of tracked objects and the
    default thresholds spent ~10% of its CPU in collections that free little. Collections still
    run (every 50,000 allocations), so peak memory barely moves.
    """
    gc.set_threshold(50_000, 20, 20)


def main() -> None:
    _skip_unused_imports()
    _collect_less_often()
    # Libraries (azure-identity above all) log failures as warnings with the whole token-endpoint
    # response; with no handler, Python would print them to stderr beside our one-line error.
    # The CLI reports every failure itself, so library logs stay silent unless asked for.
    # ``basicConfig`` does nothing once the root logger has a handler, so it must come first.
    if settings.env(settings.DEBUG):
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("provisioner").debug("provisioner %s: debug logging on", __version__)
    else:
        logging.getLogger().addHandler(logging.NullHandler())
    app()


__all__ = ["app", "main"]
