"""The engine's public operations: plan, apply, rotate, status, in one tenant or many.

Every operation takes one :class:`~provisioner.engine.options.RunOptions` and
runs the same per-tenant step (:func:`~provisioner.engine.workflow.plan_in`,
:func:`~provisioner.engine.workflow.apply_in`,
:func:`~provisioner.engine.rotation.run.rotate_in`, ...) against each target:
one target for a single-tenant run, one per entry of the tenants file for
``--tenants``. Each tenant runs as its own asyncio task with its own Graph
client; writing runs plan everywhere first, ask once (``approve_all`` sees every
plan), then act everywhere, and hold the state directory's lock throughout.

The two kinds of run differ in only two ways, both deliberate:

* a single-tenant run lets its failure propagate (the CLI turns it into one
  line and the exit code of its kind); a ``--tenants`` run records each tenant's
  failure and carries on with the others;
* a ``--tenants`` run skips the manifests' own sinks (one destination cannot
  hold N tenants' values) and writes each tenant's connection files to its own
  folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

from provisioner.core.errors import ProvisionerError
from provisioner.core.locking import apply_lock
from provisioner.core.progress import Progress, print_progress
from provisioner.engine.loading import load_manifests, select_apps
from provisioner.engine.options import RunOptions
from provisioner.engine.planner import Plan
from provisioner.engine.rotation.run import RotateOutcome, StatusOutcome, read_in, rotate_in, status_of
from provisioner.engine.targeting import open_target
from provisioner.engine.tenants import load_tenants, open_targets
from provisioner.engine.workflow import ApplyOutcome, apply_in, plan_in
from provisioner.graph.target import Target
from provisioner.manifest.loader import LoadedApp

#: (plans by tenant, every tenant's result so far: ids, warnings, errors) -> go ahead?
ApproveAll = Callable[[dict[str, Plan], dict[str, "TenantResult"]], bool]

#: The label of the only tenant of a single-tenant run.
SINGLE = "tenant"


@dataclass
class TenantResult:
    name: str
    tenant_id: str | None
    plan: Plan | None = None
    applied: ApplyOutcome | None = None
    rotated: RotateOutcome | None = None
    status: StatusOutcome | None = None
    error: str | None = None
    warnings: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        # A rotate that reports per-app errors failed in this tenant although it ran to the end.
        return self.error is None and not (self.rotated is not None and self.rotated.errors)

    def to_dict(self, *, show_secrets: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "tenant_id": self.tenant_id}
        if self.applied is not None:
            out.update(self.applied.to_dict(show_secrets=show_secrets))
        elif self.rotated is not None:
            out.update(self.rotated.to_dict(show_secrets=show_secrets))
        elif self.status is not None:
            out.update(self.status.to_dict())
        elif self.plan is not None:
            out.update(self.plan.to_dict())
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class RunOutcome:
    """Every tenant's result, in tenants-file order (one entry for a single-tenant run)."""

    results: dict[str, TenantResult]
    warnings: list[Any] = field(default_factory=list)

    @property
    def single(self) -> TenantResult:
        """The result of a single-tenant run."""
        (only,) = self.results.values()
        return only

    @property
    def failed(self) -> list[str]:
        return [name for name, r in self.results.items() if not r.ok]

    @property
    def changes_pending(self) -> bool:
        return any(r.plan is not None and not r.plan.is_empty for r in self.results.values())

    @property
    def rotated(self) -> bool:
        """Some tenant minted, retired or removed a secret (``rotate --detailed-exitcode`` exits 3)."""
        return any(r.rotated is not None and r.rotated.status == "rotated" for r in self.results.values())

    @property
    def held_back(self) -> list[str]:
        """Replaced secrets kept because still signed in with (``rotate --detailed-exitcode`` exits 5)."""
        return [line for r in self.results.values() if r.rotated is not None for line in r.rotated.held_back]

    @property
    def unhealthy(self) -> list[str]:
        """Tenants whose ``status`` found a problem (exit 4)."""
        return [n for n, r in self.results.items() if r.status is not None and not r.status.healthy]

    def to_dict(self, *, show_secrets: bool = False) -> dict[str, Any]:
        return {
            "tenants": {name: r.to_dict(show_secrets=show_secrets) for name, r in self.results.items()},
            "failed": self.failed,
        }


class TenantsFailed(ProvisionerError):
    """One or more tenants of a fan-out run failed (the others' results stand)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"{len(names)} tenant(s) failed: {', '.join(names)}")
        self.names = names


# ------------------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class _Run:
    """What every tenant of one run shares: its apps, and where each tenant's target comes from."""

    options: RunOptions
    loaded: list[LoadedApp]
    warnings: list[Any]
    fan_out: bool


