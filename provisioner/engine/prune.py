"""``plan --prune`` / ``apply --prune``: delete registrations the tool owns that no manifest declares any more.

"Owns" means tagged ``provisioner:managed`` (:data:`~provisioner.model.tenant.MANAGED_TAG`):
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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import ProvisionerError
from provisioner.core.layout import default_sink_path
from provisioner.core.progress import Progress
from provisioner.engine.planner import Action, Change, Plan
from provisioner.graph.batch import AdaptiveLimiter, Batcher, Request
from provisioner.graph.failures import graph_errors
from provisioner.graph.inventory import managed_applications, purge_deleted
from provisioner.graph.retry import RetryPolicy, is_replication_lag

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

    from provisioner.model.tenant import ExistingApp, TenantState

DELETE_APP = "delete_app"


def _label(app: ExistingApp, used: set[str]) -> str:
    label = app.unique_name or app.display_name or app.app_id
    if label in used:
        label = f"{label} ({app.app_id})"
    used.add(label)
    return label


def delete_action(app: ExistingApp, label: str, *, reason: str, state_dir: Path | None) -> Action:
    """A ``delete_app`` action (shared with ``destroy``)."""
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
    """Execute the plan's ``delete_app`` actions: (done, connection files removed, errors).

    Deletions, then purges, go out as ``$batch`` requests
    (:class:`~provisioner.graph.batch.Batcher`): destroying or pruning many apps
    costs a round trip per 20 of them instead of one per app. A 404 on delete
    means the app is gone already (what was wanted). A purge right after the
    delete can miss the just-deleted item while the deletion replicates; only
    those purges are repeated, one by one, with the replication back-off.
    """

    actions = [a for a in plan.actions if a.kind == DELETE_APP]
    if not actions:
        return [], [], []
    policy = RetryPolicy.from_env()
    batcher = Batcher(client, limiter=AdaptiveLimiter(), policy=policy, on_wait=progress, label="delete")
    errors: dict[int, ProvisionerError] = {}
    purging = {i for i, a in enumerate(actions) if purge or a.details.get("purge_only")}

    deleting = [i for i, a in enumerate(actions) if not a.details.get("purge_only")]
    answers = await batcher.each(
        [
            Request(
                client.applications.by_application_id(
                    actions[i].details["object_id"]
                ).to_delete_request_information(),
                None,
            )
            for i in deleting
        ]
    )
    for i, outcome in zip(deleting, answers, strict=True):
        if not outcome.ok and outcome.status != 404:
            errors[i] = await outcome.failure(f"{actions[i].app}: {actions[i].summary}")

    to_purge = sorted(purging - set(errors))
    answers = await batcher.each([_purge_request(client, actions[i].details["object_id"]) for i in to_purge])
    for i, outcome in zip(to_purge, answers, strict=True):
        if outcome.ok:
            continue
        label = f"{actions[i].app}: {actions[i].summary}"
        if outcome.error is not None and is_replication_lag(outcome.error):
            errors.pop(i, None)
            try:
                await _purge_one(client, actions[i].details["object_id"], label)
            except ProvisionerError as exc:
                errors[i] = exc
            continue
        errors[i] = await outcome.failure(label)

    done: list[Action] = []
    removed: list[str] = []
    for i, action in enumerate(actions):
        if i in errors:
            continue
        done.append(action)
        if progress:
            progress(f"{action.app}: {'purged' if i in purging else 'deleted'}")
        # A soft-deleted app keeps its secrets (restore brings them back), so its connection file
        # stays; only a purge, after which no secret of the app can ever work again, removes it.
        path = action.details.get("connection_file")
        if i in purging and path and Path(path).exists():
            Path(path).unlink()
            removed.append(path)
    return done, removed, [errors[i] for i in sorted(errors)]


def _purge_request(client: GraphServiceClient, object_id: str) -> Any:
    item = client.directory.deleted_items.by_directory_object_id(object_id)
    return Request(item.to_delete_request_information(), None)


async def _purge_one(client: GraphServiceClient, object_id: str, label: str) -> None:
    async with graph_errors(label):
        await purge_deleted(client, object_id)


__all__ = ["DELETE_APP", "delete_action", "prune_actions", "prune_candidates", "run_deletions"]
