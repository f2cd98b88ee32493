"""`provisioner doctor`: check the credential, the tenant, and the Graph permissions the manifests need."""

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
    print_error,
    run_options,
    say,
)
from provisioner.core.errors import ExitCode


@app.command()
@handles_errors
def doctor(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Manifest files or folders (optional).", show_default=False)
    ] = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Check the credential and its Graph permissions (least privilege); exit 1 listing what is missing."""
    from provisioner.engine import doctor as checks

    report = checks.run(
        run_options(paths, emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir)
    )
    if json_output:
        emit_json(report.to_dict())
    else:
        for check in report.checks:
            say(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if report.caller:
            for need in report.needed:
                state = "FAIL" if need in report.missing else "ok  "
                say(f"{state} permission {need.named()}: to {need.feature}")
            say(f"least-privileged set for these manifests: {', '.join(report.minimal)}")
        for note in report.notes:
            say(f"note {note}")
    for need in report.missing:
        print_error(need.message())
    if not report.ok:
        raise typer.Exit(ExitCode.ERROR)
