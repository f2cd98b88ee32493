"""Multi-tenant fan-out: ``plan``/``apply --tenants FILE`` converge the same manifests in several tenants.

The tenants file sits next to the manifests and names each target tenant with
its own credential::

    tenants:
      - name: contoso                  # label: output section, connection folder
        tenant_id: 0f0e...             # GUID or verified domain
        client_id: 5a1b...             # app the run signs in as ...
        client_secret_env: CONTOSO_PROVISIONER_SECRET   # ... with the secret in this env variable
      - name: fabrikam-gov
        tenant_id: fabrikam.onmicrosoft.us
        cloud: usgov
        client_id: 77aa...
        certificate: certs/fabrikam.pem                 # PEM with private key, relative to this file
      - name: sandbox
        tenant_id: 3c2d...             # no credential: DefaultAzureCredential (az login, OIDC, ...)
      - name: local
        tenant_id: 11111111-1111-1111-1111-111111111111
        emulator: true                 # the emulator: --emulator's embedded one, else PROVISIONER_GRAPH_URL

A top-level list (without ``tenants:``) is accepted too. Secrets never appear in
the file, only the names of the environment variables holding them.

Each tenant runs as its own asyncio task with its own Graph client (the SDK is
async, so one event loop drives all of them concurrently). A tenant's failure -
a wrong secret, a Graph error, a manifest permission its tenant does not have -
is recorded and reported; the others carry on. ``apply`` plans every tenant
first, shows all plans, asks once, then applies everywhere.

Connection values go to ``<state_dir>/connections/<tenant name>/<app>.json``
(:data:`provisioner.sinks.deliver.CONNECTIONS_SUBDIR`, set per task). The
manifest's own sinks (files, Key Vault, GitHub outputs) name one destination,
which N tenants would overwrite in turn: they are skipped in a fan-out run, with
a warning.

With ``--emulator`` every entry is served by one embedded emulator hosting all
tenants (created on first use); an ``emulator: true`` entry with a
``client_id``/``client_secret_env`` signs in with those, every other entry as its
emulated tenant's bootstrap admin - so a production tenants file can be
rehearsed locally.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from provisioner.core.errors import CredentialError, Location, ManifestError, ManifestErrors, ProvisionerError
from provisioner.core.progress import Progress
from provisioner.model.manifest import NAME_PATTERN

if TYPE_CHECKING:
    from provisioner.engine.planner import Plan
    from provisioner.engine.rotation.run import RotateOutcome, StatusOutcome
    from provisioner.engine.workflow import ApplyOutcome
    from provisioner.graph.target import Target
    from provisioner.manifest.loader import LoadedApp

# (plans by tenant, every tenant's result so far: ids, warnings, errors) -> go ahead?
ApproveAll = Callable[[dict[str, "Plan"], dict[str, "TenantResult"]], bool]


class TenantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="Label; also the connection folder name.")
    tenant_id: str = Field(min_length=1, description="Tenant ID (GUID) or verified domain.")
    cloud: Literal["public", "usgov", "china"] | None = None
    client_id: str | None = None
    client_secret_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable with the secret."
    )
    certificate: str | None = Field(default=None, description="PEM file (certificate + private key).")
    emulator: bool = False

    @model_validator(mode="after")
    def _one_credential(self) -> TenantEntry:
        if self.client_secret_env and self.certificate:
            raise ValueError("give client_secret_env or certificate, not both")
        if (self.client_secret_env or self.certificate) and not self.client_id:
            raise ValueError("client_secret_env and certificate need client_id")
        if self.client_id and not (self.client_secret_env or self.certificate):
            raise ValueError("client_id needs client_secret_env or certificate")
        return self


@dataclass(frozen=True)
class TenantsFile:
    path: Path
    entries: list[TenantEntry]


# ------------------------------------------------------------------------------------------ loading


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _node_at(node: Any, loc: Sequence[Any]) -> Any:
    """The YAML node for a pydantic error location (nearest existing ancestor)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                return node
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def load_tenants(path: str | os.PathLike[str]) -> TenantsFile:
    """Parse and validate a tenants file; every problem reported at file:line:column."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProvisionerError(f"cannot read tenants file {file}: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Location(str(file), mark.line + 1, mark.column + 1) if mark else Location(str(file))
        raise ManifestError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", where) from None
    items_node = root
    if isinstance(data, dict) and set(data) == {"tenants"}:
        data = data["tenants"]
        items_node = _node_at(root, ["tenants"])
    if not isinstance(data, list) or not data:
        raise ManifestError(
            "expected a non-empty list of tenants (or 'tenants:' with one)", Location(str(file), 1)
        )
    errors: list[ManifestError] = []
    entries: list[TenantEntry] = []
    for index, raw in enumerate(data):
        item_node = _node_at(items_node, [index])
        try:
            entries.append(TenantEntry.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [p for p in err["loc"] if p != "__root__"]
                line, column = _mark(_node_at(item_node, loc))
                label = ".".join(str(p) for p in (f"tenants[{index}]", *loc))
                errors.append(ManifestError(f"{label}: {err['msg']}", Location(str(file), line, column)))
    seen: set[str] = set()
    for index, raw in enumerate(data):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            line, column = _mark(_node_at(items_node, [index, "name"]))
            errors.append(
                ManifestError(
                    f"tenants[{index}].name: duplicate tenant name {name!r}",
                    Location(str(file), line, column),
                )
            )
        if isinstance(name, str):
            seen.add(name)
    if errors:
        raise ManifestErrors(errors)
    return TenantsFile(path=file, entries=entries)


# ------------------------------------------------------------------------------------------ targets


def entry_target(entry: TenantEntry, *, tenants_dir: Path, cloud: str, running: Any | None) -> Target:
    """The Target of one entry; raises CredentialError (for this tenant only) when its secret is missing."""
    from provisioner.engine.targeting import emulator_endpoint_from_env, emulator_tenant_target
    from provisioner.graph.target import Target, target_for_cloud

    if running is not None and not entry.emulator:
        # Rehearsing a real tenants file on the embedded emulator: its credentials mean nothing there.
        return emulator_tenant_target(running, entry.tenant_id)  # type: ignore[return-value]
    secret: str | None = None
    if entry.client_secret_env:
        secret = os.environ.get(entry.client_secret_env)
        if not secret:
            raise CredentialError(
                f"environment variable {entry.client_secret_env} (client_secret_env) is not set"
            )
    certificate = str((tenants_dir / entry.certificate).resolve()) if entry.certificate else None
    if running is not None:
        target: Target = emulator_tenant_target(running, entry.tenant_id)  # type: ignore[assignment]
        if entry.client_id:
            target.client_id, target.client_secret, target.certificate_path = (
                entry.client_id,
                secret,
                certificate,
            )
        return target
    if entry.emulator:
        endpoint = emulator_endpoint_from_env()
        if endpoint is None:
            raise ProvisionerError(
                "emulator: true needs --emulator or a running emulator (PROVISIONER_GRAPH_URL, see "
                "`provisioner emulator serve`)"
            )
        return Target(
            tenant_id=entry.tenant_id,
            graph_url=str(endpoint["graph_url"]),
            authority_host=str(endpoint["authority_host"]),
            ca_cert_path=endpoint["ca_cert_path"],
            client_id=entry.client_id,
            client_secret=secret,
            certificate_path=certificate,
        )
    target = target_for_cloud(entry.cloud or cloud, entry.tenant_id)
    target.client_id, target.client_secret, target.certificate_path = entry.client_id, secret, certificate
    return target


@contextmanager
def open_targets(
    tenants: TenantsFile, *, emulator: bool, cloud: str, state_dir: Path
) -> Iterator[dict[str, Target | ProvisionerError]]:
    """Target (or the error that prevents one) per tenant name; starts the embedded emulator if asked."""
    from provisioner.engine.targeting import open_emulator

    with ExitStack() as stack:
        running = stack.enter_context(open_emulator(state_dir)) if emulator else None
        out: dict[str, Target | ProvisionerError] = {}
        for entry in tenants.entries:
            try:
                out[entry.name] = entry_target(
                    entry, tenants_dir=tenants.path.parent, cloud=cloud, running=running
                )
            except ProvisionerError as exc:
                out[entry.name] = exc
        yield out


# ------------------------------------------------------------------------------------------ results


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
class FanOutOutcome:
    results: dict[str, TenantResult]
    warnings: list[Any] = field(default_factory=list)

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


# ------------------------------------------------------------------------------------------ running


def _without_sinks(loaded: list[LoadedApp]) -> tuple[list[LoadedApp], list[str]]:
    """Apps whose declared sinks are dropped for a fan-out run, and a warning per app that had some."""
    from dataclasses import replace

    out: list[LoadedApp] = []
    warnings: list[str] = []
    for item in loaded:
        if item.app.sinks:
            warnings.append(
                f"{item.source}: app {item.app.name}: its {len(item.app.sinks)} sink(s) are skipped with --tenants "
                "(one destination for every tenant); values go to <state_dir>/connections/<tenant>/"
                f"{item.app.name}.json"
            )
            item = replace(item, app=item.app.model_copy(update={"sinks": []}))
        out.append(item)
    return out, warnings


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ProvisionerError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


async def _in_tenant(name: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``call`` with this tenant's connection folder selected (a per-task ContextVar)."""
    from provisioner.sinks.deliver import CONNECTIONS_SUBDIR

    token = CONNECTIONS_SUBDIR.set(name)
    try:
        return await call()
    finally:
        CONNECTIONS_SUBDIR.reset(token)


