"""What a tenant holds, as the planner sees it: plain dataclasses, never SDK models.

:mod:`provisioner.graph.state` fills them from Graph; the planner, the rotation
policy and adoption read them. Keeping them here (below ``graph``) lets those pure
layers use them without depending on the code that talks to Graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from provisioner.model.catalog import resolve_resource
from provisioner.model.credential_policy import CredentialLimits
from provisioner.model.federated import ExistingFederated

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

#: ``consentType`` of admin consent (for every user), the only kind of delegated grant the tool manages.
ALL_PRINCIPALS = "AllPrincipals"

MANAGED_TAG = "provisioner:managed"
"""Ownership marker added to every application the tool manages.

Only applications carrying it have undeclared secrets removed (and are
candidates for ``--prune``); an adopted registration gets it only when its
manifest lists it in ``tags`` (see :mod:`provisioner.model.adoption`).
"""


@dataclass(frozen=True)
class ResourceSP:
    id: str
    app_id: str
    display_name: str
    scopes: dict[str, str] = field(default_factory=dict)  # value -> id
    roles: dict[str, str] = field(default_factory=dict)  # value -> id

    def scope_name(self, scope_id: str) -> str:
        return self._scope_names.get(scope_id, scope_id)

    def role_name(self, role_id: str) -> str:
        return self._role_names.get(role_id, role_id)

    # Inverse maps, built once: Microsoft Graph alone has hundreds of scopes, and every app's
    # grants and assignments are named through them (a scan per name grew with apps x catalogue).
    @cached_property
    def _scope_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for value, scope_id in self.scopes.items():
            names.setdefault(scope_id, value)  # the first name wins, as the scan did
        return names

    @cached_property
    def _role_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for value, role_id in self.roles.items():
            names.setdefault(role_id, value)
        return names


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
    assignment_required: bool | None = None  # appRoleAssignmentRequired (None: not read)
    # the principal's own client secrets (passwordCredentials; read when a manifest declares them)
    secrets: list[ExistingSecret] = field(default_factory=list)


#: appRoleId of the default access role: assigns a user or group to an app that defines no app roles.
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Principal:
    """A user or group a manifest assigns to an app, as found in the tenant."""

    id: str
    kind: (
        str  # "User" or "Group" (an appRoleAssignment's principalType); an owner may be a "ServicePrincipal"
    )
    name: str  # userPrincipalName or displayName


@dataclass(frozen=True)
class PrincipalAssignment:
    """A user or group assigned to an app's service principal (an appRoleAssignment on it)."""

    id: str
    principal_id: str
    principal_type: str  # "User", "Group" or "ServicePrincipal"
    principal_name: str | None
    app_role_id: str


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
    # users and service principals owning the app (kind "User", "ServicePrincipal", ...); None: not read
    owners: list[Principal] | None = None
    secrets: list[ExistingSecret] = field(default_factory=list)
    service_principal: ExistingSP | None = None
    delegated_grants: list[Grant] = field(default_factory=list)
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    # users, groups (and apps) assigned to the app's service principal; None: not read
    principal_assignments: list[PrincipalAssignment] | None = None
    # None: not read (the manifest does not manage them); [] : read, none there
    federated_credentials: list[ExistingFederated] | None = None
    created: datetime | None = None  # createdDateTime (app management policies date their restrictions)
    # certificate key credentials (keyCredentials): ``hint`` holds the SHA-1 thumbprint (upper-case hex)
    certificates: list[ExistingSecret] = field(default_factory=list)

    @property
    def managed(self) -> bool:
        return MANAGED_TAG in self.tags


@dataclass
class TenantState:
    tenant_id: str | None
    resources: dict[str, ResourceSP]  # by appId
    apps: dict[str, ExistingApp | None]  # by manifest name
    resource_keys: dict[str, str] = field(default_factory=dict)  # manifest resource key -> appId
    requests: int = 0  # HTTP requests to Graph (``$batch`` round trips) made while reading
    # Graph's clock (Date header) while reading: callers need no extra request to learn "now".
    server_time: datetime | None = None
    # app management policy limits per manifest app that declares secrets (None: no limit found/readable)
    credential_limits: dict[str, CredentialLimits | None] = field(default_factory=dict)
    # ... and for its service principal's secrets (policy applied to the principal, else the default
    # policy's servicePrincipalRestrictions), per manifest app that declares service_principal secrets
    sp_credential_limits: dict[str, CredentialLimits | None] = field(default_factory=dict)
    # users and groups manifests assign, by (kind "User"/"Group", manifest entry lower-cased); a list
    # because several groups may share a display name
    principals: dict[tuple[str, str], list[Principal]] = field(default_factory=dict)

    def resource_by_id(self, object_id: str) -> ResourceSP | None:
        return next((r for r in self.resources.values() if r.id == object_id), None)


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def resource_app_id_for_key(key: str) -> str | None:
    """appId for a manifest resource key that needs no lookup: a GUID, or a bundled name/alias.

    Other names are looked up by displayName in the tenant.
    """
    if is_guid(key.strip()):
        return key.strip().lower()
    bundled = resolve_resource(key)
    return bundled.app_id.lower() if bundled else None
