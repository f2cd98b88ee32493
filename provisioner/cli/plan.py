"""``provisioner plan``: what apply would change, in one tenant or every tenant of a tenants file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    AppsOpt,
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    Paths,
    PruneOpt,
    StateDirOpt,
    TenantOpt,
    TenantsOpt,
    app,
    emit_json,
    handles_errors,
    print_error,
    report_tenants,
    run_options,
)
from provisioner.core.errors import ExitCode


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
    prune: PruneOpt = False,
    tenants: TenantsOpt = None,
    apps: AppsOpt = None,
) -> None:
    """Show what apply would change in the tenant."""
    from provisioner.engine import runner as engine
    from provisioner.views.render import print_plan
    from provisioner.views.tenants import print_fanout_plan

    options = run_options(
        paths,
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        tenants=tenants,
        prune=prune,
        apps=apps,
    )
    outcome = engine.plan(options)
    if tenants is None:
        result = outcome.single
        assert result.plan is not None
        if json_output:
            emit_json(result.plan.to_dict())
        else:
            print_plan(
                result.plan,
                warnings=[*outcome.warnings, *result.warnings],
                destinations=result.plan.destinations,
            )
    else:
        report_tenants(outcome, json_output, lambda: print_fanout_plan(outcome))
        if outcome.failed:
            raise engine.TenantsFailed(outcome.failed)
    # apply would fail on these before touching the tenant: so does plan (one line each)
    problems = [
        (f"{name}: " if tenants is not None else "") + line
        for name, result in outcome.results.items()
        if result.plan is not None
        for line in result.plan.problem_lines()
    ]
    for line in problems:
        print_error(line)
    if problems:
        raise typer.Exit(ExitCode.ERROR)
    if detailed_exitcode and outcome.changes_pending:
        raise typer.Exit(ExitCode.CHANGES)
