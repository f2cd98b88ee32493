"""`provisioner verify`: check that each app's connection values work and carry every permission."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import EmulatorOpt, JsonOpt, Paths, StateDirOpt, app, emit_json, handles_errors
from provisioner.core.errors import ExitCode, ProvisionerError


@app.command()
@handles_errors
def verify(
    paths: Paths,
    app_name: Annotated[str | None, typer.Option("--app", help="Verify only this app.")] = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    state_dir: StateDirOpt = Path(".provisioner"),
) -> None:
    """Get tokens with the emitted connection values; exit 1 if any declared permission is missing."""
    from provisioner.engine.targeting import open_target
    from provisioner.manifest import validate_paths
    from provisioner.oauth.authorize_flow import select_app
    from provisioner.oauth.client_config import load_client_config
    from provisioner.oauth.token_file import default_token_path
    from provisioner.oauth.verify import VerifyReport, connection_error, verify_app
    from provisioner.views.verify import print_report

    result = validate_paths([str(p) for p in paths])
    result.raise_for_errors()
    apps = [select_app(result.apps, app_name, command="verify")] if app_name else result.apps
    report = VerifyReport()
    with open_target(emulator=emulator, tenant=None, cloud="public", state_dir=state_dir) as target:
        for loaded in apps:
            name = loaded.app.name
            try:
                config = load_client_config(state_dir, name, target=target)
            except ProvisionerError as exc:  # reported per app; the other apps are still checked
                report.apps.append(connection_error(name, exc))
                continue
            report.apps.append(verify_app(loaded, config, token_path=default_token_path(state_dir, name)))
    if json_output:
        emit_json(report.to_dict())
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(ExitCode.ERROR)