def _prepare(options: RunOptions, *, secrets_only: bool = False) -> _Run:
    loaded, warnings = load_manifests(options.paths)
    loaded = select_apps(loaded, options.apps)
    if secrets_only:
        loaded = [item for item in loaded if item.app.secrets or item.app.certificates or item.app.sp_secrets]
    fan_out = options.tenants_file is not None
    if fan_out:
        loaded, sink_warnings = _without_sinks(loaded)
        warnings = [*warnings, *sink_warnings]
    return _Run(options=options, loaded=loaded, warnings=warnings, fan_out=fan_out)


def _without_sinks(loaded: list[LoadedApp]) -> tuple[list[LoadedApp], list[str]]:
    """Apps whose declared sinks are dropped for a fan-out run, and a warning per app that had some."""
    out: list[LoadedApp] = []
    warnings: list[str] = []
    for item in loaded:
        if item.app.sinks:
            warnings.append(
                f"{item.source}: app {item.app.name}: its {len(item.app.sinks)} sink(s) are skipped with --tenants "
                "(one destination for every tenant); values go to "
                f"<state_dir>/tenants/<cloud>/<tenant id>/connections/{item.app.name}.json"
            )
            item = replace(item, app=item.app.model_copy(update={"sinks": []}))
        out.append(item)
    return out, warnings


@contextmanager
def _targets(run: _Run) -> Iterator[tuple[dict[str, Target | ProvisionerError], dict[str, str | None]]]:
    """Target (or the error that prevents one) per tenant label, and the tenant IDs the labels name."""
    options = run.options
    if options.tenants_file is None:
        with open_target(
            emulator=options.emulator, tenant=options.tenant, cloud=options.cloud, state_dir=options.state_dir
        ) as opened:
            target = cast(Target, opened)
            yield {SINGLE: target}, {SINGLE: target.tenant_id}
        return
    tenants = load_tenants(options.tenants_file)
    with open_targets(
        tenants, emulator=options.emulator, cloud=options.cloud, state_dir=options.state_dir
    ) as targets:
        yield targets, {entry.name: entry.tenant_id for entry in tenants.entries}


@contextmanager
def _writing(options: RunOptions, progress: Progress | None) -> Iterator[None]:
    """Writing runs hold the state directory's lock: no double mint from a double start."""
    with apply_lock(options.state_dir, progress):
        yield


# ------------------------------------------------------------------------------------------ running


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ProvisionerError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


Work = Callable[[str, Target, TenantResult], Awaitable[None]]
ApprovedWork = Callable[[str, Target, Callable[[Plan], Awaitable[bool]], TenantResult], Awaitable[None]]


def _start(
    targets: dict[str, Target | ProvisionerError], tenant_ids: dict[str, str | None]
) -> dict[str, TenantResult]:
    """A result per tenant, in file order; a tenant without a usable target has failed already."""
    results: dict[str, TenantResult] = {}
    for name, target in targets.items():
        results[name] = TenantResult(name, tenant_ids.get(name))
        if isinstance(target, ProvisionerError):
            results[name].error = str(target)
    return results


def _run_each(run: _Run, work: Work) -> dict[str, TenantResult]:
    """``work`` in every tenant concurrently (read-only runs: nothing to approve)."""
    with _targets(run) as (targets, tenant_ids):
        results = _start(targets, tenant_ids)

        async def one(name: str, target: Target) -> None:
            result = results[name]
            try:
                await work(
                    name, target, result
                )  # gather runs each tenant as its own task (own tenant folder)
            except Exception as exc:
                if not run.fan_out:
                    raise
                result.error = _error_text(exc)  # one tenant's failure must not stop the others
            result.tenant_id = target.tenant_id

        async def all_tenants() -> None:
            await asyncio.gather(
                *(one(n, t) for n, t in targets.items() if not isinstance(t, ProvisionerError))
            )

        asyncio.run(all_tenants())
    return results


