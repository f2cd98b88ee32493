"""Read the part of a tenant that a plan needs, in few round trips.

Everything is returned as plain dataclasses (never SDK models) so the planner
stays pure and unit-testable without the SDK.

Every read is a list request built by the SDK's request builders with
``$select`` (only the properties the plan compares) and ``$filter ... in (...)``
(15 values per request, Graph's cap), and the requests of a round travel
together in ``$batch`` requests of 20 (:mod:`provisioner.graph.batch`); next
pages follow in further batches. Rounds (each waits for the previous one):

1. resource service principals ``$filter=appId in (...)`` (Graph, Exchange
   Online and every other resource the manifest names; read once per run, with
   their permission ids) + applications ``$filter=uniqueName in (...)`` + one
   ``appId eq`` / ``displayName eq`` lookup per app that declares ``app_id`` or
   ``adopt`` (+ ``GET /organization`` when the tenant ID is not known up front,
   e.g. DefaultAzureCredential without ``--tenant``).
2. client service principals ``$filter=appId in (...)`` + service principals
   of resources that existing apps still request but the manifest no longer
   names (needed to revoke them) + when there are more client apps than
   resources, the admin consent given on each resource
   (``oauth2PermissionGrants?$filter=resourceId eq ... and consentType eq
   'AllPrincipals'`` and ``servicePrincipals/{id}/appRoleAssignedTo``).
3. only when needed: otherwise the consent per client service principal
   (``servicePrincipals/{id}/oauth2PermissionGrants`` and ``.../appRoleAssignments``),
   or the consent on resources found in round 2.

Two further reads ride along without adding a round: when any app declares
secrets, round 1 also reads the tenant's app management policies
(``policies/defaultAppManagementPolicy`` and ``policies/appManagementPolicies``,
optional: without Policy.Read.All they are simply not checked) and round 2 whom
each enabled policy ``appliesTo``; and round 2 reads the federated identity
credentials of existing apps whose manifest declares ``federated_credentials``.

So a no-change plan of N apps against R resources costs 2 rounds when N > R
(3 when N <= R), and ``ceil(R/15) + 2*ceil(N/15) + 2*min(R, N)`` inner requests
(plus paging) in ``ceil(.../20)`` HTTP requests per round: 100 apps on Graph +
Exchange are 1 + 7 + 7 + 4 = 19 inner requests in 2 HTTP requests (plus the
token request). Only ``consentType AllPrincipals`` grants (admin consent) are
kept: per-user consent is not the tool's to manage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from provisioner.core.progress import print_progress
from provisioner.model.credential_policy import CredentialLimits, limits_for
from provisioner.model.federated import federated_from_json
from provisioner.model.tenant import (
    ALL_PRINCIPALS,
    ExistingApp,
    ExistingSecret,
    ExistingSP,
    Grant,
    Principal,
    PrincipalAssignment,
    ResourceSP,
    RoleAssignment,
    TenantState,
    is_guid,
    resource_app_id_for_key,
)
from provisioner.model.thumbprint import normalize_thumbprint

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

IN_CHUNK = 15  # Graph caps `in (...)` filters on directory objects at 15 values
PAGE_SIZE = 999

T = TypeVar("T")


# ---------------------------------------------------------------- helpers


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
        created=_utc(app.created_date_time),
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


# ---------------------------------------------------------------- Graph JSON -> dataclass
# The reader decodes batch answers as JSON, not SDK models (see provisioner.graph.batch.Request).


def graph_time(value: Any) -> datetime | None:
    """Graph's ISO 8601 timestamps ("2026-01-01T00:00:00Z", up to 7 fraction digits) as aware UTC."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = _FRACTION.search(text)
    if match:  # Python reads at most 6 fraction digits
        text = text[: match.start()] + "." + match.group(1)[:6] + text[match.end() :]
    return _utc(datetime.fromisoformat(text))


_FRACTION = re.compile(r"\.(\d+)(?=[+-]\d\d:\d\d$|$)")


