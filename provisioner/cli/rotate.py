"""`provisioner rotate`: mint, deliver, then retire client secrets on schedule.

Exit codes: 0 success (nothing to do, or rotated without ``--detailed-exitcode``),
1 failure (some secret could not be rotated or delivered; the report is still
printed), 3 with ``--detailed-exitcode`` when a secret was minted, retired or an
orphan removed. See docs/rotation.md.
"""

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
    StateDirOpt,
    TenantOpt,
    TenantsOpt,
    app,
    confirmed,
    handles_errors,
    print_error,
    reject_tenant_with_tenants,
)
from provisioner.core.progress import print_progress


@app.command()
@handles_errors
def rotate(
    paths: Paths,
    app_names: Annotated[
        list[str] | None, typer.Option("--app", help="Only this app (repeatable).", show_default=False)
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Mint new secrets now, even outside the rotate_before window.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOpt = False,
    show_secrets: Annotated[
        bool,
        typer.Option("--show-secrets", help="Print new secret values (they are always written to sinks)."),
    ] = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 3 when a secret was rotated or retired.")
    ] = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
    tenants: TenantsOpt = None,
) -> None:
    """Rotate client secrets inside their rotate_before window (or all with --force)."""
    from provisioner.engine.rotation import EXIT_ROTATED
    from provisioner.engine.rotation.run import rotate as run_rotate
    from provisioner.views.render import print_plan
    from provisioner.views.rotation import print_rotate, print_warnings

    if tenants is not None:
        _rotate_tenants(
            paths,
            tenants,
            app_names=app_names or [],
            force=force,
            yes=yes,
            json_output=json_output,
            show_secrets=show_secrets,
            detailed_exitcode=detailed_exitcode,
            emulator=emulator,
            tenant=tenant,
            cloud=cloud,
            state_dir=state_dir,
        )
        return

    def approve(pending: Any) -> bool:
        if pending.is_empty:
            return True
        if not json_output:
            print_plan(pending)
        return confirmed(yes)

    outcome = run_rotate(
        [str(p) for p in paths],
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        approve=approve,
        app_names=app_names or (),
        force=force,
        progress=None if json_output else print_progress,
    )
    print_warnings(outcome.warnings)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(show_secrets=show_secrets), indent=2))
    else:
        print_rotate(outcome, show_secrets=show_secrets)
    for error in outcome.errors:
        print_error(str(error))
    if outcome.errors:
        raise typer.Exit(1)
    if detailed_exitcode and outcome.status == "rotated":
        raise typer.Exit(EXIT_ROTATED)


def _rotate_tenants(
    paths: list[Path],
    tenants: Path,
    *,
    app_names: list[str],
    force: bool,
    yes: bool,
    json_output: bool,
    show_secrets: bool,
    detailed_exitcode: bool,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
) -> None:
    """``--tenants``: decide everywhere, ask once, rotate everywhere; exit 1 if a tenant failed, else 3 if
    any rotated (with ``--detailed-exitcode``), like the single-tenant command."""
    from provisioner.engine.rotation import EXIT_ROTATED
    from provisioner.engine.tenants import TenantsFailed, rotate_all
    from provisioner.views.tenants import print_fanout_rotate, print_plans

    reject_tenant_with_tenants(tenant)

    def approve_all(plans: dict[str, Any], results: dict[str, Any]) -> bool:
        if all(p.is_empty for p in plans.values()):
            return True
        if not json_output:
            print_plans({n: p for n, p in plans.items() if not p.is_empty}, results)
        return confirmed(yes)

    outcome = rotate_all(
        [str(p) for p in paths],
        tenants,
        emulator=emulator,
        cloud=cloud,
        state_dir=state_dir,
        approve_all=approve_all,
        app_names=app_names,
        force=force,
        progress=None if json_output else print_progress,
    )
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(show_secrets=show_secrets), indent=2))
    else:
        print_fanout_rotate(outcome, show_secrets=show_secrets)
    if outcome.failed:
        raise TenantsFailed(outcome.failed)
    if detailed_exitcode and outcome.rotated:
        raise typer.Exit(EXIT_ROTATED)