def _run_approved(
    run: _Run, approve_all: ApproveAll, work: ApprovedWork, *, command: str
) -> dict[str, TenantResult]:
    """``work`` in every tenant; each plans, waits until all have, then one question decides for all.

    Refusing changes nothing anywhere.
    """
    with _targets(run) as (targets, tenant_ids):
        results = _start(targets, tenant_ids)
        runnable = {n: t for n, t in targets.items() if not isinstance(t, ProvisionerError)}
        refused: list[Exception] = []

        async def all_tenants() -> bool:
            plans: dict[str, Plan] = {}
            waiting = len(runnable)
            decided = asyncio.Event()
            verdict = {"ok": False}

            def arrive() -> None:
                nonlocal waiting
                waiting -= 1
                if waiting == 0:  # every tenant has planned (or failed): one question for all of them
                    try:
                        verdict["ok"] = approve_all(dict(plans), results) if plans else True
                    except Exception as exc:
                        # a refusal (e.g. a deletion without --yes and no terminal) is the run's answer,
                        # not the failure of whichever tenant planned last: every tenant stops unchanged
                        # and the refusal is raised once, after all of them have
                        refused.append(exc)
                    finally:
                        decided.set()  # never leave the other tenants waiting

            async def one(name: str, target: Target) -> None:
                result = results[name]
                arrived = False

                async def approve(pending: Plan) -> bool:
                    nonlocal arrived
                    result.plan = pending
                    plans[name] = pending
                    arrived = True
                    arrive()
                    await decided.wait()
                    if refused:
                        raise refused[0]  # stops this tenant before any write (re-raised once below)
                    return verdict["ok"]

                try:
                    await work(name, target, approve, result)
                except Exception as exc:
                    if not run.fan_out:
                        raise
                    result.error = _error_text(exc)  # one tenant's failure must not stop the others
                finally:
                    if not arrived:
                        arrive()
                result.tenant_id = target.tenant_id

            await asyncio.gather(*(one(n, t) for n, t in runnable.items()))
            return verdict["ok"] or not runnable

        approved = asyncio.run(all_tenants())
    if refused:
        raise refused[0]
    if not approved and run.fan_out:
        raise ProvisionerError(f"{command} cancelled; nothing was changed in any tenant")
    return results


def _tenant_progress(run: _Run, name: str, progress: Progress | None) -> Progress | None:
    if progress is None or not run.fan_out:
        return progress
    return lambda message: progress(f"[{name}] {message}")


# ------------------------------------------------------------------------------------------ operations


def plan(options: RunOptions) -> RunOutcome:
    """What ``apply`` would change, per tenant; nothing is written."""
    run = _prepare(options)

    async def work(name: str, target: Target, result: TenantResult) -> None:
        result.plan = await plan_in(
            target, run.loaded, options, result.warnings, _tenant_progress(run, name, print_progress)
        )

    return RunOutcome(results=_run_each(run, work), warnings=run.warnings)


def apply(options: RunOptions, approve_all: ApproveAll, progress: Progress | None = None) -> RunOutcome:
    """Plan every tenant, ask once, then converge everywhere and deliver connection values."""
    run = _prepare(options)

    async def work(
        name: str, target: Target, approve: Callable[[Plan], Awaitable[bool]], result: TenantResult
    ) -> None:
        result.applied = await apply_in(
            target, run.loaded, options, approve, _tenant_progress(run, name, progress), result.warnings
        )

    with _writing(options, progress):
        results = _run_approved(run, approve_all, work, command="apply")
    return RunOutcome(results=results, warnings=run.warnings)


def rotate(options: RunOptions, approve_all: ApproveAll, progress: Progress | None = None) -> RunOutcome:
    """Decide in every tenant, ask once, then mint, deliver and retire secrets everywhere.

    New values go to each tenant's connection folder in a ``--tenants`` run (the
    manifests' own sinks are skipped, as for ``apply``), so the holdings that
    decide a rotation are read from that folder too.
    """
    run = _prepare(options, secrets_only=True)

    async def work(
        name: str, target: Target, approve: Callable[[Plan], Awaitable[bool]], result: TenantResult
    ) -> None:
        result.rotated = await rotate_in(
            target, run.loaded, options, approve, _tenant_progress(run, name, progress)
        )

    with _writing(options, progress):
        results = _run_approved(run, approve_all, work, command="rotate")
    for result in results.values():
        if result.rotated is not None and not run.fan_out:
            result.rotated.warnings = run.warnings
    return RunOutcome(results=results, warnings=run.warnings)


def status(options: RunOptions) -> RunOutcome:
    """Every tenant's secret report, read concurrently; nothing is changed."""
    run = _prepare(options, secrets_only=True)

    async def work(name: str, target: Target, result: TenantResult) -> None:
        state, now, evidence = await read_in(
            target,
            run.loaded,
            options.state_dir,
            _tenant_progress(run, name, print_progress),
            base_dir=options.base,
        )
        # inside the tenant's task: the default sink is read from this tenant's connection folder
        result.status = status_of(
            run.loaded, state, now, base_dir=options.base, state_dir=options.state_dir, evidence=evidence
        )
        if not run.fan_out:
            result.status.warnings = [*run.warnings, *result.status.warnings]

    return RunOutcome(results=_run_each(run, work), warnings=run.warnings)


__all__ = [
    "SINGLE",
    "ApproveAll",
    "RunOutcome",
    "TenantResult",
    "TenantsFailed",
    "apply",
    "plan",
    "rotate",
    "status",
]