def _enabled_values(entries: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in entries or []:
        if entry.get("value") and entry.get("isEnabled") is not False:
            found.setdefault(entry["value"], str(entry.get("id")).lower())
    return found


def resource_from_json(sp: dict[str, Any]) -> ResourceSP:
    return ResourceSP(
        id=str(sp["id"]).lower(),
        app_id=str(sp["appId"]).lower(),
        display_name=sp.get("displayName") or str(sp["appId"]),
        scopes=_enabled_values(sp.get("oauth2PermissionScopes")),
        roles=_enabled_values(sp.get("appRoles")),
    )


def passwords_from_json(owner: dict[str, Any]) -> list[ExistingSecret]:
    """The ``passwordCredentials`` of an application or a service principal."""
    return [
        ExistingSecret(
            key_id=str(p.get("keyId")).lower(),
            display_name=p.get("displayName"),
            hint=p.get("hint"),
            start=graph_time(p.get("startDateTime")),
            end=graph_time(p.get("endDateTime")),
        )
        for p in owner.get("passwordCredentials") or []
    ]


def app_from_json(app: dict[str, Any]) -> ExistingApp:
    web = app.get("web") or None
    implicit = (web or {}).get("implicitGrantSettings") or {}
    rra: dict[str, set[tuple[str, str]]] = {}
    for entry in app.get("requiredResourceAccess") or []:
        bucket = rra.setdefault(str(entry.get("resourceAppId")).lower(), set())
        for access in entry.get("resourceAccess") or []:
            bucket.add((str(access.get("id")).lower(), access.get("type") or "Scope"))
    secrets = passwords_from_json(app)
    certificates = [
        ExistingSecret(
            key_id=str(k.get("keyId")).lower(),
            display_name=k.get("displayName"),
            hint=normalize_thumbprint(k.get("customKeyIdentifier")),
            start=graph_time(k.get("startDateTime")),
            end=graph_time(k.get("endDateTime")),
        )
        for k in app.get("keyCredentials") or []
        if k.get("usage", "Verify") == "Verify"
    ]
    api = app.get("api") or None
    return ExistingApp(
        object_id=str(app["id"]).lower(),
        app_id=str(app["appId"]).lower(),
        unique_name=app.get("uniqueName"),
        display_name=app.get("displayName") or "",
        sign_in_audience=app.get("signInAudience"),
        web_redirect_uris=list(web.get("redirectUris") or []) if web else [],
        spa_redirect_uris=list((app.get("spa") or {}).get("redirectUris") or []),
        public_client_redirect_uris=list((app.get("publicClient") or {}).get("redirectUris") or []),
        implicit_access_tokens=bool(implicit.get("enableAccessTokenIssuance")),
        implicit_id_tokens=bool(implicit.get("enableIdTokenIssuance")),
        web_home_page_url=web.get("homePageUrl") if web else None,
        web_logout_url=web.get("logoutUrl") if web else None,
        is_fallback_public_client=bool(app.get("isFallbackPublicClient")),
        required_resource_access={k: frozenset(v) for k, v in rra.items()},
        notes=app.get("notes"),
        tags=list(app.get("tags") or []),
        requested_access_token_version=api.get("requestedAccessTokenVersion") if api else None,
        secrets=secrets,
        created=graph_time(app.get("createdDateTime")),
        certificates=certificates,
    )


def grant_from_json(grant: dict[str, Any]) -> Grant:
    return Grant(
        id=str(grant["id"]),
        client_id=str(grant.get("clientId")).lower(),
        resource_id=str(grant.get("resourceId")).lower(),
        consent_type=grant.get("consentType") or "",
        principal_id=_s(grant.get("principalId")),
        scopes=frozenset((grant.get("scope") or "").split()),
    )


def assignment_from_json(assignment: dict[str, Any]) -> RoleAssignment:
    return RoleAssignment(
        id=str(assignment["id"]),
        principal_id=str(assignment.get("principalId")).lower(),
        resource_id=str(assignment.get("resourceId")).lower(),
        app_role_id=str(assignment.get("appRoleId")).lower(),
    )


def principal_assignment_from_json(assignment: dict[str, Any]) -> PrincipalAssignment:
    return PrincipalAssignment(
        id=str(assignment["id"]),
        principal_id=str(assignment.get("principalId")).lower(),
        principal_type=str(assignment.get("principalType") or ""),
        principal_name=assignment.get("principalDisplayName"),
        app_role_id=str(assignment.get("appRoleId")).lower(),
    )


def owner_from_json(item: dict[str, Any]) -> Principal:
    """One entry of ``applications/{id}/owners``: a user (by UPN) or another directory object."""
    kind = str(item.get("@odata.type") or "").rsplit(".", 1)[-1]
    kind = {"user": "User", "servicePrincipal": "ServicePrincipal"}.get(kind, kind or "DirectoryObject")
    name = item.get("userPrincipalName") or item.get("displayName") or item["id"]
    return Principal(id=str(item["id"]).lower(), kind=kind, name=str(name))


def client_sp_from_json(sp: dict[str, Any]) -> ExistingSP:
    required = sp.get("appRoleAssignmentRequired")
    return ExistingSP(
        object_id=str(sp["id"]).lower(),
        app_id=str(sp["appId"]).lower(),
        assignment_required=required if isinstance(required, bool) else None,
        secrets=passwords_from_json(sp),
    )


def principal_lookups(client: GraphServiceClient, apps: Sequence[Any]) -> list[tuple[str, str, _List]]:
    """(kind, property, list read) finding every user and group the manifests assign, 15 names a request.

    Users by ``userPrincipalName in (...)`` or ``id in (...)``, groups by ``displayName in (...)`` or
    ``id in (...)``: a handful of requests for any number of apps, read in the first round.
    """
    wanted: dict[tuple[str, str], set[str]] = {}
    for app in apps:
        for kind, entries in (
            ("User", [*(app.assigned_users or []), *(app.owners or [])]),
            ("Group", app.assigned_groups),
        ):
            for entry in entries or []:
                by_name = "userPrincipalName" if kind == "User" else "displayName"
                prop = "id" if is_guid(entry) else by_name
                wanted.setdefault((kind, prop), set()).add(entry.lower() if prop == "id" else entry)
    reads: list[tuple[str, str, _List]] = []
    for (kind, prop), values in sorted(wanted.items()):
        builder = client.users if kind == "User" else client.groups
        select = USER_SELECT if kind == "User" else GROUP_SELECT
        for chunk in chunked(sorted(values)):
            reads.append(
                (
                    kind,
                    prop,
                    _List(builder, {"filter": in_filter(prop, chunk), "select": select, "top": PAGE_SIZE}),
                )
            )
    return reads


def principals_from(
    found: Sequence[tuple[str, str, list[dict[str, Any]]]],
) -> dict[tuple[str, str], list[Principal]]:
    """Each user under its UPN and id, each group under its display name and id (all lower-cased)."""
    out: dict[tuple[str, str], list[Principal]] = {}
    for kind, _, items in found:
        for item in items:
            name = str(item.get("userPrincipalName") if kind == "User" else item.get("displayName") or "")
            principal = Principal(id=str(item["id"]).lower(), kind=kind, name=name or str(item["id"]))
            for key in {principal.id, name.lower()} - {""}:
                bucket = out.setdefault((kind, key), [])
                if principal not in bucket:
                    bucket.append(principal)
    return out


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
    "keyCredentials",
    "createdDateTime",
]
RESOURCE_SELECT = ["id", "appId", "displayName", "oauth2PermissionScopes", "appRoles"]
CLIENT_SP_SELECT = ["id", "appId", "displayName", "appRoleAssignmentRequired"]
USER_SELECT = ["id", "userPrincipalName", "displayName"]
GROUP_SELECT = ["id", "displayName"]
PRINCIPAL_ASSIGNMENT_SELECT = ["id", "principalId", "principalType", "principalDisplayName", "appRoleId"]


