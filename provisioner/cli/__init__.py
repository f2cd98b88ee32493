"""The ``provisioner`` command: Typer, one module per command, thin.

Importing this package registers every command on ``app``. Each command module stays cheap to
import (the engine and its heavy libraries are imported inside the command function), because
``provisioner --help`` imports every one of them. A command parses options, builds the engine's
options object, calls one engine function and hands the outcome to :mod:`provisioner.views`.
"""

from __future__ import annotations

import logging

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


def main() -> None:
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
