"""Manifest apps + the tenant's resource service principals -> the Graph state the tool converges to.

Pure (no SDK import): the planner diffs :class:`DesiredApp` against
:class:`~provisioner.model.tenant.ExistingApp`, and apply turns it into request
bodies. Decisions encoded here:

* ``uniqueName`` = the manifest ``name`` (the idempotency key of the upsert).
* ``tags`` = manifest tags + :data:`~provisioner.model.tenant.MANAGED_TAG`
  ("provisioner:managed"), the ownership marker that allows removing
  undeclared secrets; an adopted registration without it stays unmarked
  (:mod:`provisioner.model.adoption`).
* Redirect URIs are normalised the way Graph stores them
  (:func:`provisioner.model.redirects.normalize`) and compared as sets.
* ``requiredResourceAccess`` mirrors the manifest exactly (every delegated and
  application permission is *requested*), compared order-insensitively.
* Admin consent (delegated grants with consentType AllPrincipals, and app role
  assignments) is desired only when ``admin_consent: true``; otherwise
  permissions are requested and a user/admin consents later.
* ``api.requestedAccessTokenVersion`` is 2 when personal accounts can sign in
  (Graph refuses those audiences otherwise); left alone for the others.
* Permission names resolve against the resource service principals read
  from the tenant, not only the bundled catalogue; unknown names are located
  ManifestErrors, all reported together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioner.core.errors import Location, ManifestError, ManifestErrors
from provisioner.model.credential_policy import DEFAULT_MAX_SECRET, CredentialLimits, duration_text
from provisioner.model.federated import DesiredFederated
from provisioner.model.manifest import (
    DEFAULT_MAX_CERTIFICATE,
    EXPIRES_MAX,
    App,
    Audience,
    Certificate,
    Secret,
)
from provisioner.model.redirects import normalize
from provisioner.model.tenant import (
    MANAGED_TAG,
    Principal,
    ResourceSP,
    TenantState,
    resource_app_id_for_key,
)

PERSONAL = frozenset({Audience.MULTI_TENANT_AND_PERSONAL, Audience.PERSONAL})

SCOPE = "Scope"  # requiredResourceAccess type of a delegated permission
ROLE = "Role"  # ... of an application permission


@dataclass(frozen=True)
class DesiredApp:
    name: str
    display_name: str
    sign_in_audience: str
    web_redirect_uris: tuple[str, ...] = ()
    spa_redirect_uris: tuple[str, ...] = ()
    public_client_redirect_uris: tuple[str, ...] = ()
    implicit_access_tokens: bool = False
    implicit_id_tokens: bool = False
    is_fallback_public_client: bool = False
    # resource appId -> ((permission id, "Scope"|"Role"), ...) in manifest order
    required_resource_access: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    notes: str | None = None
    tags: tuple[str, ...] = (MANAGED_TAG,)
    requested_access_token_version: int | None = None
    # admin consent: resource appId -> scope values (delegated) / app role ids (application)
    delegated_grants: dict[str, frozenset[str]] = field(default_factory=dict)
    app_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
    # the service principal's own secrets (manifest ``service_principal.secrets``)
    sp_secrets: tuple[Secret, ...] = ()
    admin_consent: bool = False
    app_id: str | None = None  # adopted registration (manifest app_id)
    adopt: bool = False
    # None: the manifest leaves federated credentials alone (not read, not diffed)
    federated_credentials: tuple[DesiredFederated, ...] | None = None
    # None: the manifest leaves certificates alone (undeclared ones are not removed)
    certificates: tuple[Certificate, ...] | None = None
    # user/group assignment: None leaves appRoleAssignmentRequired alone
    assignment_required: bool | None = None
    # the users and groups assigned (default access); only principal types in assigned_types are managed
    assignments: tuple[Principal, ...] = ()
    assigned_types: frozenset[str] = frozenset()
    # the users owning the app; None leaves owners alone (service principal owners are never managed)
    owners: tuple[Principal, ...] | None = None

    def required_resource_access_sets(self) -> dict[str, frozenset[tuple[str, str]]]:
        return {k: frozenset(v) for k, v in self.required_resource_access.items() if v}


@dataclass
class Desired:
    apps: dict[str, DesiredApp]  # by manifest name, manifest order
    resources: dict[str, ResourceSP]  # by appId: every resource the manifest names

    def resource_label(self, app_id: str) -> str:
        res = self.resources.get(app_id)
        return res.display_name if res else app_id


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _locator(item: Any) -> Any:
    """``LoadedApp.error`` when the loader's located wrapper is given, else a plain ManifestError."""
    error = getattr(item, "error", None)
    if callable(error):
        return error
    app: App = item

    def plain(path: Sequence[Any], message: str, *, key: bool = False) -> ManifestError:
        where = ".".join(str(p) for p in path)
        return ManifestError(f"{where}: {message}", Location(f"app {app.name}"))

    return plain