@dataclass
class _List:
    """One paged list read: a collection request builder, its query options, what a page decodes to."""

    builder: Any
    query: dict[str, Any] = field(default_factory=dict)
    missing_ok: bool = False  # a 404 (the addressed object does not exist) reads as an empty list
    optional: bool = False  # any error reads as an empty list (e.g. /organization without permission)
    single: bool = False  # one entity, not a collection: read as a list of that one object

    def first_page(self) -> Any:
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        # Every generated list builder nests its own `<Builder>GetQueryParameters` dataclass.
        qp_cls = getattr(type(self.builder), f"{type(self.builder).__name__}GetQueryParameters")
        config = RequestConfiguration(query_parameters=qp_cls(**self.query))
        return self.builder.to_get_request_information(config)


class _Reader:
    """Batched, paged list reads: all lists of a round share ``$batch`` requests; errors raise.

    ``requests`` counts HTTP round trips (``$batch`` POSTs), the unit of the read budget.
    """

    def __init__(self, client: GraphServiceClient) -> None:
        from provisioner.graph.batch import Batcher

        self.client = client
        self.batcher = Batcher(client, on_wait=print_progress, label="read tenant state")

    @property
    def requests(self) -> int:
        return self.batcher.http_requests

    async def round(self, lists: Sequence[_List]) -> list[list[Any]]:
        """Every list's items; next pages (``@odata.nextLink``) follow in further batches."""
        from provisioner.graph.batch import Request

        results: list[list[Any]] = [[] for _ in lists]
        todo = [(i, Request(spec.first_page())) for i, spec in enumerate(lists)]
        while todo:
            outcomes = await self.batcher.each([request for _, request in todo])
            following = []
            for (index, _), outcome in zip(todo, outcomes, strict=True):
                spec = lists[index]
                if not outcome.ok and (spec.optional or (spec.missing_ok and outcome.status == 404)):
                    continue
                page = outcome.result() or {}
                if spec.single:
                    results[index].append(page)
                    continue
                results[index].extend(page.get("value") or [])
                if page.get("@odata.nextLink"):
                    info = spec.builder.with_url(page["@odata.nextLink"]).to_get_request_information()
                    following.append((index, Request(info)))
            todo = following
        return results


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
    from provisioner.graph.failures import graph_errors

    async with graph_errors("read tenant state"):
        return await _read_state(client, apps, tenant_id, per_client_threshold)


