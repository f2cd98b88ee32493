"""Entry point of the `provisioner` command. Commands live in ``provisioner.commands``."""

from __future__ import annotations

import logging
import os

from provisioner.commands import app


def main() -> None:
    # Libraries (azure-identity above all) log failures as warnings with the whole token-endpoint
    # response; with no handler, Python would print them to stderr beside our one-line error.
    # The CLI reports every failure itself, so library logs stay silent unless asked for.
    logging.getLogger().addHandler(logging.NullHandler())
    if os.environ.get("PROVISIONER_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    app()


if __name__ == "__main__":
    main()
