"""`provisioner export`: manifest YAML for registrations that already exist (adopts them by appId)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    StateDirOpt,
    TenantOpt,
    app,
    emit_json,
    handles_errors,
    run_options,
    say,
)


@app.command()
@handles_errors
def export(
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="Export the registration with this Application (client) ID."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Export every registration with this display name.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Export every registration in the tenant.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write one <name>.yaml per app into this folder (default: stdout)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files in --out.")] = False,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Write manifests for existing registrations: `plan` of the result shows no changes; values never exported."""
    from provisioner.engine.export import run_export

    result = run_export(
        app_id=app_id,
        display_name=name,
        everything=everything,
        out_dir=out,
        force=force,
        options=run_options(emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir),
    )
    if json_output:
        payload = {
            "tenant_id": result.tenant_id,
            "apps": [
                {"name": a.name, "app_id": a.app.app_id, "display_name": a.app.display_name, "notes": a.notes}
                for a in result.apps
            ],
            "files": [str(f) for f in result.files],
        }
        if result.text is not None:
            payload["manifest"] = result.text
        emit_json(payload)
        return
    if result.text is not None:
        typer.echo(result.text, nl=False)
    for path in result.files:
        say(f"wrote {path}", err=True)
    for item in result.apps:
        for note in item.notes:
            say(f"note: {item.name}: {note}", err=True)