Work = Callable[[str, "Target", TenantResult], Awaitable[None]]
ApprovedWork = Callable[[str, "Target", Callable[["Plan"], Awaitable[bool]], TenantResult], Awaitable[None]]


def _start(tenants: TenantsFile, targets: dict[str, Target | ProvisionerError]) -> dict[str, TenantResult]:
    """A result per tenant, in file order; a tenant without a usable target has failed already."""
    results: dict[str, TenantResult] = {}
    for entry in tenants.entries:
        target = targets[entry.name]
        results[entry.name] = TenantResult(entry.name, entry.tenant_id)
        if isinstance(target, ProvisionerError):
            results[entry.name].error = str(target)
    return results


def _run_each(
    tenants: TenantsFile, targets: dict[str, Target | ProvisionerError], work: Work
) -> dict[str, TenantResult]:
    """``work`` in every tenant concurrently (read-only runs: nothing to approve)."""
    results = _start(tenants, targets)

    async def one(name: str, target: Target) -> None:
        result = results[name]
        try:
            await _in_tenant(name, lambda: work(name, target, result))
        except Exception as exc:  # one tenant's failure must not stop the others
            result.error = _error_text(exc)
        result.tenant_id = target.tenant_id

    async def run() -> None:
        await asyncio.gather(*(one(n, t) for n, t in targets.items() if not isinstance(t, ProvisionerError)))

    asyncio.run(run())
    return results


