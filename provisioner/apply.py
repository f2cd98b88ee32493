"""Execute a plan against Graph: ordered per app, apps in parallel, idempotent.

Per app the order is fixed by dependencies: application -> service principal
-> admin consent (delegated grant, app role assignments; see
:mod:`provisioner.consent`) -> client secrets (:mod:`provisioner.secrets_graph`).
Apps are independent, so their chains run concurrently (bounded by a
semaphore so a 100-app apply stays under Graph's per-app write limits).

Idempotency: applications are created with the upsert
``PATCH /applications(uniqueName='x')`` + ``Prefer: create-if-missing`` and
service principals with ``PATCH /servicePrincipals(appId='...')`` likewise, so
two concurrent or repeated runs can never create a second registration;
consent helpers resolve "already exists". Objects created in this run are
retried through Entra's replication lag (:mod:`provisioner.graph.retry`).

A failing app does not stop the others: secrets minted for other apps must
still reach their sinks (Graph shows a value once). Failures are collected in
:attr:`ApplyResult.errors`; callers deliver ``minted`` first, then call
:meth:`ApplyResult.raise_for_errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioner.connections import MintedSecret
from provisioner.desired import Desired, DesiredApp
from provisioner.errors import GraphError, ProvisionerError
from provisioner.graph.errors import graph_errors
from provisioner.graph.state import ExistingApp, TenantState
from provisioner.plan import Action, Plan

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

Progress = Callable[[str], None]
CONCURRENCY = 8


@dataclass(frozen=True)
class AppIds:
    app_id: str
    object_id: str
    sp_object_id: str | None


@dataclass
class ApplyResult:
    apps: dict[str, AppIds] = field(default_factory=dict)
    minted: dict[str, list[MintedSecret]] = field(default_factory=dict)
    actions_done: int = 0
    errors: list[ProvisionerError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise the first failure (one line), mentioning how many apps failed in total."""
        if not self.errors:
            return
        first = self.errors[0]
        if len(self.errors) == 1:
            raise first
        raise GraphError(f"{first} (and {len(self.errors) - 1} more app(s) failed)")


def _prefer_create() -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    config = RequestConfiguration()
    config.headers.add("Prefer", "create-if-missing")
    return config


def _select(builder: Any, fields: list[str]) -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
    return RequestConfiguration(query_parameters=qp_cls(select=fields))


def _lost_race(exc: BaseException) -> bool:
    """Another run (concurrent, or killed earlier) created the same uniqueName / appId key.

    Graph answers 400 "Another object with the same value for property uniqueName
    already exists." or 409 Request_MultipleObjectsWithSameKeyValue ("... is already
    in use") while that object is still replicating and our upsert cannot see it.
    """
    from provisioner.graph.errors import error_code, error_message, error_status

    message = error_message(exc).lower()
    return error_status(exc) in (400, 409) and (
        "already exists" in message
        or "already in use" in message
        or error_code(exc) == "Request_MultipleObjectsWithSameKeyValue"
    )


async def _lost_race_retry(call: Callable[[], Any], progress: Progress | None = None) -> Any:
    """Upserts are atomic in Graph: once the other run's object is visible, the repeat is a plain update.

    Retried with backoff within PROVISIONER_REPLICATION_TIMEOUT (:mod:`provisioner.graph.retry`).
    """
    from provisioner.graph.retry import retry_replication

    return await retry_replication(
        call, waiting_for="object another run created", progress=progress, is_transient=_lost_race
    )


