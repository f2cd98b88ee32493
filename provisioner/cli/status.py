"""``provisioner status``: each app's secrets, their expiry, the sinks holding them, the next rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.cli._base import (
    AlertDaysOpt,
    AppsOpt,
    CloudOpt,
    EmulatorOpt,
    JsonOpt,
    Paths,
    StateDirOpt,
    TenantOpt,
    TenantsOpt,
    WebhookFormatOpt,
    WebhookOpt,
    app,
    emit_json,
    handles_errors,
    print_warning,
    report_tenants,
    run_options,
    send_alerts,
)
from provisioner.core.errors import ExitCode, ProvisionerError


@app.command()
@handles_errors
def status(
    paths: Paths,
    app_names: AppsOpt = None,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
    tenants: TenantsOpt = None,
    webhook: WebhookOpt = None,
    webhook_format: WebhookFormatOpt = "generic",
    alert_days: AlertDaysOpt = 14,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Also write one self-contained HTML page: a timeline per app and tenant."
        ),
    ] = None,
) -> None:
    """Show each app's secrets, days to expiry, the sinks holding them, and the next rotation."""
    from provisioner.engine import runner as engine
    from provisioner.views.rotation import print_status, print_warnings
    from provisioner.views.tenants import print_fanout_status

    options = run_options(
        paths,
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        tenants=tenants,
        apps=app_names,
    )
    from provisioner.engine.token_delivery import refresh_token_warnings

    outcome = engine.status(options)
    token_warnings = refresh_token_warnings(options)
    for line in token_warnings:
        print_warning(line)
    if tenants is None:
        report = outcome.single.status
        assert report is not None
        print_warnings(report.warnings)
        if json_output:
            emit_json({**report.to_dict(), "token_warnings": token_warnings})
        else:
            print_status(report)
    else:
        report_tenants(outcome, json_output, lambda: print_fanout_status(outcome))
    if html is not None:
        from provisioner.core.fileio import atomic_write_text
        from provisioner.views.status_html import render_status_html

        try:
            atomic_write_text(html, render_status_html(outcome))
        except OSError as exc:
            raise ProvisionerError(f"cannot write {html}: {exc.strerror or exc}") from None
    send_alerts("status", outcome, webhook, webhook_format, alert_days)
    if tenants is not None and outcome.failed:
        raise engine.TenantsFailed(outcome.failed)
    if outcome.unhealthy:
        raise typer.Exit(ExitCode.UNHEALTHY)