def build_desired(apps: Sequence[Any], state: TenantState) -> Desired:
    """Resolve every app (``App`` or loader ``LoadedApp``) against ``state.resources``.

    Raises ManifestErrors listing every unknown resource or permission name.
    """
    from provisioner.model.catalog import suggest

    errors: list[ManifestError] = []
    out: dict[str, DesiredApp] = {}
    used: dict[str, ResourceSP] = {}
    for item in apps:
        app: App = getattr(item, "app", item)
        error = _locator(item)
        rra: dict[str, list[tuple[str, str]]] = {}
        delegated: dict[str, set[str]] = {}
        roles: dict[str, set[str]] = {}
        for key, perms in app.permissions.items():
            app_id = state.resource_keys.get(key) or resource_app_id_for_key(key)
            resource = state.resources.get(app_id) if app_id else None
            if resource is None:
                errors.append(
                    error(
                        ("permissions", key),
                        f"resource {key!r} has no service principal in this tenant "
                        "(name it by display name or appId)",
                        key=True,
                    )
                )
                continue
            used[resource.app_id] = resource
            entries = rra.setdefault(resource.app_id, [])
            for i, name in enumerate(perms.delegated):
                scope_id = resource.scopes.get(name)
                if scope_id is None:
                    hint = suggest(name, resource.scopes)
                    errors.append(
                        error(
                            ("permissions", key, "delegated", i),
                            f"{resource.display_name} has no delegated permission {name!r}"
                            + (f"; did you mean {hint!r}?" if hint else ""),
                        )
                    )
                    continue
                entries.append((scope_id, SCOPE))
                delegated.setdefault(resource.app_id, set()).add(name)
            for i, name in enumerate(perms.application):
                role_id = resource.roles.get(name)
                if role_id is None:
                    hint = suggest(name, resource.roles)
                    errors.append(
                        error(
                            ("permissions", key, "application", i),
                            f"{resource.display_name} has no application permission {name!r}"
                            + (f"; did you mean {hint!r}?" if hint else ""),
                        )
                    )
                    continue
                entries.append((role_id, ROLE))
                roles.setdefault(resource.app_id, set()).add(role_id)
        assignments, assigned_types = _assignments(app, state, error, errors)
        out[app.name] = DesiredApp(
            name=app.name,
            display_name=app.display_name,
            sign_in_audience=app.audience.sign_in_audience,
            web_redirect_uris=_unique([normalize(u) for u in app.redirect_uris.web]),
            spa_redirect_uris=_unique([normalize(u) for u in app.redirect_uris.spa]),
            public_client_redirect_uris=_unique([normalize(u) for u in app.redirect_uris.public_client]),
            implicit_access_tokens=app.implicit_grant.access_tokens,
            implicit_id_tokens=app.implicit_grant.id_tokens,
            is_fallback_public_client=app.allow_public_client_flows,
            required_resource_access={k: _unique_pairs(v) for k, v in rra.items() if v},
            notes=app.notes or None,
            tags=_tags(app, state),
            requested_access_token_version=2 if app.audience in PERSONAL else None,
            delegated_grants={k: frozenset(v) for k, v in delegated.items() if v}
            if app.admin_consent
            else {},
            app_roles={k: frozenset(v) for k, v in roles.items() if v} if app.admin_consent else {},
            secrets=tuple(_resolve_max(s, state.credential_limits.get(app.name)) for s in app.secrets),
            sp_secrets=tuple(
                _resolve_max(s, state.sp_credential_limits.get(app.name)) for s in app.sp_secrets
            ),
            admin_consent=app.admin_consent,
            app_id=app.app_id.lower() if app.app_id else None,
            adopt=app.adopt,
            federated_credentials=None
            if app.federated_credentials is None
            else tuple(c.desired() for c in app.federated_credentials),
            certificates=None
            if app.certificates is None
            else tuple(_resolve_max_cert(c, state.credential_limits.get(app.name)) for c in app.certificates),
            assignment_required=app.assignment_required,
            assignments=assignments,
            assigned_types=assigned_types,
            owners=_owners(app, state, error, errors),
        )
    if errors:
        raise ManifestErrors(errors)
    return Desired(apps=out, resources=dict(sorted(used.items())))