GRANT_SELECT = ["id", "clientId", "consentType", "principalId", "resourceId", "scope"]
ASSIGNMENT_SELECT = ["id", "principalId", "resourceId", "appRoleId"]
ALL_PRINCIPALS_FILTER = f"consentType eq '{ALL_PRINCIPALS}'"


async def _read_state(
    client: GraphServiceClient,
    apps: Sequence[Any],
    tenant_id: str | None,
    per_client_threshold: int | None,
) -> TenantState:
    reader = _Reader(client)
    items = list(apps)  # kept: a LoadedApp locates adoption errors at file:line
    apps = [getattr(a, "app", a) for a in items]  # App or the loader's LoadedApp

    def resources_by(prop: str, values: list[str]) -> _List:
        return _List(
            client.service_principals,
            {"filter": in_filter(prop, values), "select": RESOURCE_SELECT},
        )

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

    round1: list[_List] = []
    round1 += [resources_by("appId", c) for c in chunked(resource_app_ids)]
    round1 += [resources_by("displayName", c) for c in chunked(by_name)]
    n_res = len(round1)
    round1 += [
        _List(
            client.applications,
            {"filter": in_filter("uniqueName", c), "select": APP_SELECT, "top": PAGE_SIZE},
        )
        for c in chunked(names)
    ]
    n_apps = len(round1)
    # Adoption: an app_id/adopt app without a uniqueName match is looked up in the same round.
    adopt_apps = [a for a in apps if a.app_id or a.adopt]
    for app in adopt_apps:
        flt = (
            f"appId eq {odata_quote(app.app_id)}"
            if app.app_id
            else f"displayName eq {odata_quote(app.display_name)}"
        )
        round1.append(_List(client.applications, {"filter": flt, "select": APP_SELECT}))
    n_adopt = len(round1)
    # Tenant credential policy (only when secrets are declared; without Policy.Read.All: not checked).
    wants_policy = any(app.secrets or app.certificates or app.sp_secrets for app in apps)
    if wants_policy:
        round1.append(_List(client.policies.default_app_management_policy, {}, optional=True, single=True))
        round1.append(_List(client.policies.app_management_policies, {}, optional=True))
    n_policy = len(round1)
    # users and groups the manifests assign (only when some app declares assigned_users/assigned_groups)
    lookups = principal_lookups(client, apps)
    round1 += [spec for _, _, spec in lookups]
    n_principals = len(round1)
    if tenant_id is None:
        # --tenant not given: learn the credential's home tenant in the same round (if it may read it).
        round1.append(_List(client.organization, {"select": ["id"]}, optional=True))
    results = await reader.round(round1)
    principals = principals_from(
        [
            (kind, prop, items)
            for (kind, prop, _), items in zip(lookups, results[n_policy:n_principals], strict=True)
        ]
    )
    default_policy = (results[n_adopt] or [None])[0] if wants_policy else None
    app_policies = [p for p in results[n_adopt + 1]] if wants_policy else []
    if tenant_id is None and results[n_principals:]:
        orgs = results[n_principals]
        tenant_id = str(orgs[0]["id"]).lower() if orgs else None

    resources: dict[str, ResourceSP] = {}
    for sp in (sp for batch in results[:n_res] for sp in batch):
        res = resource_from_json(sp)
        resources[res.app_id] = res
    for key in by_name:
        match = [r for r in resources.values() if r.display_name.lower() == key.lower()]
        if len(match) == 1:
            resource_keys[key] = match[0].app_id

    found: dict[str, ExistingApp] = {}
    for sdk_app in (a for batch in results[n_res:n_apps] for a in batch):
        existing = app_from_json(sdk_app)
        if existing.unique_name:
            found[existing.unique_name.lower()] = existing  # Graph matches uniqueName case-insensitively
    state_apps: dict[str, ExistingApp | None] = {}
    for app in apps:
        state_apps[app.name] = found.get(app.name)
    located = {getattr(i, "app", i).name: i for i in items}
    for app, matches in zip(adopt_apps, results[n_apps:n_adopt], strict=True):
        state_apps[app.name] = _adopt(
            located[app.name], state_apps[app.name], [app_from_json(m) for m in matches]
        )
    from provisioner.model.adoption import check_unique

    check_unique(items, state_apps)  # two entries must never own one registration

    existing_apps = [a for a in state_apps.values() if a is not None]

    # -- round 2: client service principals and resources only existing apps still request; per
    # resource (fewer requests when apps outnumber resources) also the consent given on each resource.
    client_app_ids = sorted({a.app_id for a in existing_apps})
    extra_resources = sorted(
        {rid for a in existing_apps for rid in a.required_resource_access}
        - set(resources)
        - set(client_app_ids)
    )
    threshold = (
        len(resources) + len(extra_resources) if per_client_threshold is None else per_client_threshold
    )
    per_client = len(client_app_ids) <= threshold

    # the principals' own secrets only when some manifest declares service_principal secrets
    sp_select = CLIENT_SP_SELECT + (["passwordCredentials"] if any(a.sp_secrets for a in apps) else [])
    round2: list[_List] = [
        _List(
            client.service_principals,
            {"filter": in_filter("appId", c), "select": sp_select, "top": PAGE_SIZE},
        )
        for c in chunked(client_app_ids)
    ]
    n_clients = len(round2)
    round2 += [resources_by("appId", c) for c in chunked(extra_resources)]
    n_extra = len(round2)
    consent_reads: list[tuple[str, _List]] = []
    if client_app_ids and not per_client:
        consent_reads += _per_resource(client, sorted(resources.values(), key=lambda r: r.app_id))
    # federated identity credentials, only of apps whose manifest declares the key (even as [])
    with_federated: list[ExistingApp] = []
    for app in apps:
        have = state_apps.get(app.name)
        if app.federated_credentials is not None and have is not None:
            with_federated.append(have)
    federated_reads = [
        _List(client.applications.by_application_id(e.object_id).federated_identity_credentials, {})
        for e in with_federated
    ]
    # users and groups assigned to apps whose manifest manages them: the app's service principal is
    # addressed by appId (known from round 1), so this rides in round 2 (404: no service principal yet)
    with_assignments: list[ExistingApp] = []
    for app in apps:
        have = state_apps.get(app.name)
        if have is not None and (app.assigned_users is not None or app.assigned_groups is not None):
            with_assignments.append(have)
    assignment_reads = [
        _List(_assigned_to_by_app_id(client, e.app_id), {}, missing_ok=True) for e in with_assignments
    ]
    # owners of apps whose manifest manages them (users and service principals; few per app)
    with_owners = [
        have for app in apps if app.owners is not None and (have := state_apps.get(app.name)) is not None
    ]
    owner_reads = [_List(client.applications.by_application_id(e.object_id).owners, {}) for e in with_owners]
    assignment_reads += owner_reads  # read alongside (same round); split off below
    federated_reads += assignment_reads
    n_round2 = len(round2) + len(consent_reads)
    # which applications each enabled app management policy applies to (usually none or a few policies)
    enabled = [p for p in app_policies if p.get("isEnabled", True) and p.get("id")]
    policy_reads = [
        _List(
            client.policies.app_management_policies.by_app_management_policy_id(str(p["id"])).applies_to,
            {"select": ["id"]},
            optional=True,
        )
        for p in enabled
    ]
    results = await reader.round(
        [*round2, *(spec for _, spec in consent_reads), *federated_reads, *policy_reads]
    )
    applied: dict[str, list[dict[str, Any]]] = {}  # application object id -> policies applied to it
    for policy, targets in zip(enabled, results[n_round2 + len(federated_reads) :], strict=True):
        for obj in targets:
            applied.setdefault(str(obj.get("id")).lower(), []).append(policy)
    credential_limits: dict[str, CredentialLimits | None] = {}
    if wants_policy:
        moment = reader.batcher.server_time() or datetime.now(UTC)
        for app in apps:
            if app.secrets or app.certificates:
                have = state_apps.get(app.name)
                created = have.created if have is not None else moment
                mine = applied.get(have.object_id, []) if have is not None else []
                credential_limits[app.name] = limits_for(mine, default_policy, created)
    federated_results = results[n_round2 : n_round2 + len(federated_reads) - len(assignment_reads)]
    assignment_results = results[
        n_round2 + len(federated_reads) - len(assignment_reads) : n_round2 + len(federated_reads)
    ]
    owner_results = assignment_results[len(assignment_results) - len(owner_reads) :]
    assignment_results = assignment_results[: len(assignment_results) - len(owner_reads)]
    for existing, items in zip(with_owners, owner_results, strict=True):
        existing.owners = [owner_from_json(item) for item in items]
    for existing, items in zip(with_assignments, assignment_results, strict=True):
        existing.principal_assignments = [principal_assignment_from_json(item) for item in items]
    for existing, items in zip(with_federated, federated_results, strict=True):
        existing.federated_credentials = sorted(
            (federated_from_json(item) for item in items), key=lambda f: f.name.lower()
        )
    results = results[:n_round2]
    sp_by_app_id: dict[str, ExistingSP] = {}
    for sp in (sp for batch in results[:n_clients] for sp in batch):
        found_sp = client_sp_from_json(sp)
        sp_by_app_id[found_sp.app_id] = found_sp
    extras: list[ResourceSP] = []
    for sp in (sp for batch in results[n_clients:n_extra] for sp in batch):
        res = resource_from_json(sp)
        if res.app_id not in resources:
            resources[res.app_id] = res
            extras.append(res)
    for existing in existing_apps:
        existing.service_principal = sp_by_app_id.get(existing.app_id)
    sp_credential_limits: dict[str, CredentialLimits | None] = {}
    for app in apps:
        if app.sp_secrets:  # a principal has no createdDateTime: every restriction counts
            have = state_apps.get(app.name)
            sp = have.service_principal if have is not None else None
            mine = applied.get(sp.object_id, []) if sp is not None else []
            sp_credential_limits[app.name] = limits_for(mine, default_policy, None, principal=True)
    consent = list(zip([kind for kind, _ in consent_reads], results[n_extra:], strict=True))

    # -- round 3 (only when needed): consent per client service principal, or on the extra resources
    more: list[tuple[str, _List]] = []
    if per_client:
        for existing in existing_apps:
            if existing.service_principal is None:
                continue
            sp_builder = client.service_principals.by_service_principal_id(
                existing.service_principal.object_id
            )
            more.append(
                (
                    "grants",
                    _List(sp_builder.oauth2_permission_grants, {"select": GRANT_SELECT}),
                )
            )
            more.append(
                (
                    "assignments",
                    _List(sp_builder.app_role_assignments, {"select": ASSIGNMENT_SELECT}),
                )
            )
    elif extras and client_app_ids:
        more = _per_resource(client, extras)
    if more:
        consent += list(
            zip([kind for kind, _ in more], await reader.round([spec for _, spec in more]), strict=True)
        )

    grants = [
        grant_from_json(g)
        for kind, batch in consent
        if kind == "grants"
        for g in batch
        if g.get("consentType") == "AllPrincipals"
    ]
    assignments = [assignment_from_json(a) for kind, batch in consent if kind == "assignments" for a in batch]

    by_sp = {a.service_principal.object_id: a for a in existing_apps if a.service_principal}
    for grant in sorted(grants, key=lambda g: g.id):
        owner = by_sp.get(grant.client_id)
        if owner is not None:
            owner.delegated_grants.append(grant)
    for assignment in sorted(assignments, key=lambda a: a.id):
        owner = by_sp.get(assignment.principal_id)
        if owner is not None and assignment.principal_id:
            owner.role_assignments.append(assignment)

    return TenantState(
        tenant_id=tenant_id,
        resources=resources,
        apps=state_apps,
        resource_keys=resource_keys,
        requests=reader.requests,
        server_time=reader.batcher.server_time(),
        credential_limits=credential_limits,
        sp_credential_limits=sp_credential_limits,
        principals=principals,
    )


