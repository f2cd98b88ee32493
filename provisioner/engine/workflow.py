"""The core loop, end to end: manifests → tenant state → plan → apply → connection values.

Commands call these functions; they hold no Graph logic of their own (that is in
``graph/``, ``plan``, ``apply``, ``consent``, ``secrets_graph``) and no output
formatting (``render``). What they add is the order of the steps and the one
rule that spans them: a secret minted in this run is delivered to its sinks
before anything else can fail, and removed again from Entra if delivery fails,
so no run leaves a valid secret that nobody holds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import ManifestErrors, ProvisionerError, SinkError
from provisioner.core.progress import Progress

if TYPE_CHECKING:
    from datetime import datetime

    from provisioner.engine.apply import ApplyResult
    from provisioner.engine.planner import Plan
    from provisioner.graph.target import Target
    from provisioner.manifest.loader import LoadedApp
    from provisioner.model.desired import Desired
    from provisioner.model.tenant import TenantState

# May be async: a multi-tenant apply (provisioner.engine.tenants) waits until every tenant has planned.
Approve = Callable[["Plan"], "bool | Awaitable[bool]"]


@dataclass
class PlanOutcome:
    plan: Plan
    warnings: list[Any] = field(default_factory=list)


@dataclass
class AppConnection:
    """What apply reports per app: ids, the values written, and where they went."""

    name: str
    values: dict[str, Any]
    written_to: list[str]

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        from provisioner.model.connections import masked

        return {
            "app": self.name,
            "connection": self.values if show_secrets else masked(self.values),
            "written_to": self.written_to,
        }


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
        from provisioner.model.connections import mask_secret

        rows = []
        for conn in self.connections:
            values = conn.values
            secret = values.get("client_secret")
            shown = (secret if show_secrets else mask_secret(secret)) if secret else "-"
            rows.append(
                (
                    conn.name,
                    values.get("client_id", "-"),
                    values.get("tenant_id", "-"),
                    shown,
                    values.get("client_secret_id", "-"),
                    values.get("client_secret_expires", "-"),
                    ", ".join(conn.written_to),
                )
            )
        return rows


def load_manifests(paths: list[str]) -> tuple[list[LoadedApp], list[Any]]:
    """Validate offline first: no credential is touched while a manifest is wrong."""
    from provisioner.manifest import validate_paths

    result = validate_paths(paths)
    if result.errors:
        raise ManifestErrors(list(result.errors))
    if not result.apps:
        raise ProvisionerError(f"no apps declared in {', '.join(paths)}")
    return list(result.apps), list(result.warnings)


def plan(
    paths: list[str],
    *,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
    base_dir: Path | None = None,
    prune: bool = False,
) -> PlanOutcome:
    from provisioner.engine.targeting import open_target

    loaded, warnings = load_manifests(paths)
    with open_target(emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir) as target:
        pending = asyncio.run(
            _plan(
                target,
                loaded,
                state_dir=state_dir,
                base_dir=base_dir or Path.cwd(),
                prune=prune,
                warnings=warnings,
            )
        )
        return PlanOutcome(plan=pending, warnings=warnings)


async def _plan(
    target: Target,
    loaded: list[LoadedApp],
    *,
    state_dir: Path,
    base_dir: Path,
    prune: bool = False,
    warnings: list[Any] | None = None,
) -> Plan:
    from provisioner.graph.connect import graph_client

    async with graph_client(target) as client:
        planned = await _make_plan(
            client, target, loaded, state_dir=state_dir, base_dir=base_dir, prune=prune, warnings=warnings
        )
    return planned.plan


@dataclass
class _Planned:
    """Everything a plan was computed from; apply executes against the same snapshot."""

    state: TenantState
    desired: Desired
    plan: Plan
    decisions: Any
    now: datetime


async def _make_plan(
    client: Any,
    target: Target,
    loaded: list[LoadedApp],
    *,
    state_dir: Path,
    base_dir: Path,
    prune: bool,
    warnings: list[Any] | None,
) -> _Planned:
    """Read the tenant once and diff it: ``prune`` adds ``delete_app`` for managed apps no
    manifest declares; ``warnings`` collects adoption notes."""
    from provisioner.engine.planner import make_plan
    from provisioner.engine.rotation.actions import lifecycle_plan
    from provisioner.graph.servertime import graph_now
    from provisioner.graph.state import read_state
    from provisioner.model.desired import build_desired

    state = await read_state(client, loaded, tenant_id=target.tenant_id)
    # Entra's clock judges expiry, not this machine's (the read's Date header; no extra request).
    now = state.server_time or await graph_now(client)
    _adoption_warnings(loaded, state, warnings)
    desired = build_desired(loaded, state)
    pending, decisions = lifecycle_plan(
        make_plan(desired, state, now=now),
        loaded,
        desired,
        state,
        now=now,
        base_dir=base_dir,
        state_dir=state_dir,
    )
    if prune:
        pending.actions += await _prune_actions(client, target, loaded, state, state_dir)
    return _Planned(state=state, desired=desired, plan=pending, decisions=decisions, now=now)


async def _prune_actions(
    client: Any, target: Target, loaded: list[LoadedApp], state: TenantState, state_dir: Path
) -> list[Any]:
    from provisioner.engine.prune import prune_actions

    return await prune_actions(client, loaded, state, self_app_id=target.client_id, state_dir=state_dir)


def _adoption_warnings(loaded: list[LoadedApp], state: TenantState, warnings: list[Any] | None) -> None:
    from provisioner.model.adoption import warnings as adoption_warnings

    if warnings is not None:
        warnings.extend(adoption_warnings(loaded, state))


def apply(
    paths: list[str],
    *,
    emulator: bool,
    tenant: str | None,
    cloud: str,
    state_dir: Path,
    approve: Approve,
    progress: Progress | None = None,
    base_dir: Path | None = None,
    prune: bool = False,
) -> ApplyOutcome:
    from provisioner.core.locking import apply_lock
    from provisioner.engine.targeting import open_target

    loaded, warnings = load_manifests(paths)
    with (
        apply_lock(state_dir, progress),  # one apply per state dir: no double mint from a double start
        open_target(emulator=emulator, tenant=tenant, cloud=cloud, state_dir=state_dir) as target,
    ):
        outcome = asyncio.run(
            _apply(
                target,
                loaded,
                approve,
                progress,
                state_dir=state_dir,
                base_dir=base_dir or Path.cwd(),
                prune=prune,
                warnings=warnings,
            )
        )
    outcome.warnings = warnings
    return outcome


async def _apply(
    target: Target,
    loaded: list[LoadedApp],
    approve: Approve,
    progress: Progress | None,
    *,
    state_dir: Path,
    base_dir: Path,
    prune: bool = False,
    warnings: list[Any] | None = None,
) -> ApplyOutcome:
    from provisioner.engine.apply import apply_plan
    from provisioner.engine.rotation.actions import blocked_errors, executable, run_removals
    from provisioner.engine.rotation.policy import AFTER_DELIVERY, BEFORE_MINT
    from provisioner.graph.connect import graph_client

    async with graph_client(target) as client:
        planned = await _make_plan(
            client, target, loaded, state_dir=state_dir, base_dir=base_dir, prune=prune, warnings=warnings
        )
        pending, state = planned.plan, planned.state
        decision = approve(pending)
        if not (await decision if inspect.isawaitable(decision) else decision):
            raise ProvisionerError("apply cancelled; nothing was changed")
        # Secret lifecycle (provisioner.engine.rotation): unheld old secrets go first, orphans only once the
        # app's delivery succeeded, so a failed delivery leaves the previous secret in place.
        early, early_errors = await run_removals(client, pending, phase=BEFORE_MINT, progress=progress)
        result = await apply_plan(
            client, executable(pending), planned.desired, state, progress=progress, now=planned.now
        )
        connections = await _deliver(client, target, loaded, state, result, state_dir, base_dir)
        late, late_errors = await run_removals(
            client, pending, phase=AFTER_DELIVERY, apps={c.name for c in connections}, progress=progress
        )
        result.actions_done += len(early) + len(late)
        result.errors.extend([*early_errors, *late_errors, *blocked_errors(planned.decisions)])
        if prune:  # declared apps first: a failed prune never holds up their delivery
            from provisioner.engine.prune import run_deletions

            pruned, _, prune_errors = await run_deletions(client, pending, progress=progress)
            result.actions_done += len(pruned)
            result.errors.extend(prune_errors)
    result.raise_for_errors()
    return ApplyOutcome(plan=pending, actions_done=result.actions_done, connections=connections)


async def _deliver(
    client: Any,
    target: Target,
    loaded: list[LoadedApp],
    state: TenantState,
    result: ApplyResult,
    state_dir: Path,
    base_dir: Path,
) -> list[AppConnection]:
    """Write connection values for every app that exists now; undo a mint whose delivery failed."""
    from provisioner.graph.passwords import remove_password
    from provisioner.model.connections import connection_values, merge_previous, read_connection_file
    from provisioner.sinks import deliver_all
    from provisioner.sinks.deliver import PartialDeliveryError, default_sink_path, recover_secret

    connections: list[AppConnection] = []
    failures: list[ProvisionerError] = []
    tenant_id = state.tenant_id or target.tenant_id or ""
    graph_endpoint = target.graph_url.rsplit("/v1.0", 1)[0]
    for item in loaded:
        app = item.app
        ids = result.apps.get(app.name)
        if ids is None:
            continue  # this app failed before it existed; its error is in result.errors
        minted = result.minted.get(app.name, [])
        values = connection_values(
            app,
            tenant_id=tenant_id,
            client_id=ids.app_id,
            authority_host=target.authority_host,
            graph_endpoint=graph_endpoint,
            minted=minted,
        )
        existing = state.apps.get(app.name)
        live = {s.key_id for s in (existing.secrets if existing else [])} | {m.key_id for m in minted}
        on_disk = read_connection_file(default_sink_path(app.name, state_dir))
        previous = on_disk
        if not (on_disk and on_disk.get("client_secret") and on_disk.get("client_secret_id") in live):
            # The default file lost the value (fresh checkout, cleaned state dir): take it from
            # any sink that still holds a live one rather than wiping it from that sink too.
            recovered = recover_secret(app, base_dir, state_dir=state_dir, live_key_ids=live)
            if recovered:
                previous = {**(on_disk or {}), **recovered}
        merged = merge_previous(values, previous, live_key_ids=live)
        try:
            receipts = deliver_all(app, merged, base_dir, state_dir=state_dir)
        except (PartialDeliveryError, SinkError) as exc:
            # Nobody reliably holds the new value: take it back so the old secret stays the valid
            # one, and put the default file back as it was (it is written first, so it changed).
            for secret in minted:
                await remove_password(client, ids.object_id, secret.key_id)
            if minted:
                _restore(default_sink_path(app.name, state_dir), on_disk)
            failures.append(
                SinkError(f"{app.name}: {exc}; the secret minted in this run was removed again, re-run apply")
            )
            continue
        connections.append(AppConnection(app.name, merged, [r.sink for r in receipts]))
    if failures:
        result.errors.extend(failures)
    return connections


def _restore(path: Path, previous: dict[str, Any] | None) -> None:
    from provisioner.core.fileio import atomic_write_json

    if previous is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_json(path, previous)
