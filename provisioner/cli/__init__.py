"""The ``provisioner`` command: Typer, one module per command, thin.

Importing this package registers every command on ``app``. Each command module stays cheap to
import (the engine and its heavy libraries are imported inside the command function), because
``provisioner --help`` imports every one of them. A command parses options, builds the engine's
options object, calls one engine function and hands the outcome to :mod:`provisioner.views`.
"""

from __future__ import annotations

import logging

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
    logging.getLogger().addHandler(logging.NullHandler())
    if settings.env(settings.DEBUG):
        logging.basicConfig(level=logging.DEBUG)
    app()


__all__ = ["app", "main"]
