"""`provisioner apply`: converge the tenant and emit connection values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    confirmed,
    emit_json,
    handles_errors,
    print_warning,
    report_tenants,
    require_consent_to_delete,
    run_options,
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
    apps: AppsOpt = None,
) -> None:
    """Converge the tenant to the manifests and write connection values.

    With ``--tenants``: plan everywhere, ask once, apply everywhere; exit 1 naming the failed tenants.
    """
    from provisioner.engine import runner as engine
    from provisioner.views.render import print_apply_result, print_plan
    from provisioner.views.tenants import print_fanout_apply, print_plans

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
    if prune:
        require_consent_to_delete(yes, "apply --prune deletes the managed applications no manifest declares")

    def approve_all(plans: dict[str, Any], results: dict[str, Any]) -> bool:
        if not json_output:
            if tenants is None:
                print_plan(next(iter(plans.values())))
            else:
                print_plans(plans, results)
        if any(p.removes_access for p in plans.values()):
            # removing a user's or group's assignment (or an owner) takes their access away: a deletion
            require_consent_to_delete(yes, "apply removes user or group assignments or owners (see the plan)")
        return all(p.is_empty for p in plans.values()) or confirmed(yes)

    outcome = engine.apply(options, approve_all, progress=None if json_output else print_progress)
    if tenants is None:
        result = outcome.single
        applied = result.applied
        assert applied is not None
        if json_output:
            emit_json(applied.to_dict(show_secrets=show_secrets))
        else:
            print_apply_result(applied, show_secrets=show_secrets)
            for warning in [*outcome.warnings, *result.warnings]:  # manifest advice and adoption notes
                print_warning(str(warning))
        return
    report_tenants(
        outcome,
        json_output,
        lambda: print_fanout_apply(outcome, show_secrets=show_secrets),
        show_secrets=show_secrets,
    )
    if outcome.failed:
        raise engine.TenantsFailed(outcome.failed)
