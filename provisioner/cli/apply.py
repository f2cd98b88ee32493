"""`provisioner apply`: converge the tenant and emit connection values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    confirmed,
    handles_errors,
    reject_tenant_with_tenants,
)
from provisioner.core.progress import print_progress


@app.command()
@handles_errors
def apply(
    paths: Paths,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOpt = False,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secret values (they are always written to sinks).")
    ] = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
    prune: PruneOpt = False,
    tenants: TenantsOpt = None,
) -> None:
    """Converge the tenant to the manifests and write connection values."""
    from provisioner.engine import workflow
    from provisioner.views.render import print_apply_result, print_plan

    if tenants is not None:
        _apply_tenants(
            paths, tenants, yes, json_output, show_secrets, emulator, tenant, cloud, state_dir, prune
        )
        return

    def approve(pending: Any) -> bool:
        if not json_output:
            print_plan(pending)
        return pending.is_empty or confirmed(yes)

    outcome = workflow.apply(
        [str(p) for p in paths],
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        approve=approve,
        progress=None if json_output else print_progress,
        prune=prune,
    )
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(show_secrets=show_secrets), indent=2))
    else:
        print_apply_result(outcome, show_secrets=show_secrets)
        for warning in outcome.warnings:  # manifest advice and adoption notes (app_id recommended)
            typer.echo(f"warning: {warning}", err=True)


def _apply_tenants(
    paths: list[Path],
    tenants: Path,
    yes: bool,
    json_output: bool,
    show_secrets: bool,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
    prune: bool,
) -> None:
    """``--tenants``: plan everywhere, ask once, apply everywhere; exit 1 naming the failed tenants."""
    from provisioner.engine.tenants import TenantsFailed, apply_all
    from provisioner.views.tenants import print_fanout_apply, print_plans

    reject_tenant_with_tenants(tenant)

    def approve_all(plans: dict[str, Any], results: dict[str, Any]) -> bool:
        if not json_output:
            print_plans(plans, results)
        return all(p.is_empty for p in plans.values()) or confirmed(yes)

    outcome = apply_all(
        [str(p) for p in paths],
        tenants,
        emulator=emulator,
        cloud=cloud,
        state_dir=state_dir,
        approve_all=approve_all,
        progress=None if json_output else print_progress,
        prune=prune,
    )
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(show_secrets=show_secrets), indent=2))
    else:
        print_fanout_apply(outcome, show_secrets=show_secrets)
    if outcome.failed:
        raise TenantsFailed(outcome.failed)
