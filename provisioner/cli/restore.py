"""`provisioner restore`: bring back a deleted registration within Entra's 30-day retention window."""

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
from provisioner.core.locking import apply_lock
from provisioner.core.progress import print_progress


@app.command()
@handles_errors
def restore(
    app_id: Annotated[str | None, typer.Option("--app-id", help="Application (client) ID.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Manifest name (uniqueName) or display name.")
    ] = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Restore a deleted application with its secrets; `apply` then recreates its service principal and consent."""
    from provisioner.engine.destroy import restore as run_restore

    options = run_options(emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir)
    # A writing command: serialised with apply, rotate and destroy on the same state directory.
    with apply_lock(options.state_dir, None if json_output else print_progress):
        outcome = run_restore(options, app_id=app_id, name=name)
    if json_output:
        emit_json(outcome.to_dict())
        return
    label = outcome.unique_name or outcome.display_name
    say(f"restored {label} (appId {outcome.app_id})")
    typer.echo(
        "Entra does not restore its service principal, so it has no admin consent: run `provisioner apply` "
        "to recreate both; the connection file destroy kept still holds its secret, so no new one is needed."
    )
