"""Plan and apply in one tenant: tenant state → plan → apply → delivery.

The runner (:mod:`provisioner.engine.runner`) calls :func:`plan_in` and
:func:`apply_in` once per tenant, for single-tenant and ``--tenants`` runs alike.
They hold no Graph logic of their own (that is in :mod:`provisioner.graph`,
:mod:`~provisioner.engine.planner`, :mod:`~provisioner.engine.apply`) and no
output formatting (:mod:`provisioner.views`). What they add is the order of the
steps: unheld old secrets go first, a minted secret is delivered before anything
else can fail (:mod:`~provisioner.engine.delivery`), and orphans are removed only
once their app's delivery succeeded.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.core.progress import Progress
from provisioner.engine.apply import apply_plan
from provisioner.engine.credential_policy import check_credential_policies
from provisioner.engine.delivery import (
    AppConnection,
    check_sinks,
    deliver_connections,
    note_mint_intents,
)
from provisioner.engine.options import Approve, RunOptions
from provisioner.engine.planner import Plan, make_plan
from provisioner.engine.prune import prune_actions, run_deletions
from provisioner.engine.rotation.actions import (
    blocked_errors,
    evidence_lines,
    executable,
    lifecycle_plan,
    run_removals,
)
from provisioner.engine.rotation.policy import AFTER_DELIVERY, BEFORE_MINT
from provisioner.engine.tenancy import enter_tenant
from provisioner.graph.connect import graph_client
from provisioner.graph.servertime import graph_now
from provisioner.graph.state import read_state
from provisioner.graph.target import Target
from provisioner.manifest.loader import LoadedApp
from provisioner.model.adoption import warnings as adoption_warnings
from provisioner.model.connections import APPLICATION, SECRET_KEYS_BY_OWNER, SERVICE_PRINCIPAL, mask_secret
from provisioner.model.desired import Desired, build_desired
from provisioner.model.tenant import TenantState


@dataclass
class ApplyOutcome:
    plan: Plan
    actions_done: int
    connections: list[AppConnection]
    warnings: list[Any] = field(default_factory=list)

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        return {
            "changes": self.plan.to_dict(),
            "actions_done": self.actions_done,
            "apps": [c.to_dict(show_secrets=show_secrets) for c in self.connections],
        }

    def rows(self, *, show_secrets: bool) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for conn in self.connections:
            values = conn.values
            # the app's secret, else (an app with principal secrets only) the service principal's
            keys = SECRET_KEYS_BY_OWNER[SERVICE_PRINCIPAL if "client_secret" not in values else APPLICATION]
            secret = values.get(keys.value)
            shown = (secret if show_secrets else mask_secret(secret)) if secret else "-"
            key_id = values.get(keys.key_id, "-")
            rows.append(
                (
                    conn.name,
                    values.get("client_id", "-"),
                    values.get("tenant_id", "-"),
                    shown,
                    f"{key_id} (service principal)" if secret and keys.value != "client_secret" else key_id,
                    values.get(keys.expires, "-"),
                    ", ".join(conn.written_to),
                )
            )
        return rows


@dataclass
class _Planned:
    """Everything a plan was computed from; apply executes against the same snapshot."""

    state: TenantState
    desired: Desired
    plan: Plan
    decisions: Any
    now: datetime


async def plan_in(
    target: Target,
    loaded: list[LoadedApp],
    options: RunOptions,
    warnings: list[Any],
    progress: Progress | None = None,
) -> Plan:
    """The plan for one tenant (read-only); adoption notes are appended to ``warnings``."""
    async with graph_client(target) as client:
        planned = await _make_plan(client, target, loaded, options, warnings, progress)
    return planned.plan


async def _make_plan(
    client: Any,
    target: Target,
    loaded: list[LoadedApp],
    options: RunOptions,
    warnings: list[Any],
    progress: Progress | None = None,
) -> _Planned:
    """Read the tenant once and diff it: ``--prune`` adds ``delete_app`` for managed apps no
    manifest declares."""
    state = await read_state(client, loaded, tenant_id=target.tenant_id)
    enter_tenant(target, state.tenant_id, options.state_dir, progress)
    # Entra's clock judges expiry, not this machine's (the read's Date header; no extra request).
    now = state.server_time or await graph_now(client)
    warnings.extend(adoption_warnings(loaded, state))
    desired = build_desired(loaded, state)
    pending, decisions = await lifecycle_plan(
        make_plan(desired, state, now=now),
        loaded,
        desired,
        state,
        now=now,
        base_dir=options.base,
        state_dir=options.state_dir,
        client=client,
    )
    held, notes = evidence_lines(decisions)
    warnings.extend([*notes, *held])
    if options.prune:
        pending.actions += await prune_actions(
            client, loaded, state, self_app_id=target.client_id, state_dir=options.state_dir
        )
    check_sinks(pending, loaded, options)
    check_credential_policies(pending, desired, state)  # before any write, like the sink checks
    return _Planned(state=state, desired=desired, plan=pending, decisions=decisions, now=now)


async def apply_in(
    target: Target,
    loaded: list[LoadedApp],
    options: RunOptions,
    approve: Approve,
    progress: Progress | None = None,
    warnings: list[Any] | None = None,
) -> ApplyOutcome:
    """Plan, ask ``approve``, then converge one tenant and deliver its connection values."""
    async with graph_client(target) as client:
        planned = await _make_plan(
            client, target, loaded, options, warnings if warnings is not None else [], progress
        )
        pending, state = planned.plan, planned.state
        blocked = pending.drop_blocked()
        decision = approve(pending)
        if not (await decision if inspect.isawaitable(decision) else decision):
            raise ProvisionerError("apply cancelled; nothing was changed")
        # Secret lifecycle (provisioner.engine.rotation): unheld old secrets go first, orphans only once
        # the app's delivery succeeded, so a failed delivery leaves the previous secret in place.
        note_mint_intents(pending, options.state_dir, planned.now)  # before the first Graph write
        early, early_errors = await run_removals(client, pending, phase=BEFORE_MINT, progress=progress)
        result = await apply_plan(
            client, executable(pending), planned.desired, state, progress=progress, now=planned.now
        )
        connections = await deliver_connections(
            client,
            target,
            [item for item in loaded if item.app.name not in blocked],
            state,
            result,
            options.state_dir,
            options.base,
        )
        late, late_errors = await run_removals(
            client, pending, phase=AFTER_DELIVERY, apps={c.name for c in connections}, progress=progress
        )
        result.actions_done += len(early) + len(late)
        result.errors.extend([*early_errors, *late_errors, *blocked_errors(planned.decisions)])
        result.errors.extend(SinkError(problem) for problem in pending.problem_lines())
        if options.prune:  # declared apps first: a failed prune never holds up their delivery
            pruned, _, prune_errors = await run_deletions(client, pending, progress=progress)
            result.actions_done += len(pruned)
            result.errors.extend(prune_errors)
    result.raise_for_errors()
    return ApplyOutcome(plan=pending, actions_done=result.actions_done, connections=connections)
