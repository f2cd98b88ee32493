"""`provisioner status`: secrets, their expiry, which sink holds which, and what rotate would do next.

Exit codes: 0 healthy, 4 when a declared secret has no live value in any sink
(missing, expired, or only an orphan), a sink holds an expired/removed secret,
or a sink cannot be read; 1 on errors. See docs/rotation.md.
"""

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
    StateDirOpt,
    TenantOpt,
    TenantsOpt,
    app,
    handles_errors,
    reject_tenant_with_tenants,
)


@app.command()
@handles_errors
def status(
    paths: Paths,
    app_names: Annotated[
        list[str] | None, typer.Option("--app", help="Only this app (repeatable).", show_default=False)
    ] = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
    tenants: TenantsOpt = None,
) -> None:
    """Show each app's secrets, days to expiry, the sinks holding them, and the next rotation."""
    from provisioner.engine.rotation import EXIT_UNHEALTHY

    if tenants is not None:
        _status_tenants(paths, tenants, app_names or [], json_output, emulator, tenant, cloud, state_dir)
        return
    from provisioner.engine.rotation.run import status as run_status
    from provisioner.views.rotation import print_status, print_warnings

    outcome = run_status(
        [str(p) for p in paths],
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        app_names=app_names or (),
    )
    print_warnings(outcome.warnings)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        print_status(outcome)
    if not outcome.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def _status_tenants(
    paths: list[Path],
    tenants: Path,
    app_names: list[str],
    json_output: bool,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
) -> None:
    """``--tenants``: every tenant's report; exit 1 if a tenant failed, else 4 if any is unhealthy."""
    from provisioner.engine.rotation import EXIT_UNHEALTHY
    from provisioner.engine.tenants import TenantsFailed, status_all
    from provisioner.views.tenants import print_fanout_status

    reject_tenant_with_tenants(tenant)
    outcome = status_all(
        [str(p) for p in paths],
        tenants,
        emulator=emulator,
        cloud=cloud,
        state_dir=state_dir,
        app_names=app_names,
    )
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        print_fanout_status(outcome)
    if outcome.failed:
        raise TenantsFailed(outcome.failed)
    if outcome.unhealthy:
        raise typer.Exit(EXIT_UNHEALTHY)
