"""`provisioner emulator serve`: the local Graph + identity emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.commands._base import (
    JsonOpt,
    emulator_app,
    handles_errors,
)


@emulator_app.command("serve")
@handles_errors
def emulator_serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTPS port (0 picks a free one).")] = 8443,
    state: Annotated[Path | None, typer.Option(help="SQLite file to persist state across restarts.")] = None,
    tenant_id: Annotated[str | None, typer.Option("--tenant-id", help="Tenant ID to create (UUID).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Serve the emulator over HTTPS and print what a client needs to reach it."""
    from provisioner.emulator.server import serve

    serve(host=host, port=port, state_path=state, tenant_id=tenant_id, json_output=json_output)