def _assignments(
    app: App, state: TenantState, error: Any, errors: list[ManifestError]
) -> tuple[tuple[Principal, ...], frozenset[str]]:
    """The users and groups an app assigns, found in ``state.principals``; unknown or ambiguous ones are
    located errors (plan stops before any write). A principal named twice (UPN and object ID) counts once."""
    found: dict[str, Principal] = {}
    types: set[str] = set()
    for key, kind, entries in (
        ("assigned_users", "User", app.assigned_users),
        ("assigned_groups", "Group", app.assigned_groups),
    ):
        if entries is None:
            continue
        types.add(kind)
        for index, entry in enumerate(entries):
            matches = state.principals.get((kind, entry.lower()), [])
            if not matches:
                errors.append(error((key, index), f"{kind.lower()} {entry!r} does not exist in this tenant"))
            elif len(matches) > 1:
                errors.append(
                    error(
                        (key, index),
                        f"{len(matches)} groups are named {entry!r}; name the group by its object ID",
                    )
                )
            else:
                found.setdefault(matches[0].id, matches[0])
    return tuple(found.values()), frozenset(types)


def _owners(
    app: App, state: TenantState, error: Any, errors: list[ManifestError]
) -> tuple[Principal, ...] | None:
    """The users an app's ``owners`` names, found in ``state.principals`` (read with the assigned users);
    an unknown one is a located error (plan stops before any write)."""
    if app.owners is None:
        return None
    found: dict[str, Principal] = {}
    for index, entry in enumerate(app.owners):
        matches = state.principals.get(("User", entry.lower()), [])
        if not matches:
            errors.append(error(("owners", index), f"owner {entry!r}: no such user in this tenant"))
        else:
            found.setdefault(matches[0].id, matches[0])
    return tuple(found.values())


def _tags(app: App, state: TenantState) -> tuple[str, ...]:
    """Manifest tags + the ownership marker, except on an adopted registration that lacks it.

    An adopted registration (``app_id``/``adopt``) was made elsewhere and its
    existing secrets' values live elsewhere: it is not marked as the tool's own
    (which would allow removing those secrets and pruning it) unless the manifest
    lists the tag itself. A registration the tool creates always gets it.
    """
    existing = state.apps.get(app.name)
    adopted = bool(app.app_id or app.adopt) and existing is not None and not existing.managed
    return _unique(list(app.tags)) if adopted else _unique([*app.tags, MANAGED_TAG])


def _resolve_max(secret: Secret, limits: CredentialLimits | None) -> Secret:
    """``expires_in: max`` as a concrete duration: the policy's passwordLifetime cap, else 2 years."""
    if secret.expires_in != EXPIRES_MAX:
        return secret
    longest = limits.longest_secret() if limits is not None else DEFAULT_MAX_SECRET
    return secret.model_copy(update={"expires_in": duration_text(longest)})


def _resolve_max_cert(cert: Certificate, limits: CredentialLimits | None) -> Certificate:
    """``expires_in: max`` of a certificate: the policy's asymmetricKeyLifetime cap, else 2 years."""
    if cert.expires_in != EXPIRES_MAX:
        return cert
    longest = limits.longest_certificate(DEFAULT_MAX_CERTIFICATE) if limits else DEFAULT_MAX_CERTIFICATE
    return cert.model_copy(update={"expires_in": duration_text(longest)})


def _unique_pairs(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(dict.fromkeys(pairs))
