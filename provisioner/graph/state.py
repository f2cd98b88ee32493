"""Read the part of a tenant that a plan needs, in few round trips.

Everything is returned as plain dataclasses (never SDK models) so the planner
stays pure and unit-testable without the SDK.

Round trips (sequential rounds; requests inside a round run concurrently):

1. resource service principals ``$filter=appId in (...)`` (Graph, Exchange
   Online and every other resource the manifest names; 15 values per request)
   + applications ``$filter=uniqueName in (...)`` (15 per request) + one
   ``appId eq`` / ``displayName eq`` lookup per app that declares ``app_id`` or
   ``adopt`` and has no uniqueName match yet (+ ``GET /organization`` when
   the tenant ID is not known up front, e.g. DefaultAzureCredential without
   ``--tenant``).
2. client service principals ``$filter=appId in (...)`` (15 per request) +
   service principals of resources that existing apps still request but the
   manifest no longer names (needed to revoke them).
3. delegated grants and app role assignments: per resource
   (``oauth2PermissionGrants?$filter=resourceId eq`` and
   ``servicePrincipals/{id}/appRoleAssignedTo``) when there are more client
   service principals than resources, else per client
   (``oauth2PermissionGrants?$filter=clientId eq`` and
   ``servicePrincipals/{id}/appRoleAssignments``).

So a plan of N apps against R resources costs 3 rounds and about
``ceil(R/15) + 2*ceil(N/15) + min(2R, 2N)`` requests (plus paging and the
token request): 19 requests for 100 apps on Graph + Exchange, which ``$batch``
(20 per batch) can later fold into 3 HTTP round trips.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from provisioner.manifest.model import App

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

MANAGED_TAG = "provisioner:managed"
"""Ownership marker added to every application the tool manages.

