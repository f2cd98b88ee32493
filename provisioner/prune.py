"""``plan --prune`` / ``apply --prune``: delete registrations the tool owns that no manifest declares any more.

"Owns" means tagged ``provisioner:managed`` (:data:`~provisioner.graph.state.MANAGED_TAG`):
every app the tool created carries it, adopted apps only when their manifest
lists it. Read with one query (``$filter=tags/any(t:t eq 'provisioner:managed')``),
then everything declared by the given manifests is set aside - by uniqueName,
by appId, and by the registration each entry resolved to (adopted ones). What is
left becomes a ``delete_app`` action; ``plan --prune`` only lists them, ``apply
--prune`` deletes them after the declared apps converged.

Because "declared" means "in the manifests given on this command line", prune
with *all* of a tenant's manifests; a run over a subset would list every other
managed app. The credential's own application is never pruned.

Deleting an application soft-deletes it (restorable for 30 days with
``provisioner restore``); Entra deletes its service principal, and with it the
consent and role assignments. The app's default connection file is removed:
the secret in it is dead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.errors import ProvisionerError
from provisioner.plan import Action, Change, Plan

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

    from provisioner.graph.state import ExistingApp, TenantState

DELETE_APP = "delete_app"
Progress = Callable[[str], None]


def _label(app: ExistingApp, used: set[str]) -> str:
    label = app.unique_name or app.display_name or app.app_id
    if label in used:
        label = f"{label} ({app.app_id})"
    used.add(label)
    return label


def delete_action(app: ExistingApp, label: str, *, reason: str, state_dir: Path | None) -> Action:
    """A ``delete_app`` action (shared with ``destroy``)."""
    from provisioner.sinks.deliver import default_sink_path

    connection = str(default_sink_path(app.unique_name, state_dir)) if app.unique_name and state_dir else None
    return Action(
        DELETE_APP,
        label,
        f"delete application {label} ({app.display_name}, appId {app.app_id}){reason}",
        [Change("application", app.app_id, None)],
        {
            "object_id": app.object_id,
            "app_id": app.app_id,
            "unique_name": app.unique_name,
            "display_name": app.display_name,
            "connection_file": connection,
        },
    )


def prune_candidates(
    managed: Sequence[ExistingApp], loaded: Sequence[Any], state: TenantState, *, self_app_id: str | None
) -> list[ExistingApp]:
    """Managed apps that none of ``loaded`` declares (by uniqueName, appId or adoption)."""
    apps = [getattr(item, "app", item) for item in loaded]
    names = {a.name.lower() for a in apps}
    app_ids = {a.app_id.lower() for a in apps if a.app_id}
    objects = {a.object_id for a in state.apps.values() if a is not None}
    me = (self_app_id or "").lower()
    return [
        m
        for m in managed
        if m.object_id not in objects
        and (m.unique_name or "").lower() not in names
        and m.app_id not in app_ids
        and m.app_id != me
    ]


async def prune_actions(
    client: GraphServiceClient,
    loaded: Sequence[Any],
    state: TenantState,
    *,
    self_app_id: str | None,
    state_dir: Path | None,
) -> list[Action]:
    """``delete_app`` actions for every managed registration no manifest declares."""
    from provisioner.inventory import managed_applications

    managed = await managed_applications(client)
    used: set[str] = set()
    return [
        delete_action(
            app,
            _label(app, used),
            reason=": tagged provisioner:managed but declared in none of the manifests given (--prune)",
            state_dir=state_dir,
        )
        for app in prune_candidates(managed, loaded, state, self_app_id=self_app_id)
    ]


async def run_deletions(
    client: GraphServiceClient,
    plan: Plan,
    *,
    purge: bool = False,
    progress: Progress | None = None,
) -> tuple[list[Action], list[str], list[ProvisionerError]]:
    """Execute the plan's ``delete_app`` actions: (done, connection files removed, errors)."""
    from provisioner.graph.errors import graph_errors
    from provisioner.inventory import delete_application, purge_deleted

    done: list[Action] = []
    removed: list[str] = []
    errors: list[ProvisionerError] = []
    for action in (a for a in plan.actions if a.kind == DELETE_APP):
        object_id = action.details["object_id"]
        try:
            async with graph_errors(f"{action.app}: {action.summary}"):
                if not action.details.get("purge_only"):
                    await delete_application(client, object_id)
                if purge or action.details.get("purge_only"):
                    await purge_deleted(client, object_id)
        except ProvisionerError as exc:
            errors.append(exc)
            continue
        done.append(action)
        if progress:
            progress(f"{action.app}: {'purged' if purge or action.details.get('purge_only') else 'deleted'}")
        path = action.details.get("connection_file")
        if path and Path(path).exists():
            Path(path).unlink()
            removed.append(path)
    return done, removed, errors


__all__ = ["DELETE_APP", "delete_action", "prune_actions", "prune_candidates", "run_deletions"]
