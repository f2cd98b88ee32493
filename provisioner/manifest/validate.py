"""Offline validation: everything that can be checked without a tenant or credentials.

``provisioner validate`` runs this in CI on every change, so it must be fast
(stdlib + pydantic + PyYAML + the bundled catalogue) and must report every
problem at once, each located at file:line:column. Structural checks live in the
model and the loader; this module adds what needs the permission catalogue or
Microsoft's documented limits:

* resources: bundled display name / alias / appId; an unknown non-GUID name is an
  error, an unknown appId is allowed (resolved against the tenant at plan time);
  two keys naming the same resource are an error.
* permission names per kind, with "did you mean" and "that is a delegated
  permission, not an application one" hints; duplicates; the 50-API / 400-permission
  limits of requiredResourceAccess.
* privileged permissions (privilegeLevel 4 or :data:`provisioner.model.catalog.ALWAYS_PRIVILEGED`)
  combined with ``admin_consent: true`` need ``allow_privileged: true``: tenant-wide
  consent to them should be an explicit, reviewable decision.
* redirect URIs (:mod:`provisioner.model.redirects`), audience limits for
  personal-account apps (90-char display name, 2 secrets, 100 redirect URIs).

Warnings do not fail validation; they flag choices Microsoft advises against.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from provisioner.core.errors import Location, ManifestError, ManifestErrors
from provisioner.manifest.loader import LoadedApp, load_paths
from provisioner.model.catalog import (
    Kind,
    Resource,
    is_privileged,
    resolve_resource,
    resource_names,
    resources,
    suggest,
)
from provisioner.model.manifest import KeyVaultSink
from provisioner.model.redirects import PERSONAL_AUDIENCES, check_uri, max_uris, normalize

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_RESOURCES = 50
MAX_PERMISSIONS = 400
PERSONAL_DISPLAY_NAME_MAX = 90
PERSONAL_MAX_SECRETS = 2
#: Microsoft recommends client secrets shorter than 12 months; "1y"/"12mo"/"365d" do not warn.
MAX_LIFETIME = timedelta(days=730)
RECOMMENDED_MAX_LIFETIME = timedelta(days=365)
_KINDS: tuple[Kind, ...] = ("delegated", "application")
_PLATFORMS = ("web", "spa", "public_client")


@dataclass
class ValidationResult:
    """Outcome of :func:`validate_paths`.

    ``apps`` holds every app that passed the model (even if catalogue checks then failed),
    so callers can still show what was understood; act on them only when ``ok``.
    """

    apps: list[LoadedApp] = field(default_factory=list)
    errors: list[ManifestError] = field(default_factory=list)
    warnings: list[ManifestError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ManifestErrors(self.errors)


def validate_paths(paths: Sequence[str | os.PathLike[str]]) -> ValidationResult:
    """Load and validate every manifest under ``paths`` (files or folders); never raises for bad input."""
    salvaged: list[LoadedApp] = []
    apps, errors = load_paths(paths, salvage=salvaged)
    app_errors, warnings = validate_apps([*apps, *salvaged])
    return ValidationResult(apps=apps, errors=_sorted([*errors, *app_errors]), warnings=_sorted(warnings))


def validate_apps(apps: Iterable[LoadedApp]) -> tuple[list[ManifestError], list[ManifestError]]:
    """Catalogue and limit checks for already-loaded apps: (errors, warnings)."""
    errors: list[ManifestError] = []
    warnings: list[ManifestError] = []
    for item in apps:
        _Checker(item, errors, warnings).run()
    return errors, warnings


def _sorted(items: list[ManifestError]) -> list[ManifestError]:
    def key(error: ManifestError) -> tuple[str, int, int]:
        where = error.location or Location("")
        return (where.path, where.line or 0, where.column or 0)

    return sorted(items, key=key)


class _Checker:
    """All checks of one app; appends to the shared error and warning lists."""

    def __init__(self, item: LoadedApp, errors: list[ManifestError], warnings: list[ManifestError]) -> None:
        self.item = item
        self.app = item.app
        self.errors = errors
        self.warnings = warnings

    def error(self, path: Sequence[object], message: str, *, key: bool = False) -> None:
        self.errors.append(self.item.error(path, message, key=key))

    def warn(self, path: Sequence[object], message: str, *, key: bool = False) -> None:
        self.warnings.append(self.item.error(path, message, key=key))

    def run(self) -> None:
        self.permissions()
        self.redirect_uris()
        self.audience_limits()
        self.secrets()
        self.misc()

    # ----------------------------------------------------------------------------------- permissions

    def permissions(self) -> None:
        app = self.app
        by_app_id: dict[str, str] = {}
        total = 0
        any_privileged = False
        for key, grants in app.permissions.items():
            base = ("permissions", key)
            total += len(grants.delegated) + len(grants.application)
            resource = resolve_resource(key)
            if resource is None and not GUID.match(key):
                hint = suggest(key, resource_names())
                more = f" (did you mean {hint!r}?)" if hint else ""
                self.error(
                    base,
                    f"unknown resource {key!r}{more}: use 'Microsoft Graph', 'Office 365 Exchange Online' "
                    "(or graph / exchange), or the resource's appId",
                    key=True,
                )
                continue
            app_id = (resource.app_id if resource else key).lower()
            if app_id in by_app_id:
                self.error(
                    base, f"{key!r} names the same resource as {by_app_id[app_id]!r}; merge them", key=True
                )
                continue
            by_app_id[app_id] = key
            if not grants.delegated and not grants.application:
                self.warn(base, "no permissions listed for this resource", key=True)
            if grants.application and not app.admin_consent:
                self.warn(
                    (*base, "application"),
                    "application permissions take effect only after admin consent; set admin_consent: true "
                    "or have an administrator grant consent",
                    key=True,
                )
            for kind in _KINDS:
                any_privileged |= self.permission_list(base, kind, getattr(grants, kind), resource)
        if len(by_app_id) > MAX_RESOURCES:
            self.error(
                ("permissions",), f"{len(by_app_id)} resources; an app can require at most {MAX_RESOURCES}"
            )
        if total > MAX_PERMISSIONS:
            self.error(("permissions",), f"{total} permissions; an app can require at most {MAX_PERMISSIONS}")
        if app.allow_privileged and not any_privileged:
            self.warn(("allow_privileged",), "no privileged permission is requested; remove allow_privileged")

    def permission_list(
        self, base: tuple[str, str], kind: Kind, names: list[str], resource: Resource | None
    ) -> bool:
        """Check one delegated/application list; returns whether it holds a privileged permission."""
        first: dict[str, int] = {}
        privileged = False
        for index, name in enumerate(names):
            path = (*base, kind, index)
            if name in first:
                line = self.item.locate((*base, kind, first[name])).line
                self.error(path, f"duplicate permission {name!r} (already listed on line {line})")
                continue
            first[name] = index
            if resource is None:
                continue  # a resource outside the bundled catalogue: names are checked at plan time
            permission = resource.get(name, kind)
            if permission is None:
                self.error(path, _unknown_permission(name, kind, resource))
                continue
            if not is_privileged(permission):
                if kind == "delegated" and permission.admin_consent_required and not self.app.admin_consent:
                    self.warn(
                        path,
                        f"{name} needs admin consent (users cannot consent to it); set admin_consent: true "
                        "or have an administrator grant consent",
                    )
                continue
            privileged = True
            if self.app.admin_consent and not self.app.allow_privileged:
                level = (
                    f"privilege level {permission.privilege_level}" if permission.privilege_level else "high"
                )
                self.error(
                    path,
                    f"{name} ({kind}) is privileged ({resource.display_name}, {level}) and admin_consent: true "
                    "would grant it tenant-wide; opt in with allow_privileged: true on this app, or drop "
                    "admin_consent and let an administrator review the consent",
                )
        return privileged

    # --------------------------------------------------------------------------------- redirect URIs

    def redirect_uris(self) -> None:
        app = self.app
        total = 0
        for platform in _PLATFORMS:
            uris: list[str] = getattr(app.redirect_uris, platform)
            total += len(uris)
            seen: dict[str, int] = {}
            for index, uri in enumerate(uris):
                path = ("redirect_uris", platform, index)
                for problem in check_uri(uri, platform, app.audience):  # type: ignore[arg-type]
                    (self.error if problem.severity == "error" else self.warn)(path, problem.message)
                normal = normalize(uri)
                if normal in seen:
                    line = self.item.locate(("redirect_uris", platform, seen[normal])).line
                    self.error(path, f"duplicate redirect URI {uri!r} (same as line {line} once normalised)")
                else:
                    seen[normal] = index
        limit = max_uris(app.audience)
        if total > limit:
            self.error(
                ("redirect_uris",),
                f"{total} redirect URIs; audience {app.audience.value} allows at most {limit}",
                key=True,
            )
        grant = app.implicit_grant
        if (grant.access_tokens or grant.id_tokens) and not app.redirect_uris.web:
            self.warn(
                ("implicit_grant",),
                "implicit grant applies to web redirect URIs, but none are listed",
                key=True,
            )

    # ----------------------------------------------------------------------------------- audience

    def audience_limits(self) -> None:
        app = self.app
        if app.audience not in PERSONAL_AUDIENCES:
            return
        if len(app.display_name) > PERSONAL_DISPLAY_NAME_MAX:
            self.error(
                ("display_name",),
                f"display_name is {len(app.display_name)} characters; apps that personal Microsoft accounts "
                f"sign in to allow at most {PERSONAL_DISPLAY_NAME_MAX}",
            )
        if len(app.secrets) > PERSONAL_MAX_SECRETS:
            self.error(
                ("secrets",),
                f"{len(app.secrets)} secrets; apps that personal Microsoft accounts sign in to can hold at most "
                f"{PERSONAL_MAX_SECRETS} client secrets",
                key=True,
            )
        elif len(app.secrets) == PERSONAL_MAX_SECRETS:
            self.warn(
                ("secrets",),
                f"{PERSONAL_MAX_SECRETS} secrets fill this audience's limit, leaving no room for an overlapping "
                "secret during rotation",
                key=True,
            )

    # ------------------------------------------------------------------------------------ secrets

    def secrets(self) -> None:
        for index, secret in enumerate(self.app.secrets):
            base = ("secrets", index)
            # Policy, not shape: checked here (not in the model) so the error points at the line.
            if secret.lifetime > MAX_LIFETIME and not secret.allow_long_lifetime:
                self.error(
                    (*base, "expires_in"),
                    f"expires_in {secret.expires_in} is above 2 years; set allow_long_lifetime: true to opt in",
                )
            elif secret.lifetime > RECOMMENDED_MAX_LIFETIME:
                self.warn(
                    (*base, "expires_in"),
                    f"expires_in {secret.expires_in} is longer than 12 months; Microsoft recommends less than "
                    "12 months (rotation is automatic, so a shorter lifetime costs nothing)",
                )
            if secret.rotate_window >= secret.lifetime:
                self.error(
                    (*base, "rotate_before"),
                    f"rotate_before {secret.rotate_before} must be shorter than expires_in {secret.expires_in}",
                )
            if secret.overlap_period > secret.rotate_window:
                self.warn(
                    (*base, "overlap"),
                    f"overlap {secret.overlap} is longer than rotate_before {secret.rotate_before}: the previous "
                    "secret expires before the overlap ends",
                )

    # -------------------------------------------------------------------------------------- misc

    def misc(self) -> None:
        app = self.app
        if app.app_id is not None and not GUID.match(app.app_id):
            self.error(
                ("app_id",), f"app_id {app.app_id!r} is not a GUID (the registration's Application ID)"
            )
        for index, owner in enumerate(app.owners):
            if not GUID.match(owner) and "@" not in owner:
                self.error(
                    ("owners", index), f"owner {owner!r} is neither a user principal name nor an object ID"
                )
        for index, sink in enumerate(app.sinks):
            if isinstance(sink, KeyVaultSink) and not sink.vault_url.lower().startswith("https://"):
                self.error(
                    ("sinks", index, "vault_url"), "vault_url must be https://<vault-name>.vault.azure.net/"
                )


def _unknown_permission(name: str, kind: Kind, resource: Resource) -> str:
    other: Kind = "application" if kind == "delegated" else "delegated"
    where = resource.display_name
    if resource.get(name, other) is not None:
        return f"{name} is {_a(other)} permission of {where}, not {_a(kind)} one; list it under '{other}'"
    hint = suggest(name, resource.permissions(kind))
    more = f" (did you mean {hint!r}?)" if hint else ""
    for candidate in resources():
        if candidate.app_id == resource.app_id:
            continue
        for candidate_kind in (kind, other):
            if candidate.get(name, candidate_kind) is not None:
                return (
                    f"{name} is not {_a(kind)} permission of {where} but {_a(candidate_kind)} permission "
                    f"of {candidate.display_name}{more}"
                )
    return f"unknown {kind} permission {name!r} of {where}{more}"


def _a(kind: Kind) -> str:
    return "an application" if kind == "application" else "a delegated"


__all__ = ["ValidationResult", "validate_apps", "validate_paths"]
