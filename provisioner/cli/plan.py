"""`provisioner plan`: what apply would change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    Paths,
    PruneOpt,
    StateDirOpt,
    TenantOpt,
    TenantsOpt,
    app,
    handles_errors,
    reject_tenant_with_tenants,
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
) -> None:
    """Show what apply would change in the tenant."""
    from provisioner.engine import workflow
    from provisioner.views.render import print_plan

    if tenants is not None:
        _plan_tenants(
            paths, tenants, json_output, detailed_exitcode, emulator, tenant, cloud, state_dir, prune
        )
        return
    outcome = workflow.plan(
        [str(p) for p in paths],
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        prune=prune,
    )
    if json_output:
        typer.echo(json.dumps(outcome.plan.to_dict(), indent=2))
    else:
        print_plan(outcome.plan, warnings=outcome.warnings)
    if detailed_exitcode and not outcome.plan.is_empty:
        raise typer.Exit(ExitCode.CHANGES)


def _plan_tenants(
    paths: list[Path],
    tenants: Path,
    json_output: bool,
    detailed_exitcode: bool,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
    prune: bool,
) -> None:
    """``--tenants``: a section (text) or a key (JSON) per tenant; exit 1 naming the failed tenants."""
    from provisioner.engine.tenants import TenantsFailed, plan_all
    from provisioner.views.tenants import print_fanout_plan

    reject_tenant_with_tenants(tenant)
    outcome = plan_all(
        [str(p) for p in paths], tenants, emulator=emulator, cloud=cloud, state_dir=state_dir, prune=prune
    )
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        print_fanout_plan(outcome)
    if outcome.failed:
        raise TenantsFailed(outcome.failed)
    if detailed_exitcode and outcome.changes_pending:
        raise typer.Exit(ExitCode.CHANGES)
