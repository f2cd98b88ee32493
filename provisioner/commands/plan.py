"""`provisioner plan`: what apply would change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from provisioner.commands._base import (
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    Paths,
    StateDirOpt,
    TenantOpt,
    app,
    handles_errors,
)
from provisioner.errors import ExitCode


@app.command()
@handles_errors
def plan(
    paths: Paths,
    json_output: JsonOpt = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when changes are pending.")
    ] = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Show what apply would change in the tenant."""
    from provisioner import workflow
    from provisioner.render import print_plan

    outcome = workflow.plan(
        [str(p) for p in paths], emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir
    )
    if json_output:
        typer.echo(json.dumps(outcome.plan.to_dict(), indent=2))
    else:
        print_plan(outcome.plan, warnings=outcome.warnings)
    if detailed_exitcode and not outcome.plan.is_empty:
        raise typer.Exit(ExitCode.CHANGES)
