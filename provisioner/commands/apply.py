"""`provisioner apply`: converge the tenant and emit connection values."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
) -> None:
    """Converge the tenant to the manifests and write connection values."""
    from provisioner import workflow
    from provisioner.render import confirm_plan, print_apply_result, print_plan

    def approve(pending: Any) -> bool:
        if not json_output:
            print_plan(pending)
        if pending.is_empty or yes or not sys.stdin.isatty():
            return True
        return confirm_plan()

    outcome = workflow.apply(
        [str(p) for p in paths],
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        approve=approve,
        progress=None if json_output else workflow.stderr_progress,
    )
    if json_output:
        typer.echo(json.dumps(outcome.to_dict(show_secrets=show_secrets), indent=2))
    else:
        print_apply_result(outcome, show_secrets=show_secrets)