Only applications carrying it have undeclared secrets removed; an adopted
registration gets it on its first apply.
"""

IN_CHUNK = 15  # Graph caps `in (...)` filters on directory objects at 15 values
PAGE_SIZE = 999
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

T = TypeVar("T")


@dataclass(frozen=True)
class ResourceSP:
    id: str
    app_id: str
    display_name: str
    scopes: dict[str, str] = field(default_factory=dict)  # value -> id
    roles: dict[str, str] = field(default_factory=dict)  # value -> id

    def scope_name(self, scope_id: str) -> str:
        return next((v for v, i in self.scopes.items() if i == scope_id), scope_id)

    def role_name(self, role_id: str) -> str:
        return next((v for v, i in self.roles.items() if i == role_id), role_id)


@dataclass(frozen=True)
class ExistingSecret:
    key_id: str
    display_name: str | None
    hint: str | None
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class ExistingSP:
    object_id: str
    app_id: str


@dataclass(frozen=True)
class Grant:
    id: str
    client_id: str
    resource_id: str
    consent_type: str
    principal_id: str | None
    scopes: frozenset[str]


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    principal_id: str
    resource_id: str
    app_role_id: str


@dataclass
class ExistingApp:
    object_id: str
    app_id: str
    unique_name: str | None
    display_name: str
    sign_in_audience: str | None = None
    web_redirect_uris: list[str] = field(default_factory=list)
    spa_redirect_uris: list[str] = field(default_factory=list)
    public_client_redirect_uris: list[str] = field(default_factory=list)
    implicit_access_tokens: bool = False
    implicit_id_tokens: bool = False
    # not managed, but carried along: PATCHing `web` replaces the whole complex value
    web_home_page_url: str | None = None
    web_logout_url: str | None = None
    is_fallback_public_client: bool = False
    required_resource_access: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    requested_access_token_version: int | None = None
    owners: list[str] | None = None  # not read yet (needs $expand); None = unknown
    secrets: list[ExistingSecret] = field(default_factory=list)
    service_principal: ExistingSP | None = None
    delegated_grants: list[Grant] = field(default_factory=list)
    role_assignments: list[RoleAssignment] = field(default_factory=list)

    @property
    def managed(self) -> bool:
        return MANAGED_TAG in self.tags


@dataclass
class TenantState:
    tenant_id: str | None
    resources: dict[str, ResourceSP]  # by appId
    apps: dict[str, ExistingApp | None]  # by manifest name
    resource_keys: dict[str, str] = field(default_factory=dict)  # manifest resource key -> appId
    requests: int = 0  # Graph requests made while reading (for the round-trip budget)

    def resource_by_id(self, object_id: str) -> ResourceSP | None:
        return next((r for r in self.resources.values() if r.id == object_id), None)


# ---------------------------------------------------------------- helpers


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def resource_app_id_for_key(key: str) -> str | None:
    """appId for a manifest resource key that needs no lookup: a GUID, or a bundled name/alias.

    Other names are looked up by displayName in the tenant.
    """
    from provisioner.catalog import resolve_resource

    if is_guid(key.strip()):
        return key.strip().lower()
    bundled = resolve_resource(key)
    return bundled.app_id.lower() if bundled else None


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def in_filter(prop: str, values: Sequence[str]) -> str:
    return f"{prop} in ({', '.join(odata_quote(v) for v in values)})"


def chunked(values: Sequence[T], size: int = IN_CHUNK) -> list[list[T]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def _s(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---------------------------------------------------------------- SDK model -> dataclass


def resource_from_sdk(sp: Any) -> ResourceSP:
    scopes: dict[str, str] = {}
    for scope in sp.oauth2_permission_scopes or []:
        if scope.value and scope.is_enabled is not False:
            scopes.setdefault(scope.value, str(scope.id).lower())
    roles: dict[str, str] = {}
    for role in sp.app_roles or []:
        if role.value and role.is_enabled is not False:
            roles.setdefault(role.value, str(role.id).lower())
    return ResourceSP(
        id=str(sp.id).lower(),
        app_id=str(sp.app_id).lower(),
        display_name=sp.display_name or str(sp.app_id),
        scopes=scopes,
        roles=roles,
    )


def app_from_sdk(app: Any) -> ExistingApp:
    web = app.web
    implicit = web.implicit_grant_settings if web else None
    rra: dict[str, set[tuple[str, str]]] = {}
    for entry in app.required_resource_access or []:
        bucket = rra.setdefault(str(entry.resource_app_id).lower(), set())
        for access in entry.resource_access or []:
            bucket.add((str(access.id).lower(), access.type or "Scope"))
    secrets = [
        ExistingSecret(
            key_id=str(p.key_id).lower(),
            display_name=p.display_name,
            hint=p.hint,
            start=_utc(p.start_date_time),
            end=_utc(p.end_date_time),
        )
        for p in app.password_credentials or []
    ]
    return ExistingApp(
        object_id=str(app.id).lower(),
        app_id=str(app.app_id).lower(),
        unique_name=app.unique_name,
        display_name=app.display_name or "",
        sign_in_audience=app.sign_in_audience,
        web_redirect_uris=list(web.redirect_uris or []) if web else [],
        spa_redirect_uris=list(app.spa.redirect_uris or []) if app.spa else [],
        public_client_redirect_uris=list(app.public_client.redirect_uris or []) if app.public_client else [],
        implicit_access_tokens=bool(implicit and implicit.enable_access_token_issuance),
        implicit_id_tokens=bool(implicit and implicit.enable_id_token_issuance),
        web_home_page_url=web.home_page_url if web else None,
        web_logout_url=web.logout_url if web else None,
        is_fallback_public_client=bool(app.is_fallback_public_client),
        required_resource_access={k: frozenset(v) for k, v in rra.items()},
        notes=app.notes,
        tags=list(app.tags or []),
        requested_access_token_version=app.api.requested_access_token_version if app.api else None,
        secrets=secrets,
    )


def grant_from_sdk(grant: Any) -> Grant:
    return Grant(
        id=str(grant.id),
        client_id=str(grant.client_id).lower(),
        resource_id=str(grant.resource_id).lower(),
        consent_type=grant.consent_type or "",
        principal_id=_s(grant.principal_id),
        scopes=frozenset((grant.scope or "").split()),
    )


def assignment_from_sdk(assignment: Any) -> RoleAssignment:
    return RoleAssignment(
        id=str(assignment.id),
        principal_id=str(assignment.principal_id).lower(),
        resource_id=str(assignment.resource_id).lower(),
        app_role_id=str(assignment.app_role_id).lower(),
    )


# ---------------------------------------------------------------- reading

APP_SELECT = [
    "id",
    "appId",
    "uniqueName",
    "displayName",
    "signInAudience",
    "web",
    "spa",
    "publicClient",
    "isFallbackPublicClient",
    "requiredResourceAccess",
    "notes",
    "tags",
    "api",
    "passwordCredentials",
]
RESOURCE_SELECT = ["id", "appId", "displayName", "oauth2PermissionScopes", "appRoles"]
CLIENT_SP_SELECT = ["id", "appId", "displayName"]


class _Reader:
    """Paged list calls with request counting; errors mapped by :func:`graph_errors`."""

    def __init__(self, client: GraphServiceClient) -> None:
        self.client = client
        self.requests = 0

    async def list_all(self, builder: Any, **query: Any) -> list[Any]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        # Every generated list builder nests its own `<Builder>GetQueryParameters` dataclass.
        qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
        config = RequestConfiguration(query_parameters=qp_cls(**query))
        self.requests += 1
        page = await builder.get(request_configuration=config)
        items = list(page.value or []) if page else []
        while page is not None and page.odata_next_link:
            self.requests += 1
            page = await builder.with_url(page.odata_next_link).get()
            items.extend(page.value or [] if page else [])
        return items


async def _gather(calls: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*calls))


async def read_state(
    client: GraphServiceClient,
    apps: Sequence[Any],
    *,
    tenant_id: str | None = None,
    per_client_threshold: int | None = None,
) -> TenantState:
    """Read resources, applications, service principals, grants and role assignments for ``apps``.

    ``apps`` are manifest ``App`` objects or the loader's ``LoadedApp`` wrappers.
    ``tenant_id`` None (normally :func:`~provisioner.graph.connect.graph_client` has
    already filled ``target.tenant_id`` from the token): read from ``/organization``
    in the same round, if the credential may.

    ``per_client_threshold`` forces the grant/assignment strategy (tests); by
    default per-client reads are used while they need fewer requests.
    """
    from provisioner.graph.errors import graph_errors

    async with graph_errors("read tenant state"):
        return await _read_state(client, apps, tenant_id, per_client_threshold)


async def _read_state(
    client: GraphServiceClient,
    apps: Sequence[Any],
    tenant_id: str | None,
    per_client_threshold: int | None,
) -> TenantState:
    reader = _Reader(client)
    apps = [getattr(a, "app", a) for a in apps]  # App or the loader's LoadedApp

    # -- round 1: resources named by the manifest, applications by uniqueName (+ adoption lookups)
    keys = sorted({key for app in apps for key in app.permissions})
    resource_keys: dict[str, str] = {}
    by_name: list[str] = []
    for key in keys:
        app_id = resource_app_id_for_key(key)
        if app_id:
            resource_keys[key] = app_id
        else:
            by_name.append(key)
    resource_app_ids = sorted(set(resource_keys.values()))
    names = [app.name for app in apps]

    async def resources_by_app_id(app_ids: list[str]) -> list[Any]:
        return await reader.list_all(
            client.service_principals, filter=in_filter("appId", app_ids), select=RESOURCE_SELECT
        )

    async def resources_by_name(display_names: list[str]) -> list[Any]:
        return await reader.list_all(
            client.service_principals, filter=in_filter("displayName", display_names), select=RESOURCE_SELECT
        )

    async def apps_by_unique_name(chunk: list[str]) -> list[Any]:
        return await reader.list_all(
            client.applications, filter=in_filter("uniqueName", chunk), select=APP_SELECT, top=PAGE_SIZE
        )

    round1: list[Awaitable[list[Any]]] = []
    round1 += [resources_by_app_id(c) for c in chunked(resource_app_ids)]
    round1 += [resources_by_name(c) for c in chunked(by_name)]
    n_res = len(round1)
    round1 += [apps_by_unique_name(c) for c in chunked(names)]
    n_apps = len(round1)
    # Adoption: an app_id/adopt app without a uniqueName match is looked up in the same round.
    adopt_apps = [a for a in apps if a.app_id or a.adopt]
    for app in adopt_apps:
        flt = (
            f"appId eq {odata_quote(app.app_id)}"
            if app.app_id
            else f"displayName eq {odata_quote(app.display_name)}"
        )
        round1.append(reader.list_all(client.applications, filter=flt, select=APP_SELECT))
    n_adopt = len(round1)
    if tenant_id is None:
        # --tenant not given: learn the credential's home tenant in the same round.
        round1.append(_organization(reader, client))
    results = await _gather(round1)
    if tenant_id is None and results[n_adopt:]:
        orgs = results[n_adopt]
        tenant_id = str(orgs[0].id).lower() if orgs else None

    resources: dict[str, ResourceSP] = {}
    for sp in (sp for batch in results[:n_res] for sp in batch):
        res = resource_from_sdk(sp)
        resources[res.app_id] = res
    for key in by_name:
        match = [r for r in resources.values() if r.display_name.lower() == key.lower()]
        if len(match) == 1:
            resource_keys[key] = match[0].app_id

    found: dict[str, ExistingApp] = {}
    for sdk_app in (a for batch in results[n_res:n_apps] for a in batch):
        existing = app_from_sdk(sdk_app)
        if existing.unique_name:
            found[existing.unique_name.lower()] = existing  # Graph matches uniqueName case-insensitively
    state_apps: dict[str, ExistingApp | None] = {}
    for app in apps:
        state_apps[app.name] = found.get(app.name)
    for app, matches in zip(adopt_apps, results[n_apps:n_adopt], strict=True):
        state_apps[app.name] = _adopt(app, state_apps[app.name], [app_from_sdk(m) for m in matches])

    existing_apps = [a for a in state_apps.values() if a is not None]

    # -- round 2: client service principals (+ resources only existing apps still request)
    client_app_ids = sorted({a.app_id for a in existing_apps})
    extra_resources = sorted(
        {rid for a in existing_apps for rid in a.required_resource_access}
        - set(resources)
        - set(client_app_ids)
    )

    async def sps_by_app_id(chunk: list[str]) -> list[Any]:
        return await reader.list_all(
            client.service_principals,
            filter=in_filter("appId", chunk),
            select=CLIENT_SP_SELECT,
            top=PAGE_SIZE,
        )

    round2: list[Awaitable[list[Any]]] = [sps_by_app_id(c) for c in chunked(client_app_ids)]
    n_clients = len(round2)
    round2 += [resources_by_app_id(c) for c in chunked(extra_resources)]
    results = await _gather(round2)
    sp_by_app_id: dict[str, ExistingSP] = {}
    for sp in (sp for batch in results[:n_clients] for sp in batch):
        sp_by_app_id[str(sp.app_id).lower()] = ExistingSP(
            object_id=str(sp.id).lower(), app_id=str(sp.app_id).lower()
        )
    for sp in (sp for batch in results[n_clients:] for sp in batch):
        res = resource_from_sdk(sp)
        resources.setdefault(res.app_id, res)
    for existing in existing_apps:
        existing.service_principal = sp_by_app_id.get(existing.app_id)

    # -- round 3: delegated grants and app role assignments
    client_sps = [a.service_principal for a in existing_apps if a.service_principal]
    resource_list = sorted(resources.values(), key=lambda r: r.app_id)
    threshold = len(resource_list) if per_client_threshold is None else per_client_threshold
    grants: list[Grant] = []
    assignments: list[RoleAssignment] = []
    if client_sps:
        if len(client_sps) <= threshold:
            grant_calls = [
                reader.list_all(
                    client.oauth2_permission_grants, filter=f"clientId eq {odata_quote(sp.object_id)}"
                )
                for sp in client_sps
            ]
            role_calls = [
                reader.list_all(
                    client.service_principals.by_service_principal_id(sp.object_id).app_role_assignments
                )
                for sp in client_sps
            ]
        else:
            grant_calls = [
                reader.list_all(
                    client.oauth2_permission_grants,
                    filter=f"resourceId eq {odata_quote(r.id)}",
                    top=PAGE_SIZE,
                )
                for r in resource_list
            ]
            role_calls = [
                reader.list_all(
                    client.service_principals.by_service_principal_id(r.id).app_role_assigned_to,
                    top=PAGE_SIZE,
                )
                for r in resource_list
            ]
        results = await _gather([*grant_calls, *role_calls])
        grants = [grant_from_sdk(g) for batch in results[: len(grant_calls)] for g in batch]
        assignments = [assignment_from_sdk(a) for batch in results[len(grant_calls) :] for a in batch]

    by_sp = {a.service_principal.object_id: a for a in existing_apps if a.service_principal}
    for grant in sorted(grants, key=lambda g: g.id):
        owner = by_sp.get(grant.client_id)
        if owner is not None:
            owner.delegated_grants.append(grant)
    for assignment in sorted(assignments, key=lambda a: a.id):
        owner = by_sp.get(assignment.principal_id)
        if owner is not None:
            owner.role_assignments.append(assignment)

    return TenantState(
        tenant_id=tenant_id,
        resources=resources,
        apps=state_apps,
        resource_keys=resource_keys,
        requests=reader.requests,
    )


async def _organization(reader: _Reader, client: GraphServiceClient) -> list[Any]:
    """The tenant's organization object; [] when the credential may not read it (403)."""
    from kiota_abstractions.api_error import APIError

    try:
        return await reader.list_all(client.organization, select=["id"])
    except APIError:
        return []


def _adopt(app: App, by_unique_name: ExistingApp | None, matches: list[ExistingApp]) -> ExistingApp | None:
    """Pick the registration an ``app_id``/``adopt`` app refers to; refuse ambiguity."""
    from provisioner.errors import ProvisionerError

    if by_unique_name is not None:
        if app.app_id and by_unique_name.app_id != app.app_id.lower():
            raise ProvisionerError(
                f"app {app.name}: uniqueName {app.name!r} belongs to appId {by_unique_name.app_id}, "
                f"not the declared app_id {app.app_id}; fix app_id or rename the app"
            )
        return by_unique_name
    if app.app_id:
        if not matches:
            raise ProvisionerError(
                f"app {app.name}: no application with appId {app.app_id} in this tenant; "
                "check app_id and --tenant, or remove app_id to create a new registration"
            )
        return matches[0]
    if len(matches) > 1:
        ids = ", ".join(sorted(m.app_id for m in matches))
        raise ProvisionerError(
            f"app {app.name}: {len(matches)} applications are named {app.display_name!r} ({ids}); "
            "set app_id to choose one"
        )
    return matches[0] if matches else None
