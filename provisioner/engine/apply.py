"""Execute a plan against Graph: apps side by side in ``$batch`` waves, each app's steps in order, idempotent.

Per app the order is fixed by dependencies: application -> service principal
-> admin consent (delegated grant, app role assignments; see
:mod:`provisioner.graph.consent`) -> client secrets (:mod:`provisioner.graph.passwords`).
Every action becomes one or a few Graph requests ("steps"). Apply runs in
waves: each wave takes, from every app, the steps that can be built with the
ids known so far (an app's steps up to the first one that needs the id of an
object created in this wave) and sends them as one chain per app through
:class:`provisioner.graph.batch.Batcher`, chained with ``dependsOn`` so Graph
keeps the order and skips (424) the rest of an app's chain when a step fails.
A fresh app therefore takes three waves (application; service principal;
consent and secrets), an update one, whatever the number of apps: 100 new
apps with consent and a secret are 500 writes in 27 ``$batch`` requests
(5 + 5 + 17) instead of ~700 one-by-one calls. The batcher paces the waves
with a per-run AIMD limit on batches in flight and honours ``Retry-After`` of
throttled steps.

Idempotency: applications are created with the upsert
``PATCH /applications(uniqueName='x')`` + ``Prefer: create-if-missing`` and
service principals with ``PATCH /servicePrincipals(appId='...')`` likewise, so
two concurrent or repeated runs can never create a second registration;
"already exists" (grants, assignments) and "already gone" (revocations,
removals) answers count as done. Objects created in this run are retried
through Entra's replication lag (:mod:`provisioner.graph.retry`), a step at a
time, without holding up other apps.

A failing app does not stop the others: secrets minted for other apps must
still reach their sinks (Graph shows a value once; a minted value is taken
from the ``addPassword`` answer the moment its batch returns). Failures are
collected in :attr:`ApplyResult.errors`; callers deliver ``minted`` first,
then call :meth:`ApplyResult.raise_for_errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import GraphError, ProvisionerError
from provisioner.core.progress import Progress
from provisioner.engine.planner import Action, Plan
from provisioner.graph import trace
from provisioner.graph.batch import AdaptiveLimiter, Batcher, Request, relative_url
from provisioner.graph.bodies import application_body, service_principal_body
from provisioner.graph.consent import scope_string
from provisioner.graph.failures import error_code, error_message, error_status, graph_errors
from provisioner.graph.retry import RetryPolicy, is_replication_lag
from provisioner.graph.state import graph_time, odata_quote
from provisioner.model.connections import (
    APPLICATION,
    SERVICE_PRINCIPAL,
    MintedCertificate,
    MintedSecret,
)
from provisioner.model.desired import Desired, DesiredApp
from provisioner.model.tenant import ALL_PRINCIPALS, ExistingApp, TenantState

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

    from provisioner.graph.batch import Outcome, Request
    from provisioner.graph.retry import RetryPolicy

CONCURRENCY = 8  # most $batch requests in flight (the ceiling of the run's adaptive limit)


@dataclass(frozen=True)
class AppIds:
    app_id: str
    object_id: str
    sp_object_id: str | None


@dataclass
class ApplyResult:
    apps: dict[str, AppIds] = field(default_factory=dict)
    minted: dict[str, list[MintedSecret]] = field(default_factory=dict)
    #: Certificates put on applications in this run (generated ones carry their private key).
    certificates: dict[str, list[MintedCertificate]] = field(default_factory=dict)
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

    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("Prefer", "create-if-missing")
    return config


def _select(builder: Any, fields: list[str]) -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
    return RequestConfiguration(query_parameters=qp_cls(select=fields))


def _alt_key(make: Callable[[str], Any], key: str) -> Any:
    """A builder addressed by an alternate key (``applications(uniqueName='x')``), safe to keep.

    msgraph-sdk's alternate-key builders write the key into the *client's* shared
    path-parameter dict and keep a reference to it, so creating the next one
    (another app's name) silently retargets every earlier builder and the
    RequestInformation it builds. Apply builds requests a wave after it creates
    the builders, for many apps: each gets its own copy.
    """
    builder = make(key)
    builder.path_parameters = dict(builder.path_parameters)
    return builder


def _lost_race(exc: BaseException) -> bool:
    """Another run (concurrent, or killed earlier) created the same uniqueName / appId key.

    Graph answers 400 "Another object with the same value for property uniqueName
    already exists." or 409 Request_MultipleObjectsWithSameKeyValue ("... is already
    in use") while that object is still replicating and our upsert cannot see it.
    """
    message = error_message(exc).lower()
    return error_status(exc) in (400, 409) and (
        "already exists" in message
        or "already in use" in message
        or error_code(exc) == "Request_MultipleObjectsWithSameKeyValue"
    )


def _already_exists(exc: BaseException) -> bool:
    """Graph: 400 "Permission being assigned already exists on the object." (a concurrent run won)."""
    return error_status(exc) in (400, 409) and "already exists" in error_message(exc).lower()


def _owner_exists(exc: BaseException) -> bool:
    """Graph: 400 "One or more added object references already exist ..." (the user already owns the app)."""
    return error_status(exc) == 400 and "already exist" in error_message(exc).lower()


def _gone(exc: BaseException) -> bool:
    return error_status(exc) == 404


# ---------------------------------------------------------------- steps


@dataclass
class _Step:
    """One Graph request of an action; built when the ids it needs are known."""

    action: Action
    build: Callable[[], Request]
    needs: str | None = None  # "app" (appId/object id) or "sp" (service principal id)
    # What Graph answers that counts as done although it is an error ("already exists"/"already gone").
    tolerate: Callable[[BaseException], bool] | None = None
    # Success handler: learns ids / keeps a minted secret; returns steps to run next (e.g. a GET after 204).
    done: Callable[[Outcome], list[_Step]] | None = None
    # Failure handler: steps that repair the failure (e.g. 409 on a grant -> find it, PATCH it), or None.
    recover: Callable[[Outcome], list[_Step] | None] | None = None
    # Transient failures retried through replication lag: (predicate, what is waited for), or None.
    lag: Callable[[], tuple[Callable[[BaseException], bool], str] | None] | None = None
    completes: bool = True  # the action is done when this step is
    # A read whose follow-up write depends on it (keyCredentials): never in one chain with another such
    # read, so the second read sees the first write (two certificates of one app, read-modify-write).
    barrier: bool = False
    attempts: int = 0
    first_failure: float = 0.0
    not_before: float = 0.0


class _AppRun:
    """One app's steps, in plan order, and the ids learned along the way."""

    def __init__(
        self,
        client: GraphServiceClient,
        want: DesiredApp,
        have: ExistingApp | None,
        progress: Progress | None,
        now: datetime,
        policy: RetryPolicy,
    ) -> None:
        self.client = client
        self.want = want
        self.have = have
        self.progress = progress
        self.now = now
        self.policy = policy
        self.app_id = have.app_id if have else None
        self.object_id = have.object_id if have else None
        self.sp_id = have.service_principal.object_id if have and have.service_principal else None
        self.fresh_app = False  # created in this run: retried through replication lag
        self.fresh_sp = False
        self.minted: list[MintedSecret] = []
        self.certificates: list[MintedCertificate] = []
        self.done = 0
        self.pending: list[_Step] = []
        self.error: ProvisionerError | None = None

    @property
    def name(self) -> str:
        return self.want.name

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"{self.name}: {message}")

    def plan(self, actions: list[Action]) -> None:
        for action in actions:
            make = getattr(self, f"_{action.kind}", None)
            if make is None:
                self.error = GraphError(f"{self.name}: apply does not know how to {action.kind!r}")
                return
            self.pending += make(action)

    def ids(self) -> AppIds | None:
        if not (self.app_id and self.object_id):
            return None
        return AppIds(app_id=self.app_id, object_id=self.object_id, sp_object_id=self.sp_id)

    # -- a wave

    def ready(self, now: float) -> list[_Step]:
        """The steps that can go out now: in order, up to the first that waits (for an id or a retry)."""
        chain: list[_Step] = []
        if self.error is not None:
            return chain
        for step in self.pending:
            if step.not_before > now or (step.needs == "app" and not (self.app_id and self.object_id)):
                break
            if step.needs == "sp" and not self.sp_id:
                break
            if step.barrier and any(c.barrier for c in chain):
                break
            chain.append(step)
        if not chain and self.pending and self.pending[0].not_before <= now:
            # Due, but the id it needs was never learned (nothing of this app is in flight between waves).
            step = self.pending[0]
            what = "service principal" if step.needs == "sp" else "application"
            self.error = GraphError(
                f"{self.name}: {step.action.summary}: {what} id unknown (create it first)"
            )
        return chain

    def next_attempt(self) -> float | None:
        if self.error is not None or not self.pending:
            return None
        return self.pending[0].not_before

    async def settle(self, chain: list[_Step], outcomes: list[Outcome]) -> None:
        """Record a chain's answers in order, up to the first error answer.

        Graph ran the chain in order (``dependsOn``) and skipped (424) everything
        after an error answer, also after one that counts as done ("already
        exists"): those steps stay pending for the next wave. Every 2xx answer
        is recorded, even after a step that added follow-up steps (a GET for
        ids after a 204, the PATCH of a grant found after a 409): the steps
        after it ran, and a minted secret among them must be kept, not minted
        again. Follow-ups take their step's place and go out in the next wave.
        """
        for step, outcome in zip(chain, outcomes, strict=True):
            if not await self._settle_one(step, outcome):
                return

    async def _settle_one(self, step: _Step, outcome: Outcome) -> bool:
        error = outcome.error
        tolerated = error is not None and step.tolerate is not None and step.tolerate(error)
        if (error is None and outcome.status < 400) or tolerated:
            follow = step.done(outcome) if step.done and outcome.ok else []
            if self.error is not None:  # the answer itself was unusable (e.g. no secret value)
                return False
            if step.attempts and step.lag is not None:
                lag = step.lag()
                what = lag[1] if lag else "object"
                waited = time.monotonic() - step.first_failure
                self.say(f"waited {waited:.1f} s for the new {what} to replicate ({step.attempts} retries)")
            index = self.pending.index(step)
            if follow and step.completes:
                follow[-1].completes = True
                for extra in follow[:-1]:
                    extra.completes = False
            self.pending[index : index + 1] = follow
            if step.completes and not follow:
                self.done += 1
                self.say(step.action.summary)
            return outcome.ok
        assert error is not None
        if step.recover is not None:
            repair = step.recover(outcome)
            if repair:
                for extra in repair:
                    extra.completes = False
                repair[-1].completes = step.completes
                index = self.pending.index(step)
                self.pending[index : index + 1] = repair
                return False
        lag = step.lag() if step.lag else None
        now = time.monotonic()
        if lag is not None and lag[0](error):
            if not step.attempts:
                step.first_failure = now
            remaining = step.first_failure + self.policy.replication_timeout - now
            if remaining > 0:
                step.attempts += 1
                delay = self.policy.backoff(step.attempts) + self.policy.replication_first_delay / 2
                step.not_before = now + min(remaining, delay)
                return False
        await self._fail(step, outcome)
        return False

    async def _fail(self, step: _Step, outcome: Outcome) -> None:
        """Map the error as every Graph call is mapped (one line, 403 names the missing permission)."""
        label = f"{self.name}: {step.action.summary}"
        try:
            async with graph_errors(label):
                if outcome.status == 403:
                    info = step.build().info
                    method = getattr(info.http_method, "name", str(info.http_method))
                    trace.note_refusal(method, relative_url(info.url).split("?")[0])
                outcome.result()
                raise GraphError(f"{label}: Graph answered {outcome.status}")
        except ProvisionerError as exc:
            self.error = exc
        except Exception as exc:  # not a Graph/transport error: still only this app's failure
            self.error = GraphError(f"{label}: unexpected {type(exc).__name__}: {exc}")

    # -- lag policies

    def _lag_if(self, fresh: Callable[[], bool], what: str) -> Callable[[], Any]:
        return lambda: (is_replication_lag, what) if fresh() else None

    def _race_or_lag(self, fresh: Callable[[], bool], what: str) -> Callable[[], Any]:
        """Lost races always (the other run's object becomes visible); lag only for fresh objects."""

        def transient(exc: BaseException) -> bool:
            return _lost_race(exc) or (fresh() and is_replication_lag(exc))

        return lambda: (transient, what)

    # -- application and service principal

    def _create_app(self, action: Action) -> list[_Step]:
        return [self._upsert_app(action, created=True)]

    def _update_app(self, action: Action) -> list[_Step]:
        return [self._upsert_app(action, created=False)]

    def _upsert_app(self, action: Action, *, created: bool) -> _Step:
        # The SDK body is built when the request goes out, not here: kept from planning to the wave
        # that sends it, a 5,000-app apply held every app's model at once (tens of MB).
        def body() -> Any:
            return application_body(self.want, self.have)

        have = self.have
        if have is not None and (have.unique_name or "").lower() != self.want.name.lower():
            # adopted registration (no uniqueName, or one that is not this name): PATCH by object id,
            # an upsert by this name would create a second registration
            builder = self.client.applications.by_application_id(have.object_id)
            return _Step(action, lambda: Request(builder.to_patch_request_information(body()), None))
        upsert = _alt_key(self.client.applications_with_unique_name, self.want.name)

        def done(outcome: Outcome) -> list[_Step]:
            app = outcome.value
            if isinstance(app, dict) and app.get("id"):  # 201: created now
                self.object_id, self.app_id = str(app["id"]).lower(), str(app["appId"]).lower()
                self.fresh_app = self.fresh_app or created
                return []
            if self.object_id and self.app_id:  # 204: updated the app we read
                return []
            # 204 although planned as create: a concurrent run created it; learn its ids
            return [
                _Step(
                    action,
                    lambda: Request(upsert.to_get_request_information(_select(upsert, ["id", "appId"]))),
                    done=learn,
                    lag=self._lag_if(lambda: True, f"application {self.name}"),
                )
            ]

        def learn(outcome: Outcome) -> list[_Step]:
            app = outcome.value or {}
            self.object_id, self.app_id = str(app["id"]).lower(), str(app["appId"]).lower()
            return []

        return _Step(
            action,
            lambda: Request(upsert.to_patch_request_information(body(), _prefer_create())),
            done=done,
            lag=self._race_or_lag(lambda: False, "object another run created"),
        )

    def _create_service_principal(self, action: Action) -> list[_Step]:
        def builder() -> Any:
            return _alt_key(self.client.service_principals_with_app_id, str(self.app_id))

        def done(outcome: Outcome) -> list[_Step]:
            sp = outcome.value
            if isinstance(sp, dict) and sp.get("id"):
                self.sp_id = str(sp["id"]).lower()
                self.fresh_sp = True
                return []
            return [  # 204: it exists already (a concurrent run): learn its id
                _Step(
                    action,
                    lambda: Request(
                        builder().to_get_request_information(_select(builder(), ["id", "appId"]))
                    ),
                    needs="app",
                    done=learn,
                    lag=self._lag_if(lambda: True, "service principal"),
                )
            ]

        def learn(outcome: Outcome) -> list[_Step]:
            self.sp_id = str((outcome.value or {})["id"]).lower()
            self.fresh_sp = True
            return []

        return [
            _Step(
                action,
                lambda: Request(
                    builder().to_patch_request_information(
                        service_principal_body(
                            self.want.display_name,
                            assignment_required=bool(action.details.get("assignment_required")),
                        ),
                        _prefer_create(),
                    )
                ),
                needs="app",
                done=done,
                lag=self._race_or_lag(lambda: self.fresh_app, f"application {self.name}"),
            )
        ]

    # -- admin consent

    def _grant_delegated(self, action: Action) -> list[_Step]:
        from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

        resource_id = action.details["resource_id"]
        scopes = action.details["scopes"]

        def build() -> Request:
            body = OAuth2PermissionGrant(
                client_id=self.sp_id,
                consent_type=ALL_PRINCIPALS,
                resource_id=resource_id,
                scope=scope_string(scopes),
            )
            return Request(self.client.oauth2_permission_grants.to_post_request_information(body), None)

        def recover(outcome: Outcome) -> list[_Step] | None:
            if outcome.status != 409:
                return None
            # A concurrent run created the grant first ("Permission entry already exists."): set its scope.
            return [self._find_grant(action, resource_id, scopes)]

        return [
            _Step(
                action,
                build,
                needs="sp",
                recover=recover,
                lag=self._lag_if(lambda: self.fresh_sp, "service principal"),
            )
        ]

    def _find_grant(self, action: Action, resource_id: str, scopes: list[str]) -> _Step:
        def build() -> Request:
            from kiota_abstractions.base_request_configuration import RequestConfiguration

            builder = self.client.oauth2_permission_grants
            qp_cls = type(builder).Oauth2PermissionGrantsRequestBuilderGetQueryParameters
            query = qp_cls(filter=f"clientId eq {odata_quote(str(self.sp_id))}")
            info = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
            return Request(info)

        def done(outcome: Outcome) -> list[_Step]:
            for grant in (outcome.value or {}).get("value") or []:
                if (
                    str(grant.get("resourceId")).lower() == resource_id.lower()
                    and grant.get("consentType") == ALL_PRINCIPALS
                ):
                    return [self._patch_grant(action, str(grant["id"]), scopes)]
            self.error = GraphError(
                f"{self.name}: {action.summary}: Graph said the grant exists but it cannot be found; re-run apply"
            )
            return []

        return _Step(action, build, needs="sp", done=done)

    def _patch_grant(self, action: Action, grant_id: str, scopes: list[str]) -> _Step:
        from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

        builder = self.client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id)
        body = OAuth2PermissionGrant(scope=scope_string(scopes))
        return _Step(action, lambda: Request(builder.to_patch_request_information(body), None))

    def _update_delegated_grant(self, action: Action) -> list[_Step]:
        return [self._patch_grant(action, action.details["grant_id"], action.details["scopes"])]

    def _revoke_delegated(self, action: Action) -> list[_Step]:
        builder = self.client.oauth2_permission_grants.by_o_auth2_permission_grant_id(
            action.details["grant_id"]
        )
        return [_Step(action, lambda: Request(builder.to_delete_request_information(), None), tolerate=_gone)]

    def _assign_app_role(self, action: Action) -> list[_Step]:
        from uuid import UUID

        from msgraph.generated.models.app_role_assignment import AppRoleAssignment

        resource_id = action.details["resource_id"]
        assigned_to = self.client.service_principals.by_service_principal_id(resource_id).app_role_assigned_to
        steps: list[_Step] = []
        role_ids = list(action.details["app_role_ids"])
        for index, role_id in enumerate(role_ids):

            def build(role_id: str = role_id) -> Request:
                body = AppRoleAssignment(
                    principal_id=UUID(str(self.sp_id)),
                    resource_id=UUID(resource_id),
                    app_role_id=UUID(role_id),
                )
                return Request(assigned_to.to_post_request_information(body), None)

            steps.append(
                _Step(
                    action,
                    build,
                    needs="sp",
                    tolerate=_already_exists,
                    lag=self._lag_if(lambda: self.fresh_sp, "service principal"),
                    completes=index == len(role_ids) - 1,
                )
            )
        return steps

    def _revoke_app_role(self, action: Action) -> list[_Step]:
        assigned_to = self.client.service_principals.by_service_principal_id(
            action.details["resource_id"]
        ).app_role_assigned_to
        ids = list(action.details["assignment_ids"])

        def delete(assignment_id: str) -> Callable[[], Request]:
            builder = assigned_to.by_app_role_assignment_id(assignment_id)
            return lambda: Request(builder.to_delete_request_information(), None)

        return [
            _Step(
                action,
                delete(assignment_id),
                tolerate=_gone,
                completes=index == len(ids) - 1,
            )
            for index, assignment_id in enumerate(ids)
        ]

    # -- user and group assignment

    def _update_service_principal(self, action: Action) -> list[_Step]:
        from msgraph.generated.models.service_principal import ServicePrincipal

        body = ServicePrincipal(app_role_assignment_required=bool(action.details["assignment_required"]))

        def build() -> Request:
            builder = self.client.service_principals.by_service_principal_id(str(self.sp_id))
            return Request(builder.to_patch_request_information(body), None)

        return [
            _Step(action, build, needs="sp", lag=self._lag_if(lambda: self.fresh_sp, "service principal"))
        ]

    def _assign_principal(self, action: Action) -> list[_Step]:
        """The user or group gets a role (default access) on the app's own service principal."""
        from uuid import UUID

        from msgraph.generated.models.app_role_assignment import AppRoleAssignment

        def build() -> Request:
            body = AppRoleAssignment(
                principal_id=UUID(action.details["principal_id"]),
                resource_id=UUID(str(self.sp_id)),
                app_role_id=UUID(action.details["app_role_id"]),
            )
            builder = self.client.service_principals.by_service_principal_id(str(self.sp_id))
            return Request(builder.app_role_assigned_to.to_post_request_information(body), None)

        return [
            _Step(
                action,
                build,
                needs="sp",
                tolerate=_already_exists,
                lag=self._lag_if(lambda: self.fresh_sp, "service principal"),
            )
        ]

    def _remove_assignment(self, action: Action) -> list[_Step]:
        def build() -> Request:
            builder = self.client.service_principals.by_service_principal_id(
                str(self.sp_id)
            ).app_role_assigned_to.by_app_role_assignment_id(action.details["assignment_id"])
            return Request(builder.to_delete_request_information(), None)

        return [_Step(action, build, needs="sp", tolerate=_gone)]

    # -- owners

    def _add_owner(self, action: Action) -> list[_Step]:
        """``POST applications/{id}/owners/$ref`` naming the user as a directory object."""
        from msgraph.generated.models.reference_create import ReferenceCreate

        def build() -> Request:
            base = str(self.client.request_adapter.base_url).rstrip("/")
            body = ReferenceCreate(odata_id=f"{base}/directoryObjects/{action.details['owner_id']}")
            builder = self.client.applications.by_application_id(str(self.object_id)).owners.ref
            return Request(builder.to_post_request_information(body), None)

        return [
            _Step(
                action,
                build,
                needs="app",
                tolerate=_owner_exists,
                lag=self._lag_if(lambda: self.fresh_app, "application"),
            )
        ]

    def _remove_owner(self, action: Action) -> list[_Step]:
        def build() -> Request:
            builder = (
                self.client.applications.by_application_id(str(self.object_id))
                .owners.by_directory_object_id(action.details["owner_id"])
                .ref
            )
            return Request(builder.to_delete_request_information(), None)

        return [_Step(action, build, needs="app", tolerate=_gone)]

    # -- secrets

    def _mint_secret(self, action: Action) -> list[_Step]:
        return self._mint_password(action, APPLICATION)

    def _mint_sp_secret(self, action: Action) -> list[_Step]:
        return self._mint_password(action, SERVICE_PRINCIPAL)

    def _mint_password(self, action: Action, owner: str) -> list[_Step]:
        """addPassword on the application or (``owner`` SERVICE_PRINCIPAL) on its service principal."""
        from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
            AddPasswordPostRequestBody,
        )
        from msgraph.generated.models.password_credential import PasswordCredential

        from provisioner.graph.passwords import password_builder

        on_sp = owner == SERVICE_PRINCIPAL
        specs = self.want.sp_secrets if on_sp else self.want.secrets
        secret = next(s for s in specs if s.name == action.details["name"])
        expires = (self.now + secret.lifetime).astimezone(UTC)

        def owner_id() -> str:
            return str(self.sp_id if on_sp else self.object_id)

        def build() -> Request:
            body = AddPasswordPostRequestBody(
                password_credential=PasswordCredential(display_name=secret.name, end_date_time=expires)
            )
            builder = password_builder(self.client, owner, owner_id()).add_password
            return Request(builder.to_post_request_information(body))

        def done(outcome: Outcome) -> list[_Step]:
            created = outcome.value if isinstance(outcome.value, dict) else {}
            value, key_id = created.get("secretText"), created.get("keyId")
            if not value or not key_id:
                self.error = GraphError(
                    f"{self.name}: mint secret {secret.name!r}: Graph returned no secret value", status=200
                )
                return []
            self.minted.append(
                MintedSecret(
                    name=secret.name,
                    key_id=str(key_id),
                    value=value,
                    hint=created.get("hint") or value[:3],
                    expires=graph_time(created.get("endDateTime")) or expires,
                    owner=owner,
                    owner_id=owner_id(),
                )
            )
            return []

        fresh, what = (
            (lambda: self.fresh_sp, f"service principal of {self.name}")
            if on_sp
            else (lambda: self.fresh_app, f"application {self.name}")
        )
        return [
            _Step(
                action,
                build,
                needs="sp" if on_sp else "app",
                done=done,
                lag=self._lag_if(fresh, what),
            )
        ]

    # -- certificates (keyCredentials: read, then PATCH the whole collection; see graph.certificates)

    def _mint_certificate(self, action: Action) -> list[_Step]:
        import secrets as token
        from pathlib import Path
        from uuid import uuid4

        from provisioner.graph import certificates as keys
        from provisioner.model.x509 import generate, load_public

        cert = next(c for c in self.want.certificates or () if c.name == action.details["name"])
        source = action.details.get("file")
        if source:
            material = load_public(Path(source))  # validate and plan read it already; the file may change
        else:
            start = self.now.astimezone(UTC)
            material = generate(cert.subject or self.want.name, cert.key_size, start, start + cert.lifetime)
        key_id = str(uuid4())
        entry = keys.new_credential(key_id, cert.name, material.der)

        def read() -> Request:
            return Request(keys.read_request(self.client, str(self.object_id)))

        def write(existing: list[dict[str, Any]]) -> _Step:
            body = keys.patch_body(existing, add=[entry])
            return _Step(
                action,
                lambda: Request(keys.write_request(self.client, str(self.object_id), body), None),
                needs="app",
                done=kept,
            )

        def have_read(outcome: Outcome) -> list[_Step]:
            found = (outcome.value or {}).get("keyCredentials") or []
            return [write(list(found))]

        def kept(outcome: Outcome) -> list[_Step]:
            self.certificates.append(
                MintedCertificate(
                    name=cert.name,
                    key_id=key_id,
                    thumbprint=material.thumbprint,
                    expires=material.not_after,
                    material=material,
                    provided=bool(source),
                    pfx_password=token.token_urlsafe(24) if cert.pfx and not source else None,
                )
            )
            return []

        return [
            _Step(
                action,
                read,
                needs="app",
                done=have_read,
                lag=self._lag_if(lambda: self.fresh_app, f"application {self.name}"),
                barrier=True,
            )
        ]

    def _remove_certificate(self, action: Action) -> list[_Step]:
        from provisioner.graph import certificates as keys

        def read() -> Request:
            return Request(keys.read_request(self.client, str(self.object_id)))

        def have_read(outcome: Outcome) -> list[_Step]:
            found = list((outcome.value or {}).get("keyCredentials") or [])
            if not any(str(e.get("keyId")).lower() == action.details["key_id"].lower() for e in found):
                return []  # already gone (a concurrent run)
            body = keys.patch_body(found, drop=[action.details["key_id"]])
            return [
                _Step(
                    action,
                    lambda: Request(keys.write_request(self.client, str(self.object_id), body), None),
                    needs="app",
                )
            ]

        return [_Step(action, read, needs="app", done=have_read, barrier=True)]

    # -- federated identity credentials

    def _federated_builder(self) -> Any:
        return self.client.applications.by_application_id(str(self.object_id)).federated_identity_credentials

    def _federated_model(self, name: str, *, with_name: bool) -> Any:
        from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential

        cred = next(c for c in self.want.federated_credentials or () if c.name == name)
        return FederatedIdentityCredential(
            name=cred.name if with_name else None,
            issuer=cred.issuer,
            subject=cred.subject,
            audiences=list(cred.audiences),
            description=cred.description,
        )

    def _create_federated_credential(self, action: Action) -> list[_Step]:
        body = self._federated_model(action.details["name"], with_name=True)

        def build() -> Request:
            return Request(self._federated_builder().to_post_request_information(body), None)

        return [
            _Step(
                action,
                build,
                needs="app",
                lag=self._lag_if(lambda: self.fresh_app, f"application {self.name}"),
            )
        ]

    def _update_federated_credential(self, action: Action) -> list[_Step]:
        body = self._federated_model(action.details["name"], with_name=False)

        def build() -> Request:
            builder = self._federated_builder().by_federated_identity_credential_id(action.details["id"])
            return Request(builder.to_patch_request_information(body), None)

        return [_Step(action, build, needs="app")]

    def _remove_federated_credential(self, action: Action) -> list[_Step]:
        def build() -> Request:
            builder = self._federated_builder().by_federated_identity_credential_id(action.details["id"])
            return Request(builder.to_delete_request_information(), None)

        return [_Step(action, build, needs="app", tolerate=_gone)]

    def _remove_secret(self, action: Action) -> list[_Step]:
        from uuid import UUID

        from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
            RemovePasswordPostRequestBody,
        )

        body = RemovePasswordPostRequestBody(key_id=UUID(action.details["key_id"]))

        def build() -> Request:
            builder = self.client.applications.by_application_id(str(self.object_id)).remove_password
            return Request(builder.to_post_request_information(body), None)

        return [_Step(action, build, needs="app", tolerate=_gone)]


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
    ``concurrency`` caps the ``$batch`` requests in flight (the adaptive limit
    starts at half of it and halves on throttling). Never raises for a Graph
    failure of one app (see :class:`ApplyResult`).
    """

    now = now or datetime.now(UTC)
    policy = RetryPolicy.from_env()
    runs = {
        name: _AppRun(client, want, state.apps.get(name), progress, now, policy)
        for name, want in desired.apps.items()
    }
    grouped = plan.by_app()
    for name, run in runs.items():
        run.plan(grouped.get(name, []))
    batcher = Batcher(
        client, limiter=AdaptiveLimiter(maximum=concurrency), policy=policy, on_wait=progress, label="apply"
    )
    await _waves(batcher, list(runs.values()))
    return _result(runs)


async def _waves(batcher: Any, runs: list[_AppRun]) -> None:
    while True:
        moment = time.monotonic()
        members = [(run, chain) for run in runs if (chain := run.ready(moment))]
        if not members:
            waits = [t for run in runs if (t := run.next_attempt()) is not None]
            if not waits:
                return
            await asyncio.sleep(max(0.0, min(waits) - moment))
            continue
        built: list[tuple[_AppRun, list[_Step], list[Request]]] = []
        for run, chain in members:
            try:
                built.append((run, chain, [step.build() for step in chain]))
            except Exception as exc:  # a request that cannot be built (bad ids): that app fails
                run.error = GraphError(f"{run.name}: {chain[0].action.summary}: {exc}")
        outcomes = await batcher.run([requests for _, _, requests in built])
        for (run, chain, _), answers in zip(built, outcomes, strict=True):
            try:
                await run.settle(chain, answers)
            except Exception as exc:  # a bug handling one app's answers must not lose the others' secrets
                run.error = GraphError(
                    f"{run.name}: {chain[0].action.summary}: unexpected {type(exc).__name__}: {exc}"
                )


def _result(runs: dict[str, _AppRun]) -> ApplyResult:
    result = ApplyResult()
    for name, run in runs.items():
        result.actions_done += run.done
        if run.minted:
            result.minted[name] = list(run.minted)
        if run.certificates:
            result.certificates[name] = list(run.certificates)
        ids = run.ids()
        if ids:
            result.apps[name] = ids
        if run.error is not None:
            result.errors.append(run.error)
    return result
