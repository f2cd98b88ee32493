"""`provisioner rotate`: mint, deliver, then retire client secrets on schedule.

Exit codes: 0 success (nothing to do, or rotated without ``--detailed-exitcode``),
1 failure (some secret could not be rotated or delivered; the report is still
printed), 3 with ``--detailed-exitcode`` when a secret was minted, retired or an
orphan removed. See docs/rotation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    confirmed,
    emit_json,
    handles_errors,
    print_error,
    report_tenants,
    run_options,
    say,
    send_alerts,
)
from provisioner.core.errors import ExitCode
from provisioner.core.progress import print_progress


@app.command()
@handles_errors
def rotate(
    paths: Paths,
    app_names: AppsOpt = None,
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
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 3 when a secret was rotated or retired, 5 when a replaced secret is kept because still used.",
        ),
    ] = False,
    emulator: EmulatorOpt = False,
    tenant: TenantOpt = None,
    cloud: CloudOpt = "public",
    state_dir: StateDirOpt = Path(".provisioner"),
    tenants: TenantsOpt = None,
    webhook: WebhookOpt = None,
    webhook_format: WebhookFormatOpt = "generic",
    alert_days: AlertDaysOpt = 14,
) -> None:
    """Rotate client secrets inside their rotate_before window (or all with --force).

    With ``--tenants``: decide everywhere, ask once, rotate everywhere; exit 1 if a tenant failed,
    else 3 if any rotated (with ``--detailed-exitcode``), like a single-tenant run.
    """
    from provisioner.engine import runner as engine
    from provisioner.views.render import print_plan
    from provisioner.views.rotation import print_rotate, print_warnings
    from provisioner.views.tenants import print_fanout_rotate, print_plans

    options = run_options(
        paths,
        emulator=emulator,
        tenant=tenant,
        cloud=cloud,
        state_dir=state_dir,
        tenants=tenants,
        apps=app_names,
        force=force,
    )

    def approve_all(plans: dict[str, Any], results: dict[str, Any]) -> bool:
        if all(p.is_empty for p in plans.values()):
            return True
        if not json_output:
            if tenants is None:
                print_plan(next(iter(plans.values())))
            else:
                print_plans({n: p for n, p in plans.items() if not p.is_empty}, results)
        return confirmed(yes)

    outcome = engine.rotate(options, approve_all, progress=None if json_output else print_progress)
    # Before any exit: a run that failed for one app still reports what it rotated elsewhere.
    send_alerts("rotate", outcome, webhook, webhook_format, alert_days)
    if tenants is None:
        report = outcome.single.rotated
        assert report is not None
        print_warnings(report.warnings)
        print_warnings(report.held_back)
        if json_output:
            emit_json(report.to_dict(show_secrets=show_secrets))
        else:
            print_rotate(report, show_secrets=show_secrets)
            for line in report.handovers:
                say(line)
        for error in report.errors:
            print_error(str(error))
        if report.errors:
            raise typer.Exit(ExitCode.ERROR)
    else:
        report_tenants(
            outcome,
            json_output,
            lambda: print_fanout_rotate(outcome, show_secrets=show_secrets),
            show_secrets=show_secrets,
        )
        if outcome.failed:
            raise engine.TenantsFailed(outcome.failed)
    if tenants is not None:
        print_warnings(outcome.held_back)
    if detailed_exitcode and outcome.held_back:
        raise typer.Exit(ExitCode.STILL_USED)
    if detailed_exitcode and outcome.rotated:
        raise typer.Exit(ExitCode.ROTATED)
