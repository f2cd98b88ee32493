"""``provisioner destroy`` and ``provisioner restore``: the end of a registration's life, and the way back.

Destroy deletes the applications the manifests declare. Entra cascades: the
application's service principal goes with it, and with the service principal
its delegated grants and app role assignments; secrets are part of the
application. Only registrations the tool may consider its own are deleted:
those tagged ``provisioner:managed`` or explicitly adopted by their manifest
(``app_id`` / ``adopt: true``). Anything else that merely shares a uniqueName is
skipped and reported.

Entra soft-deletes applications: they sit in ``/directory/deletedItems`` for 30
days, restorable. ``--purge`` removes them from there as well (irreversible),
and also purges declared apps an earlier destroy left soft-deleted.
``restore`` brings one back by appId or name; Entra does not restore its service
principal (so no consent either) - the next ``apply`` recreates both.

Connection files: a soft-deleted application keeps its secrets (``restore``
brings them back, still valid), so its default file
(``<state_dir>/tenants/<cloud>/<tenant id>/connections/<app>.json``) stays and the
next apply after a restore needs no new secret. ``--purge`` makes every secret of
the app useless for good, so the file goes with it. Files and vault secrets
written by the manifest's own sinks are left in place and listed, since the tool
cannot know who else reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import GraphError, ProvisionerError
from provisioner.core.layout import default_sink_path
from provisioner.core.progress import Progress
from provisioner.engine.loading import load_manifests
from provisioner.engine.options import RunOptions
from provisioner.engine.planner import Action, Change, Plan
from provisioner.engine.prune import delete_action, run_deletions
from provisioner.engine.targeting import open_target
from provisioner.engine.tenancy import enter_tenant
from provisioner.graph.connect import graph_client
from provisioner.graph.failures import graph_errors
from provisioner.graph.inventory import applications_matching, deleted_applications, restore_deleted
from provisioner.graph.state import chunked, in_filter, odata_quote
from provisioner.model.adoption import resolve
from provisioner.sinks import describe

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

    from provisioner.graph.inventory import DeletedApp
    from provisioner.manifest.loader import LoadedApp
    from provisioner.model.tenant import ExistingApp

Approve = Callable[[Plan], bool]


@dataclass
class DestroyOutcome:
    plan: Plan
    destroyed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    connection_files_removed: list[str] = field(default_factory=list)
    sinks_left: list[str] = field(default_factory=list)
    errors: list[ProvisionerError] = field(default_factory=list)
    purge: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.plan.tenant_id,
            "changes": self.plan.to_dict(),
            "purged": self.purge,
            "destroyed": self.destroyed,
            "skipped": self.skipped,
            "connection_files_removed": self.connection_files_removed,
            "sinks_left": self.sinks_left,
            "errors": [str(e) for e in self.errors],
        }

    def raise_for_errors(self) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        if len(self.errors) == 1:
            raise first
        raise GraphError(f"{first} (and {len(self.errors) - 1} more app(s) failed)")


def _select(loaded: list[LoadedApp], names: list[str] | None) -> list[LoadedApp]:
    if not names:
        return loaded
    known = {item.app.name: item for item in loaded}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ProvisionerError(
            f"--app {', '.join(unknown)}: not declared in the manifests given (declared: {', '.join(known)})"
        )
    return [known[n] for n in dict.fromkeys(names)]


async def _locate(client: GraphServiceClient, loaded: list[LoadedApp]) -> dict[str, ExistingApp | None]:
    """Each declared app's live registration, with the adoption rules of plan/apply.

    Lenient where plan is strict: an ``app_id`` that no longer exists is simply gone.
    """
    names = [item.app.name for item in loaded]
    by_name = [in_filter("uniqueName", chunk) for chunk in chunked(names)]
    adopted = [item for item in loaded if item.app.app_id or item.app.adopt]
    by_key = [
        f"appId eq {odata_quote(item.app.app_id.lower())}"
        if item.app.app_id
        else f"displayName eq {odata_quote(item.app.display_name)}"
        for item in adopted
    ]
    # One set of round trips for both lookups: they do not depend on each other.
    found = await applications_matching(client, [*by_name, *by_key])
    by_unique = {a.unique_name.lower(): a for batch in found[: len(by_name)] for a in batch if a.unique_name}

    located: dict[str, ExistingApp | None] = {
        item.app.name: by_unique.get(item.app.name.lower()) for item in loaded
    }
    for item, matches in zip(adopted, found[len(by_name) :], strict=True):
        have = by_unique.get(item.app.name.lower())
        if item.app.app_id and not matches and have is None:
            located[item.app.name] = None
        else:
            located[item.app.name] = resolve(item, have, matches)
    return located


def _deleted_match(item: LoadedApp, deleted: list[DeletedApp]) -> DeletedApp | None:
    app = item.app
    for entry in deleted:  # newest deletion first
        if app.app_id and entry.app_id == app.app_id.lower():
            return entry
        if (entry.unique_name or "").lower() == app.name.lower():
            return entry
    return None


async def _destroy(
    target: Any,
    loaded: list[LoadedApp],
    *,
    purge: bool,
    approve: Callable[[Plan], bool | Awaitable[bool]],
    progress: Progress | None,
    state_dir: Path,
    base_dir: Path,
) -> DestroyOutcome:
    import inspect

    async with graph_client(target) as client:
        enter_tenant(target, target.tenant_id, state_dir, progress)  # the token named the tenant
        async with graph_errors("find the declared applications"):
            found = await _locate(client, loaded)
        deleted = await deleted_applications(client) if purge else []
        pending = Plan(tenant_id=target.tenant_id)
        outcome = DestroyOutcome(plan=pending, purge=purge)
        then = (
            "; then purge it from deleted items (irreversible)"
            if purge
            else "; restorable for 30 days (provisioner restore)"
        )
        for item in loaded:
            app = item.app
            have = found.get(app.name)
            adopted = bool(app.app_id or app.adopt)
            if have is None:
                gone = _deleted_match(item, deleted) if purge else None
                if gone is None:
                    outcome.skipped.append(
                        {"app": app.name, "reason": "not found in the tenant (already deleted?)"}
                    )
                    continue
                action = _purge_only(gone, app.name, state_dir)
            elif not (have.managed or adopted):
                outcome.skipped.append(
                    {
                        "app": app.name,
                        "reason": f"{have.app_id} is not tagged provisioner:managed and the manifest does not "
                        "adopt it (set app_id to destroy it)",
                    }
                )
                continue
            else:
                action = delete_action(
                    have,
                    app.name,
                    reason=": its service principal, admin consent and secrets go with it" + then,
                    state_dir=state_dir,
                )
                action.details["connection_file"] = str(_connection_file(app.name, state_dir))
            pending.actions.append(action)
            outcome.sinks_left += [describe(sink, app, base_dir=base_dir) for sink in app.sinks]
        decision = approve(pending) if pending.actions else True
        if inspect.isawaitable(decision):
            decision = await decision
        if not decision:
            raise ProvisionerError("destroy cancelled; nothing was deleted")
        done, removed, errors = await run_deletions(client, pending, purge=purge, progress=progress)
    outcome.connection_files_removed = removed
    outcome.errors = errors
    for action in done:
        d = action.details
        outcome.destroyed.append(
            {
                "app": action.app,
                "app_id": d["app_id"],
                "object_id": d["object_id"],
                "purged": purge or bool(d.get("purge_only")),
            }
        )
    return outcome


def _connection_file(name: str, state_dir: Path) -> Path:
    return default_sink_path(name, state_dir)


def _purge_only(gone: DeletedApp, name: str, state_dir: Path) -> Any:
    when = gone.deleted_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if gone.deleted_at else "earlier"
    return Action(
        "delete_app",
        name,
        f"purge application {name} ({gone.display_name}, appId {gone.app_id}), deleted {when} UTC, "
        "from deleted items (irreversible)",
        [Change("deletedItems", gone.app_id, None)],
        {
            "object_id": gone.object_id,
            "app_id": gone.app_id,
            "unique_name": gone.unique_name,
            "display_name": gone.display_name,
            "purge_only": True,
            "connection_file": str(_connection_file(name, state_dir)),
        },
    )


def destroy(
    options: RunOptions,
    *,
    purge: bool,
    approve: Approve,
    progress: Progress | None = None,
) -> DestroyOutcome:
    """Delete the declared apps (see the module docstring); errors are in ``outcome.errors``."""

    loaded, _ = load_manifests(options.paths)
    selected = _select(loaded, list(options.apps) or None)
    state_dir = options.state_dir
    with open_target(
        emulator=options.emulator, tenant=options.tenant, cloud=options.cloud, state_dir=state_dir
    ) as target:
        return asyncio.run(
            _destroy(
                target,
                selected,
                purge=purge,
                approve=approve,
                progress=progress,
                state_dir=state_dir,
                base_dir=options.base,
            )
        )


# ------------------------------------------------------------------------------------------ restore


@dataclass
class RestoreOutcome:
    tenant_id: str | None
    app_id: str
    object_id: str
    unique_name: str | None
    display_name: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "restored": {
                "app_id": self.app_id,
                "object_id": self.object_id,
                "unique_name": self.unique_name,
                "display_name": self.display_name,
            },
            "next": "run `provisioner apply` to recreate the service principal, admin consent and secrets",
        }


def pick_deleted(deleted: list[DeletedApp], *, app_id: str | None, name: str | None) -> DeletedApp:
    """The one deleted application meant by ``--app-id`` or ``--name`` (uniqueName, else display name)."""
    if app_id:
        matches = [d for d in deleted if d.app_id == app_id.strip().lower()]
        wanted = f"appId {app_id}"
    else:
        key = (name or "").strip().lower()
        matches = [d for d in deleted if (d.unique_name or "").lower() == key] or [
            d for d in deleted if d.display_name.lower() == key
        ]
        wanted = f"name {name!r}"
    if not matches:
        raise ProvisionerError(
            f"no deleted application with {wanted} (Entra keeps deleted applications for 30 days; "
            "a purged one cannot come back)"
        )
    if len(matches) > 1:
        listed = "; ".join(
            f"{d.app_id} ({d.display_name!r}, deleted {d.deleted_at:%Y-%m-%d %H:%M})"
            if d.deleted_at
            else f"{d.app_id} ({d.display_name!r})"
            for d in matches
        )
        raise ProvisionerError(f"{len(matches)} deleted applications match {wanted}: {listed}; use --app-id")
    return matches[0]


def restore(options: RunOptions, *, app_id: str | None, name: str | None) -> RestoreOutcome:
    if bool(app_id) == bool(name):
        raise ProvisionerError("choose exactly one of --app-id or --name")
    with open_target(
        emulator=options.emulator, tenant=options.tenant, cloud=options.cloud, state_dir=options.state_dir
    ) as target:
        return asyncio.run(_restore(target, options.state_dir, app_id=app_id, name=name))


async def _restore(target: Any, state_dir: Path, *, app_id: str | None, name: str | None) -> RestoreOutcome:
    async with graph_client(target) as client:
        enter_tenant(target, target.tenant_id, state_dir)  # says which tenant is about to change
        chosen = pick_deleted(await deleted_applications(client), app_id=app_id, name=name)
        async with graph_errors(f"restore application {chosen.app_id}"):
            await restore_deleted(client, chosen.object_id)
    return RestoreOutcome(
        tenant_id=target.tenant_id,
        app_id=chosen.app_id,
        object_id=chosen.object_id,
        unique_name=chosen.unique_name,
        display_name=chosen.display_name,
    )


__all__ = ["DestroyOutcome", "RestoreOutcome", "destroy", "pick_deleted", "restore"]