def _fan_out_approved(
    tenants: TenantsFile,
    approve_all: ApproveAll,
    work: ApprovedWork,
    *,
    emulator: bool,
    cloud: str,
    state_dir: Path,
    command: str,
) -> dict[str, TenantResult]:
    """Open every tenant, run ``work`` under one shared approval; refusing changes nothing anywhere."""
    with open_targets(tenants, emulator=emulator, cloud=cloud, state_dir=state_dir) as targets:
        results, approved = _run_approved(tenants, targets, approve_all, work)
    if not approved:
        raise ProvisionerError(f"{command} cancelled; nothing was changed in any tenant")
    return results


def _run_approved(
    tenants: TenantsFile,
    targets: dict[str, Target | ProvisionerError],
    approve_all: ApproveAll,
    work: ApprovedWork,
) -> tuple[dict[str, TenantResult], bool]:
    """``work`` in every tenant; each plans, waits until all have, then one question decides for all.

    Returns the results and whether the run was approved (True when no tenant could run).
    """
    results = _start(tenants, targets)
    runnable = {n: t for n, t in targets.items() if not isinstance(t, ProvisionerError)}

    async def run() -> bool:
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
                return verdict["ok"]

            try:
                await _in_tenant(name, lambda: work(name, target, approve, result))
            except Exception as exc:  # one tenant's failure must not stop the others
                result.error = _error_text(exc)
            finally:
                if not arrived:
                    arrive()
            result.tenant_id = target.tenant_id

        await asyncio.gather(*(one(n, t) for n, t in runnable.items()))
        return verdict["ok"] or not runnable

    return results, asyncio.run(run())


def plan_all(
    paths: list[str],
    tenants_file: str | os.PathLike[str],
    *,
    emulator: bool,
    cloud: str,
    state_dir: Path,
    prune: bool = False,
    base_dir: Path | None = None,
) -> FanOutOutcome:
    from provisioner.engine.workflow import _plan, load_manifests

    tenants = load_tenants(tenants_file)
    loaded, warnings = load_manifests(paths)
    loaded, sink_warnings = _without_sinks(loaded)
    base = base_dir or Path.cwd()

    async def work(name: str, target: Target, result: TenantResult) -> None:
        result.plan = await _plan(
            target, loaded, state_dir=state_dir, base_dir=base, prune=prune, warnings=result.warnings
        )

    with open_targets(tenants, emulator=emulator, cloud=cloud, state_dir=state_dir) as targets:
        results = _run_each(tenants, targets, work)
    return FanOutOutcome(results=results, warnings=[*warnings, *sink_warnings])