def _assigned_to_by_app_id(client: GraphServiceClient, app_id: str) -> Any:
    """``servicePrincipals(appId='...')/appRoleAssignedTo`` (Graph addresses a service principal by appId
    too), so the read needs no service principal id from an earlier round.

    msgraph-sdk's ``service_principals_with_app_id`` builder has no navigation properties: the list
    builder is given the URL instead (a raw URL carries its own query options).
    """
    base = str(client.request_adapter.base_url).rstrip("/")
    select = ",".join(PRINCIPAL_ASSIGNMENT_SELECT)
    url = f"{base}/servicePrincipals(appId='{app_id}')/appRoleAssignedTo?$select={select}&$top={PAGE_SIZE}"
    return client.service_principals.by_service_principal_id(app_id).app_role_assigned_to.with_url(url)


def _per_resource(client: GraphServiceClient, resources: Sequence[ResourceSP]) -> list[tuple[str, _List]]:
    """Admin consent given *on* each resource: its AllPrincipals grants and the app roles assigned on it."""
    reads: list[tuple[str, _List]] = []
    for res in resources:
        flt = f"resourceId eq {odata_quote(res.id)} and {ALL_PRINCIPALS_FILTER}"
        reads.append(
            (
                "grants",
                _List(
                    client.oauth2_permission_grants,
                    {"filter": flt, "select": GRANT_SELECT, "top": PAGE_SIZE},
                ),
            )
        )
        assigned_to = client.service_principals.by_service_principal_id(res.id).app_role_assigned_to
        reads.append(
            (
                "assignments",
                _List(assigned_to, {"select": ASSIGNMENT_SELECT, "top": PAGE_SIZE}),
            )
        )
    return reads


def _adopt(app: Any, by_unique_name: ExistingApp | None, matches: list[ExistingApp]) -> ExistingApp | None:
    """Pick the registration an ``app_id``/``adopt`` app (``App`` or ``LoadedApp``) refers to.

    The rules, and the located errors for ambiguity, live in :mod:`provisioner.model.adoption`.
    """
    from provisioner.model.adoption import resolve

    return resolve(app, by_unique_name, matches)
