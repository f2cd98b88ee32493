"""`provisioner destroy`: delete the declared registrations (soft delete; --purge makes it final)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from provisioner.cli._base import (
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    Paths,
    StateDirOpt,
    TenantOpt,
    app,
    emit_json,
    handles_errors,
    run_options,
)
from provisioner.core.progress import print_progress


@app.command()
@handles_errors
def destroy(
    paths: Paths,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also remove them from deleted items (no restore possible).")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--app", help="Only this app (manifest name); repeatable.")
    ] = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Delete the apps the manifests declare, with their service principals, consent and secrets."""
    from provisioner.engine.destroy import destroy as run_destroy
    from provisioner.views.render import print_plan

    def approve(pending: Any) -> bool:
        if not json_output:
            print_plan(pending)
        if yes or not sys.stdin.isatty():
            return True
        sys.stderr.write("Delete these applications? Only 'yes' is accepted: ")
        sys.stderr.flush()
        return sys.stdin.readline().strip() == "yes"

    options = run_options(
        paths, emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir, apps=only
    )
    outcome = run_destroy(
        options,
        purge=purge,
        approve=approve,
        progress=None if json_output else print_progress,
    )
    if json_output:
        emit_json(outcome.to_dict())
    else:
        _print(outcome)
    outcome.raise_for_errors()


def _print(outcome: Any) -> None:
    for skipped in outcome.skipped:
        typer.echo(f"skipped {skipped['app']}: {skipped['reason']}")
    for done in outcome.destroyed:
        how = (
            "deleted and purged"
            if done["purged"]
            else "deleted (restorable for 30 days: provisioner restore)"
        )
        typer.echo(f"{done['app']}: {how}, appId {done['app_id']}")
    for path in outcome.connection_files_removed:
        typer.echo(f"removed connection file {path} (purged: its secrets can never be used again)")
    for sink in outcome.sinks_left:
        typer.echo(f"left in place: {sink} (written by the manifest's sinks; remove it if nothing reads it)")
    if not outcome.destroyed and not outcome.errors:
        typer.echo("Nothing destroyed.")