def _tenant_progress(name: str, progress: Progress | None) -> Progress | None:
    return (lambda message: progress(f"[{name}] {message}")) if progress else None


def apply_all(
    paths: list[str],
    tenants_file: str | os.PathLike[str],
    *,
    emulator: bool,
    cloud: str,
    state_dir: Path,
    approve_all: ApproveAll,
    progress: Progress | None = None,
    prune: bool = False,
    base_dir: Path | None = None,
) -> FanOutOutcome:
    """Plan every tenant, ask once (``approve_all`` sees every plan), then apply everywhere concurrently."""
    from provisioner.engine.workflow import _apply, load_manifests

    tenants = load_tenants(tenants_file)
    loaded, warnings = load_manifests(paths)
    loaded, sink_warnings = _without_sinks(loaded)
    base = base_dir or Path.cwd()

    async def work(
        name: str, target: Target, approve: Callable[[Plan], Awaitable[bool]], result: TenantResult
    ) -> None:
        result.applied = await _apply(
            target,
            loaded,
            approve,
            _tenant_progress(name, progress),
            state_dir=state_dir,
            base_dir=base,
            prune=prune,
            warnings=result.warnings,
        )

    results = _fan_out_approved(
        tenants, approve_all, work, emulator=emulator, cloud=cloud, state_dir=state_dir, command="apply"
    )
    return FanOutOutcome(results=results, warnings=[*warnings, *sink_warnings])


def rotate_all(
    paths: list[str],
    tenants_file: str | os.PathLike[str],
    *,
    emulator: bool,
    cloud: str,
    state_dir: Path,
    approve_all: ApproveAll,
    app_names: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
    base_dir: Path | None = None,
) -> FanOutOutcome:
    """``rotate --tenants``: decide in every tenant, ask once for all of them, then rotate everywhere.

    New values go to each tenant's connection folder (the manifests' own sinks
    are skipped, as for ``apply --tenants``), so the holdings that decide a
    rotation are read from that folder too.
    """
    from provisioner.engine.rotation.run import _rotate, select_apps
    from provisioner.engine.workflow import load_manifests

    tenants = load_tenants(tenants_file)
    loaded, warnings = load_manifests(paths)
    loaded = [item for item in select_apps(loaded, app_names) if item.app.secrets]
    loaded, sink_warnings = _without_sinks(loaded)
    base = base_dir or Path.cwd()

    async def work(
        name: str, target: Target, approve: Callable[[Plan], Awaitable[bool]], result: TenantResult
    ) -> None:
        result.rotated = await _rotate(
            target,
            loaded,
            approve,
            _tenant_progress(name, progress),
            force=force,
            state_dir=state_dir,
            base_dir=base,
        )

    results = _fan_out_approved(
        tenants, approve_all, work, emulator=emulator, cloud=cloud, state_dir=state_dir, command="rotate"
    )
    return FanOutOutcome(results=results, warnings=[*warnings, *sink_warnings])


def status_all(
    paths: list[str],
    tenants_file: str | os.PathLike[str],
    *,
    emulator: bool,
    cloud: str,
    state_dir: Path,
    app_names: Sequence[str] = (),
    base_dir: Path | None = None,
) -> FanOutOutcome:
    """``status --tenants``: every tenant's secret report, read concurrently; nothing is changed."""
    from provisioner.engine.rotation.run import _read, select_apps, status_of
    from provisioner.engine.workflow import load_manifests

    tenants = load_tenants(tenants_file)
    loaded, warnings = load_manifests(paths)
    loaded = [item for item in select_apps(loaded, app_names) if item.app.secrets]
    loaded, sink_warnings = _without_sinks(loaded)
    base = base_dir or Path.cwd()

    async def work(name: str, target: Target, result: TenantResult) -> None:
        state, now = await _read(target, loaded)
        # inside the tenant's task: the default sink is read from <state_dir>/connections/<tenant>/
        result.status = status_of(loaded, state, now, base_dir=base, state_dir=state_dir)

    with open_targets(tenants, emulator=emulator, cloud=cloud, state_dir=state_dir) as targets:
        results = _run_each(tenants, targets, work)
    return FanOutOutcome(results=results, warnings=[*warnings, *sink_warnings])


__all__ = [
    "FanOutOutcome",
    "TenantEntry",
    "TenantResult",
    "TenantsFailed",
    "TenantsFile",
    "apply_all",
    "entry_target",
    "load_tenants",
    "open_targets",
    "plan_all",
    "rotate_all",
    "status_all",
]
