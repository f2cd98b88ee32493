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
    require_consent_to_delete,
    run_options,
    say,
)
from provisioner.core.locking import apply_lock
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
        if yes:
            return True
        sys.stderr.write("Delete these applications? Only 'yes' is accepted: ")
        sys.stderr.flush()
        return sys.stdin.readline().strip() == "yes"

    options = run_options(
        paths, emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir, apps=only
    )
    # Refused before the lock and the first Graph call: with no terminal there is nobody to ask.
    require_consent_to_delete(
        yes,
        "destroy --purge deletes applications for good" if purge else "destroy deletes applications",
    )
    progress = None if json_output else print_progress
    with apply_lock(options.state_dir, progress):
        outcome = run_destroy(options, purge=purge, approve=approve, progress=progress)
    if json_output:
        emit_json(outcome.to_dict())
    else:
        _print(outcome)
    outcome.raise_for_errors()


def _print(outcome: Any) -> None:
    # App names, reasons and paths come from manifests and the tenant: printed escaped.
    for skipped in outcome.skipped:
        say(f"skipped {skipped['app']}: {skipped['reason']}")
    for done in outcome.destroyed:
        how = (
            "deleted and purged"
            if done["purged"]
            else "deleted (restorable for 30 days: provisioner restore)"
        )
        say(f"{done['app']}: {how}, appId {done['app_id']}")
    for path in outcome.connection_files_removed:
        say(f"removed connection file {path} (purged: its secrets can never be used again)")
    for sink in outcome.sinks_left:
        say(f"left in place: {sink} (written by the manifest's sinks; remove it if nothing reads it)")
    if not outcome.destroyed and not outcome.errors:
        typer.echo("Nothing destroyed.")