class _AppRun:
    """One app's chain of actions; holds the ids learned along the way."""

    def __init__(
        self,
        client: GraphServiceClient,
        want: DesiredApp,
        have: ExistingApp | None,
        progress: Progress | None,
        now: datetime,
    ) -> None:
        self.client = client
        self.want = want
        self.have = have
        self.progress = progress
        self.now = now
        self.app_id = have.app_id if have else None
        self.object_id = have.object_id if have else None
        self.sp_id = have.service_principal.object_id if have and have.service_principal else None
        self.fresh_app = False  # created in this run: retry through replication lag
        self.fresh_sp = False
        self.minted: list[MintedSecret] = []
        self.done = 0

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"{self.want.name}: {message}")

    async def run(self, actions: list[Action]) -> None:
        for action in actions:
            async with graph_errors(f"{self.want.name}: {action.summary}"):
                await getattr(self, action.kind)(action)
            self.done += 1
            self.say(action.summary)

    # -- application and service principal

    async def create_app(self, action: Action) -> None:
        await self._upsert_app()
        self.fresh_app = True

    async def update_app(self, action: Action) -> None:
        await self._upsert_app()

    async def _upsert_app(self) -> None:
        from provisioner.graph.bodies import application_body

        body = application_body(self.want, self.have)
        if self.have is not None and (self.have.unique_name or "").lower() != self.want.name.lower():
            # adopted registration (no uniqueName, or one that is not this name): PATCH by object id,
            # an upsert by this name would create a second registration
            await self.client.applications.by_application_id(self.have.object_id).patch(body)
            return
        builder = self.client.applications_with_unique_name(self.want.name)
        created = await _lost_race_retry(lambda: builder.patch(body, _prefer_create()), self.say)
        if created is not None and created.id:  # 201: created now
            self.object_id, self.app_id = str(created.id).lower(), str(created.app_id).lower()
            return
        if self.object_id and self.app_id:  # 204: updated the app we read
            return
        created = await self._retry(  # 204 although planned as create: a concurrent run created it
            lambda: builder.get(_select(builder, ["id", "appId"])), f"application {self.want.name}"
        )
        self.object_id, self.app_id = str(created.id).lower(), str(created.app_id).lower()

    async def create_service_principal(self, action: Action) -> None:
        from provisioner.graph.bodies import service_principal_body

        self._need_app()
        builder = self.client.service_principals_with_app_id(str(self.app_id))
        body = service_principal_body(self.want.display_name)
        created = await self._retry(
            lambda: _lost_race_retry(lambda: builder.patch(body, _prefer_create()), self.say),
            f"application {self.want.name}",
            self.fresh_app,
        )
        if created is None or not created.id:
            created = await self._retry(
                lambda: builder.get(_select(builder, ["id", "appId"])), "service principal", True
            )
        self.sp_id = str(created.id).lower()
        self.fresh_sp = True

    # -- admin consent

    async def grant_delegated(self, action: Action) -> None:
        from provisioner import consent

        sp_id = self._need_sp()
        await self._retry(
            lambda: consent.grant_delegated(
                self.client,
                client_sp_id=sp_id,
                resource_sp_id=action.details["resource_id"],
                scopes=action.details["scopes"],
            ),
            "service principal",
            self.fresh_sp,
        )

    async def update_delegated_grant(self, action: Action) -> None:
        from provisioner import consent

        await consent.update_delegated_grant(
            self.client, action.details["grant_id"], action.details["scopes"]
        )

    async def revoke_delegated(self, action: Action) -> None:
        from provisioner import consent

        await consent.revoke_delegated(self.client, action.details["grant_id"])

    async def assign_app_role(self, action: Action) -> None:
        from provisioner import consent

        sp_id = self._need_sp()
        for role_id in action.details["app_role_ids"]:
            await self._retry(
                lambda role_id=role_id: consent.assign_app_role(
                    self.client,
                    principal_sp_id=sp_id,
                    resource_sp_id=action.details["resource_id"],
                    app_role_id=role_id,
                ),
                "service principal",
                self.fresh_sp,
            )

    async def revoke_app_role(self, action: Action) -> None:
        from provisioner import consent

        for assignment_id in action.details["assignment_ids"]:
            await consent.revoke_app_role(
                self.client, resource_sp_id=action.details["resource_id"], assignment_id=assignment_id
            )

    # -- secrets

    async def mint_secret(self, action: Action) -> None:
        from provisioner.secrets_graph import add_password

        secret = next(s for s in self.want.secrets if s.name == action.details["name"])
        object_id = self._need_app()
        minted = await self._retry(
            lambda: add_password(
                self.client, object_id, name=secret.name, expires=self.now + secret.lifetime
            ),
            f"application {self.want.name}",
            self.fresh_app,
        )
        self.minted.append(minted)

    async def remove_secret(self, action: Action) -> None:
        from provisioner.secrets_graph import remove_password

        await remove_password(self.client, self._need_app(), action.details["key_id"])

    # -- helpers

    def _need_sp(self) -> str:
        if not self.sp_id:
            raise GraphError(f"{self.want.name}: service principal id unknown (create it first)")
        return self.sp_id

    def _need_app(self) -> str:
        if not self.object_id:
            raise GraphError(f"{self.want.name}: application id unknown (create it first)")
        return self.object_id

    async def _retry(self, call: Callable[[], Any], waiting_for: str, enabled: bool = True) -> Any:
        from provisioner.graph.retry import retry_replication

        return await retry_replication(call, waiting_for=waiting_for, progress=self.say, enabled=enabled)

    def ids(self) -> AppIds | None:
        if not (self.app_id and self.object_id):
            return None
        return AppIds(app_id=self.app_id, object_id=self.object_id, sp_object_id=self.sp_id)


async def apply_plan(
    client: GraphServiceClient,
    plan: Plan,
    desired: Desired,
    state: TenantState,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    concurrency: int = CONCURRENCY,
) -> ApplyResult:
    """Execute ``plan``; returns ids of every desired app, secrets minted, and per-app failures.

    ``now`` anchors secret expiry (``endDateTime = now + expires_in``).
    Never raises for a Graph failure of one app (see :class:`ApplyResult`).
    """
    now = now or datetime.now(UTC)
    gate = asyncio.Semaphore(max(1, concurrency))
    runs = {
        name: _AppRun(client, want, state.apps.get(name), progress, now)
        for name, want in desired.apps.items()
    }

    async def one(name: str) -> None:
        actions = plan.for_app(name)
        if not actions:
            return
        async with gate:
            await runs[name].run(actions)

    names = list(runs)
    outcomes = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
    result = ApplyResult()
    for name, outcome in zip(names, outcomes, strict=True):
        run = runs[name]
        result.actions_done += run.done
        if run.minted:
            result.minted[name] = list(run.minted)
        ids = run.ids()
        if ids:
            result.apps[name] = ids
        if isinstance(outcome, ProvisionerError):
            result.errors.append(outcome)
        elif isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome  # KeyboardInterrupt, CancelledError: do not swallow
            result.errors.append(GraphError(f"{name}: unexpected {type(outcome).__name__}: {outcome}"))
    return result
