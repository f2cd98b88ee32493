"""Entry point of the `provisioner` command. Commands live in ``provisioner.commands``."""

from __future__ import annotations

from provisioner.commands import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
