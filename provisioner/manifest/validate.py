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
* text that gets printed (names, display names, secret names, keys, permission names,
  tags, owners): no control, bidi or line-separator characters, which could repaint a
  terminal or fake a line of output (notes may hold line breaks, nothing else).
* ``extra_values`` keys that shadow a computed connection value, or that map onto the same
  dotenv variable as another value.
* sinks: file paths inside the base folder (the run's folder; the working directory for
  the CLI) unless ``allow_outside: true``, never inside the state folder; dotenv values the
  manifest decides (extra values, scopes, redirect URIs) spelled in the sink's dialect;
  and across **all** apps of the run, no two sinks with one destination (the same file
  after ``..``/symlinks, the same dotenv block or variable, the same Key Vault secret after
  Key Vault's name rules, the same GitHub output names), each reported with both places.

Warnings do not fail validation; they flag choices Microsoft advises against.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from provisioner.core import settings
from provisioner.core.errors import Location, ManifestError, ManifestErrors, ProvisionerError
from provisioner.core.text import first_unsafe
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
from provisioner.model.connections import COMPUTED_KEYS, OIDC_SCOPES, TOKEN_KEYS
from provisioner.model.dotenv_format import NAME, SKIPPED_KEYS, block_name
from provisioner.model.dotenv_format import problem as dotenv_problem
from provisioner.model.manifest import (
    EXPIRES_MAX,
    KEYVAULT_SECRET_NAME,
    DotenvSink,
    GithubSecretSink,
    GithubSink,
    JsonSink,
    KeyVaultSink,
    Secret,
    TemplateSink,
    github_name_problem,
)
from provisioner.model.redirects import PERSONAL_AUDIENCES, check_uri, max_uris, normalize
from provisioner.model.sink_rules import (
    bad_github_outputs,
    destination_key,
    dotenv_names,
    flat_values,
    folders_remembered,
    is_within,
    offline_values,
    outside_root,
    real_path,
    root_of,
    sample_values,
)

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: A user principal name: ``alias@domain``; Entra allows letters, digits and ``' . - _ ! # ^ ~`` in the alias.
USER_PRINCIPAL_NAME = re.compile(r"^[A-Za-z0-9'._!#^~&+-]{1,113}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
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


PathLike = str | os.PathLike[str]


def validate_paths(
    paths: Sequence[PathLike], *, base_dir: PathLike | None = None, state_dir: PathLike | None = None
) -> ValidationResult:
    """Load and validate every manifest under ``paths`` (files or folders); never raises for bad input.

    ``base_dir``: the folder relative sink paths resolve against (default: the working directory,
    as for ``plan``/``apply``); ``state_dir``: the tool's state folder (default: ``$PROVISIONER_STATE_DIR``,
    else ``<base_dir>/.provisioner``).
    """
    salvaged: list[LoadedApp] = []
    apps, errors = load_paths(paths, salvage=salvaged)
    app_errors, warnings = validate_apps([*apps, *salvaged], base_dir=base_dir, state_dir=state_dir)
    return ValidationResult(apps=apps, errors=_sorted([*errors, *app_errors]), warnings=_sorted(warnings))


def validate_apps(
    apps: Iterable[LoadedApp], *, base_dir: PathLike | None = None, state_dir: PathLike | None = None
) -> tuple[list[ManifestError], list[ManifestError]]:
    """Catalogue, limit and sink checks for already-loaded apps (all apps of one run): (errors, warnings)."""
    errors: list[ManifestError] = []
    warnings: list[ManifestError] = []
    items = list(apps)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    state = Path(state_dir) if state_dir is not None else _default_state_dir(base)
    with folders_remembered():
        for item in items:
            _Checker(item, errors, warnings, base, state).run()
        _shared_destinations(items, errors, base)
    _vault_certificate_names(items, errors)
    return errors, warnings


def _default_state_dir(base: Path) -> Path:
    configured = settings.env(settings.STATE_DIR)
    if configured is None:
        return base / ".provisioner"
    state = Path(configured).expanduser()
    return state if state.is_absolute() else base / state


def _sorted(items: list[ManifestError]) -> list[ManifestError]:
    def key(error: ManifestError) -> tuple[str, int, int]:
        where = error.location or Location("")
        return (where.path, where.line or 0, where.column or 0)

    return sorted(items, key=key)


class _Checker:
    """All checks of one app; appends to the shared error and warning lists."""

    def __init__(
        self,
        item: LoadedApp,
        errors: list[ManifestError],
        warnings: list[ManifestError],
        base: Path | None = None,
        state: Path | None = None,
    ) -> None:
        self.item = item
        self.app = item.app
        self.errors = errors
        self.warnings = warnings
        self.base = base if base is not None else Path.cwd()
        self.state = state if state is not None else self.base / ".provisioner"
        #: dotenv name clashes already reported (they do not depend on the sink's prefix)
        self.reported: set[tuple[str, ...]] = set()

    def error(self, path: Sequence[object], message: str, *, key: bool = False) -> None:
        self.errors.append(self.item.error(path, message, key=key))

    def warn(self, path: Sequence[object], message: str, *, key: bool = False) -> None:
        self.warnings.append(self.item.error(path, message, key=key))

    def run(self) -> None:
        self.permissions()
        self.redirect_uris()
        self.audience_limits()
        self.secrets()
        self.certificates()
        self.misc()
        self.text()
        self.extra_values()
        self.sinks()
        self.product_fit()
        self.token_sinks()

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
        listed: list[tuple[tuple[object, ...], Secret]] = [
            (("secrets", index), secret) for index, secret in enumerate(self.app.secrets)
        ]
        listed += [
            (("service_principal", "secrets", index), secret)
            for index, secret in enumerate(self.app.sp_secrets)
        ]
        for base, secret in listed:
            # Policy, not shape: checked here (not in the model) so the error points at the line.
            if secret.lifetime > MAX_LIFETIME and not secret.allow_long_lifetime:
                self.error(
                    (*base, "expires_in"),
                    f"expires_in {secret.expires_in} is above 2 years; set allow_long_lifetime: true to opt in",
                )
            elif secret.lifetime > RECOMMENDED_MAX_LIFETIME and secret.expires_in != EXPIRES_MAX:
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

    # ------------------------------------------------------------------------------- certificates

    def certificates(self) -> None:
        """Lifetimes as for secrets; a ``file`` must be a readable, unexpired public X.509 certificate."""
        if not self.app.certificates:
            return  # (and no ~15 ms cryptography import for the apps without certificates)
        from provisioner.model.sink_rules import resolve_path
        from provisioner.model.x509 import CertificateFileError, load_public

        for index, cert in enumerate(self.app.certificates or []):
            base = ("certificates", index)
            if cert.file is not None:
                try:
                    material = load_public(resolve_path(cert.file, self.base))
                except CertificateFileError as exc:
                    self.error((*base, "file"), str(exc))
                    continue
                if material.not_after <= datetime.now(UTC):
                    self.error(
                        (*base, "file"),
                        f"certificate {material.thumbprint} expired {material.not_after:%Y-%m-%d}; give a current one",
                    )
                elif material.not_after - datetime.now(UTC) <= cert.rotate_window:
                    self.warn(
                        (*base, "file"),
                        f"certificate {material.thumbprint} expires {material.not_after:%Y-%m-%d}, within "
                        f"rotate_before {cert.rotate_before}: replace the file (apply uploads the new one)",
                    )
                continue
            if cert.lifetime > MAX_LIFETIME and not cert.allow_long_lifetime:
                self.error(
                    (*base, "expires_in"),
                    f"expires_in {cert.expires_in} is above 2 years; set allow_long_lifetime: true to opt in",
                )
            if cert.rotate_window >= cert.lifetime:
                self.error(
                    (*base, "rotate_before"),
                    f"rotate_before {cert.rotate_before} must be shorter than expires_in {cert.expires_in}",
                )
            if cert.overlap_period > cert.rotate_window:
                self.warn(
                    (*base, "overlap"),
                    f"overlap {cert.overlap} is longer than rotate_before {cert.rotate_before}: the previous "
                    "certificate expires before the overlap ends",
                )

    # -------------------------------------------------------------------------------------- misc

    def misc(self) -> None:
        app = self.app
        if app.app_id is not None and not GUID.match(app.app_id):
            self.error(
                ("app_id",), f"app_id {app.app_id!r} is not a GUID (the registration's Application ID)"
            )
        self.assignments()
        for index, sink in enumerate(app.sinks):
            if isinstance(sink, KeyVaultSink) and not sink.vault_url.lower().startswith("https://"):
                self.error(
                    ("sinks", index, "vault_url"), "vault_url must be https://<vault-name>.vault.azure.net/"
                )
            if isinstance(sink, KeyVaultSink):
                self.vault_certificate(index, sink)
            if isinstance(sink, GithubSecretSink):
                self.github_secret(index, sink)

    def vault_certificate(self, index: int, sink: KeyVaultSink) -> None:
        """``certificate_name``: used only with a generated certificate; the default must be a valid name."""
        generated = any(cert.file is None for cert in self.app.certificates or [])
        if sink.certificate_name is not None and not generated:
            self.warn(
                ("sinks", index, "certificate_name"),
                "the app declares no generated certificate, so nothing is written there: remove certificate_name",
            )
        name = sink.certificate_name_for(self.app.name)
        if generated and not KEYVAULT_SECRET_NAME.match(name):
            self.error(
                ("sinks", index),
                f"the default Key Vault certificate secret name {name!r} is longer than 127 characters; "
                "set certificate_name",
            )

    def assignments(self) -> None:
        """``assigned_users``/``assigned_groups``/``owners``: well-formed, no entry twice (Graph would refuse
        the second assignment or owner reference); whether each exists is checked at plan time, against the
        tenant."""
        app = self.app
        for key, entries in (
            ("assigned_users", app.assigned_users),
            ("assigned_groups", app.assigned_groups),
            ("owners", app.owners),
        ):
            seen: dict[str, int] = {}
            for index, entry in enumerate(entries or []):
                if _unsafe_char(entry):
                    continue  # reported by text()
                if not entry.strip() or entry != entry.strip():
                    self.error((key, index), f"{entry!r} is empty or has leading or trailing spaces")
                    continue
                if (
                    key != "assigned_groups"
                    and not GUID.match(entry)
                    and not USER_PRINCIPAL_NAME.match(entry)
                ):
                    what = "owner" if key == "owners" else "user"
                    self.error(
                        (key, index),
                        f"{what} {entry!r} is neither a user principal name (name@domain) nor an object ID",
                    )
                    continue
                folded = entry.lower()
                if folded in seen:
                    self.error((key, index), f"{entry!r} is listed twice (first as entry {seen[folded]})")
                    continue
                seen[folded] = index
        if app.assignment_required and app.assigned_users == [] and app.assigned_groups == []:
            self.warn(
                ("assignment_required",),
                "assignment_required: true with no assigned users or groups: nobody can sign in to the app",
            )

    def github_secret(self, index: int, sink: GithubSecretSink) -> None:
        """Names derived from the app name must be valid GitHub names too (an app may start with a digit)."""
        name = sink.name_for(self.app.name)
        if sink.secret_name is None and (problem := github_name_problem(name)):
            self.error(
                ("sinks", index),
                f"the default GitHub secret name {name!r} {problem}; set secret_name",
            )
        prefix = sink.prefix_for(self.app.name)
        if sink.variables and sink.variable_prefix is None and (problem := github_name_problem(prefix + "X")):
            self.error(
                ("sinks", index),
                f"the default variable prefix {prefix!r} {problem}; set variable_prefix",
            )

    # ------------------------------------------------------------------------------- product fit

    def product_fit(self) -> None:
        """Warnings for registrations Entra accepts but a product cannot use (issue 17), each with its fix."""
        app = self.app
        uris = app.redirect_uris
        has_application = any(grants.application for grants in app.permissions.values())
        audience = app.audience.value
        if app.authority == "common" and audience == "single-tenant":
            self.error(
                ("authority",),
                "authority: common needs a multi-tenant audience: a single-tenant app signing in there gets "
                "AADSTS50194; use authority: tenant (or set audience: multi-tenant)",
            )
        elif app.authority == "organizations" and audience in ("single-tenant", "personal"):
            self.error(
                ("authority",),
                f"authority: organizations does not fit audience {audience} (AADSTS50194 / AADSTS50020); use "
                + ("authority: tenant" if audience == "single-tenant" else "authority: consumers"),
            )
        elif app.authority == "consumers" and audience not in ("personal", "multi-tenant-and-personal"):
            self.error(
                ("authority",),
                f"authority: consumers signs in personal Microsoft accounts only, which audience {audience} "
                "does not admit; use audience: personal or multi-tenant-and-personal, or another authority",
            )
        if app.scope_separator is not None and not any(g.delegated for g in app.permissions.values()):
            self.warn(
                ("scope_separator",),
                "scope_separator joins the delegated scopes, but the app has none; remove it",
            )
        if app.secrets and uris.public_client and not uris.web and not has_application:
            self.warn(
                ("secrets",),
                "a client secret is unusable here: the app signs users in only on public_client redirect URIs, "
                "where a token request that sends a secret fails (AADSTS700025: client is public); remove "
                "secrets (public clients use PKCE), or list the product's redirect URI under redirect_uris.web",
                key=True,
            )
        delegated_at: dict[str, tuple[str, ...]] = {}  # resource display name -> manifest path
        for key, grants in app.permissions.items():
            resource = resolve_resource(key)
            label = resource.display_name if resource else key
            if resource is not None and resource.display_name == "Microsoft Graph":
                for index, name in enumerate(grants.delegated):
                    if name.lower() == "ews.accessasuser.all":
                        self.warn(
                            ("permissions", key, "delegated", index),
                            "EWS.AccessAsUser.All under Microsoft Graph yields a Graph token, which Exchange Web "
                            "Services rejects (its audience must be https://outlook.office365.com); declare it "
                            "under 'Office 365 Exchange Online' instead",
                        )
            if any(name not in OIDC_SCOPES for name in grants.delegated):
                delegated_at.setdefault(label, ("permissions", key))
        any_delegated = any(grants.delegated for grants in app.permissions.values())
        if (
            any_delegated
            and not (uris.web or uris.spa or uris.public_client)
            and not app.allow_public_client_flows
        ):
            self.warn(
                ("permissions",),
                "delegated permissions need a user to sign in, but no redirect URI is declared, so no "
                "authorization code can come back; add the product's redirect URI under redirect_uris.web "
                "(or public_client for a desktop app using PKCE, e.g. http://localhost)",
                key=True,
            )
        if len(delegated_at) > 1:
            names = list(delegated_at)
            self.warn(
                delegated_at[names[1]],
                f"delegated scopes of {' and '.join(names)}: one token request may name scopes of one "
                "resource only (AADSTS28000), so the emitted `scopes` cannot be sent as one request; keep one "
                "resource's delegated scopes in this app (openid, profile, email and offline_access may "
                "stay), or declare a second app for the other resource",
                key=True,
            )

    def token_sinks(self) -> None:
        """``token_sinks``: file sinks only, a delegated app, destinations of their own, known placeholders."""
        from provisioner.model.sink_rules import destination_key
        from provisioner.model.template_rules import template_problems, template_text

        app = self.app
        if app.token_sinks and not any(g.delegated for g in app.permissions.values()):
            self.warn(
                ("token_sinks",),
                "token_sinks receive the tokens of `provisioner authorize`, which needs delegated permissions; "
                "the app has none, so nothing will be delivered: remove token_sinks",
                key=True,
            )
        taken: dict[tuple[str, ...], int] = {}
        for index, sink in enumerate(app.sinks):
            with contextlib.suppress(Exception):
                taken[destination_key(sink, app, self.base)] = index
        token_keys = dict.fromkeys(TOKEN_KEYS, "x")
        for index, sink in enumerate(app.token_sinks):
            base = ("token_sinks", index)
            if not isinstance(sink, JsonSink | DotenvSink | TemplateSink):
                self.error(
                    (*base, "type"), f"token_sinks take json, dotenv or template sinks, not {sink.type}"
                )
                continue
            real = real_path(sink.path, self.base)
            if not sink.allow_outside and outside_root(sink.path, self.base):
                self.error(
                    (*base, "path"),
                    f"{sink.path!r} resolves to {real}, outside {root_of(self.base)}; set allow_outside: true "
                    "on this sink to write there",
                )
            if is_within(real, root_of(self.state)):
                self.error((*base, "path"), f"{sink.path!r} is inside the state folder {self.state}")
            key = destination_key(sink, app, self.base)
            if key in taken:
                line = self.item.locate(("sinks", taken[key])).line
                self.error(
                    (*base, "path"),
                    f"the same file as sinks[{taken[key]}] (line {line}): tokens and connection values need "
                    "files of their own",
                )
            if isinstance(sink, JsonSink | DotenvSink):
                self.rename(base, sink, token_keys)
            if isinstance(sink, TemplateSink):
                where = (*base, "template" if sink.template is not None else "template_file")
                try:
                    text = template_text(sink, self.base)
                except ProvisionerError as exc:
                    self.error(where, str(exc))
                    continue
                for problem in template_problems(text, token_keys):
                    self.error(where, problem)

    # ---------------------------------------------------------------------------------- printed text

    def text(self) -> None:
        """No string that may be printed holds a control, bidi or line-separator character."""
        self._walk(self.app.model_dump(mode="python"), ())

    def _walk(self, node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                child = (*path, key)
                if isinstance(key, str) and (bad := _unsafe_char(key)):
                    self.error(
                        child,
                        f"key holds {bad}; printed text must not hold control, bidi or "
                        "line-separator characters",
                        key=True,
                    )
                if path == ("extra_values",):
                    continue  # values go to sinks, which check them for their own format
                self._walk(value, child)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._walk(value, (*path, index))
        elif isinstance(node, str):
            # notes and a template sink's text may hold line breaks (never other control characters)
            multi_line = path == ("notes",) or (
                len(path) == 3 and path[0] in ("sinks", "token_sinks") and path[2] == "template"
            )
            bad = _unsafe_char(node, multi_line=multi_line)
            if bad:
                self.error(
                    path,
                    f"holds {bad}; names and printed text must not hold control, bidi or "
                    "line-separator characters",
                )

    # --------------------------------------------------------------------------------- extra values

    def extra_values(self) -> None:
        for key in self.app.extra_values:
            if key in COMPUTED_KEYS:
                self.error(
                    ("extra_values", key),
                    f"extra_values key {key!r} collides with a computed connection value; rename it",
                    key=True,
                )

    # -------------------------------------------------------------------------------------- sinks

    def sinks(self) -> None:
        if not self.app.sinks:  # the default connection file takes any values: nothing to sample
            return
        try:
            sample = sample_values(self.app)
            offline = offline_values(self.app, sample)
        except ProvisionerError:  # a value only the tenant can build; checked before delivery
            return
        for index, sink in enumerate(self.app.sinks):
            base = ("sinks", index)
            if isinstance(sink, JsonSink | DotenvSink | TemplateSink):
                self.sink_path(index, sink)
            if isinstance(sink, JsonSink | DotenvSink):
                self.rename(base, sink, sample)
            if isinstance(sink, TemplateSink):
                self.template(base, sink, sample)
            if isinstance(sink, DotenvSink):
                self.dotenv(base, sink, sample, offline)
            if isinstance(sink, GithubSink):
                for name in bad_github_outputs(sample, sink.prefix):
                    self.error(
                        base,
                        f"{name!r} is not a valid GitHub Actions output name (letters, digits, '_', '-')",
                    )

    def template(self, base: tuple[Any, ...], sink: TemplateSink, sample: dict[str, Any]) -> None:
        """The template reads (template_file) and names connection values only."""
        from provisioner.model.template_rules import template_problems, template_text

        where = (*base, "template" if sink.template is not None else "template_file")
        try:
            text = template_text(sink, self.base)
        except ProvisionerError as exc:
            self.error(where, str(exc))
            return
        for problem in template_problems(text, flat_values(sample)):
            self.error(where, problem)

    def sink_path(self, index: int, sink: JsonSink | DotenvSink | TemplateSink) -> None:
        path = ("sinks", index, "path")
        real = real_path(sink.path, self.base)
        if not sink.allow_outside and outside_root(sink.path, self.base):
            self.error(
                path,
                f"{sink.path!r} resolves to {real}, outside {root_of(self.base)} (the folder sink paths "
                "resolve against); set allow_outside: true on this sink to write there",
            )
        if is_within(real, root_of(self.state)):
            self.error(
                path,
                f"{sink.path!r} is inside the state folder {self.state}, which holds the tool's own files",
            )

    def dotenv(
        self, base: tuple[Any, ...], sink: DotenvSink, sample: dict[str, Any], offline: dict[str, str]
    ) -> None:
        for name, keys in dotenv_names(self.app, sample, sink.prefix, sink.rename).items():
            if any(k in sink.rename for k in keys):
                continue  # reported by rename(), at the rename entry
            where = next(((("extra_values", k)) for k in keys if k in self.app.extra_values), base)
            if not NAME.match(name):
                self.error(
                    where, f"{keys[0]!r} gives {name!r}, which is not a valid dotenv variable name", key=True
                )
            elif len(keys) > 1 and tuple(keys) not in self.reported:
                self.reported.add(tuple(keys))
                self.error(
                    where,
                    f"{' and '.join(repr(k) for k in keys)} both give dotenv variable {name}; rename one",
                    key=True,
                )
        flat = flat_values(sample)
        offline = {**offline, **{k: flat[k] for k in SKIPPED_KEYS & set(sink.rename) if k in flat}}
        for key, value in offline.items():
            why = dotenv_problem(value, sink.dialect)
            if why is None:
                continue
            origin = f" (from extra_values.{key})" if key in self.app.extra_values else ""
            hint = (
                "set dialect: shell (for `set -a; . file` and python-dotenv) or dialect: docker (for "
                "docker --env-file)"
                if sink.dialect == "portable"
                else "change the value or use a json sink"
            )
            self.error(
                base,
                f"dotenv ({sink.dialect}) cannot carry {block_name(key, sink.prefix, sink.rename)}{origin}: "
                f"{why}; {hint}",
            )

    def rename(self, base: tuple[Any, ...], sink: JsonSink | DotenvSink, sample: Mapping[str, Any]) -> None:
        """A sink's ``rename``: known source names, one value per name, and names its format can carry.

        ``sample`` holds the keys a delivery writes (the connection values, or a token sink's keys).
        JSON renames top-level keys; a dotenv rename gives the whole variable name (no prefix).
        """
        dotenv = isinstance(sink, DotenvSink)
        known = set(flat_values(sample)) if dotenv else set(sample)
        kept: dict[str, str] = {}  # name written -> the key that is not renamed
        for key in known - set(sink.rename):
            name = block_name(key, sink.prefix, None) if isinstance(sink, DotenvSink) else key
            if name is not None:
                kept[name] = key
        targets: dict[str, str] = {}
        what = "dotenv variable" if dotenv else "json key"
        for key, name in sink.rename.items():
            where = (*base, "rename", key)
            if key not in known:
                carried = "a dotenv block carries" if dotenv else "this sink writes"
                self.error(
                    where,
                    f"rename: {key!r} names no value {carried} (known: {', '.join(sorted(known))})",
                    key=True,
                )
                continue
            if not name.strip():
                self.error(where, f"rename: {key!r} is renamed to an empty name")
                continue
            if dotenv and not NAME.match(name):
                self.error(
                    where,
                    f"rename: {name!r} is not a valid dotenv variable name (in every dialect: letters, digits "
                    "and '_', not starting with a digit)",
                )
                continue
            if name in targets:
                self.error(
                    where,
                    f"rename: {targets[name]!r} and {key!r} are both renamed to {what} {name!r}; "
                    "give each its own name",
                )
                continue
            targets[name] = key
            if name in kept and kept[name] != key:
                self.error(
                    where,
                    f"rename: {key!r} -> {name!r} collides with the {what} {name!r} that {kept[name]!r} "
                    "already gives; rename that value too or pick another name",
                )


def _unsafe_char(text: str, *, multi_line: bool = False) -> str | None:
    """``"U+001B"`` style name of the first character ``printable`` would escape, or None."""
    found = first_unsafe(text, multi_line=multi_line)
    return None if found is None else f"U+{ord(found):04X}"


def _shared_destinations(items: list[LoadedApp], errors: list[ManifestError], base: Path) -> None:
    """Two sinks (any apps of the run) with one destination: one error at the second, naming the first."""
    seen: dict[tuple[str, ...], list[tuple[LoadedApp, int]]] = {}
    for item in items:
        for index, sink in enumerate(item.app.sinks):
            try:
                key = destination_key(sink, item.app, base)
            except (OSError, ValueError):
                continue
            for other, other_index in seen.get(key, []):
                clash = _clash(item, index, other, other_index)
                if clash:
                    what, advice = clash
                    where = other.locate(("sinks", other_index))
                    place = f"{where.path}:{where.line}" if where.line is not None else where.path
                    first = f"sinks[{other_index}] of app {other.app.name!r} ({place})"
                    errors.append(item.error(("sinks", index), f"{what} as {first}; {advice}"))
                    break
            seen.setdefault(key, []).append((item, index))


def _vault_certificate_names(items: list[LoadedApp], errors: list[ManifestError]) -> None:
    """A certificate's vault secret (``certificate_name``) meeting any other vault secret of the run.

    Names compare as Key Vault compares them (without case); the secret names themselves are
    :func:`_shared_destinations`' business. One error at the certificate name, naming the other sink.
    """
    from provisioner.model.sink_rules import vault_key

    taken: dict[tuple[str, str], tuple[LoadedApp, int, str]] = {}
    certificates: list[tuple[tuple[str, str], LoadedApp, int]] = []
    for item in items:
        generated = any(cert.file is None for cert in item.app.certificates or [])
        for index, sink in enumerate(item.app.sinks):
            if not isinstance(sink, KeyVaultSink):
                continue
            taken.setdefault(
                vault_key(sink.vault_url, sink.name_for(item.app.name)), (item, index, "client secret")
            )
            if generated:
                certificates.append(
                    (vault_key(sink.vault_url, sink.certificate_name_for(item.app.name)), item, index)
                )
    for key, item, index in certificates:
        first = taken.get(key)
        if first is None:
            taken[key] = (item, index, "certificate")
            continue
        other, other_index, role = first
        where = other.locate(("sinks", other_index))
        place = f"{where.path}:{where.line}" if where.line is not None else where.path
        sink = item.app.sinks[index]
        assert isinstance(sink, KeyVaultSink)
        at = ("sinks", index, "certificate_name") if sink.certificate_name is not None else ("sinks", index)
        errors.append(
            item.error(
                at,
                f"the certificate's Key Vault secret ({key[1]}) is also the {role} of sinks[{other_index}] "
                f"of app {other.app.name!r} ({place}); Key Vault names ignore case: set certificate_name",
            )
        )


def _clash(item: LoadedApp, index: int, other: LoadedApp, other_index: int) -> tuple[str, str] | None:
    """(what is shared, what to do) for two sinks with one destination key; None when they may coexist."""
    sink, first = item.app.sinks[index], other.app.sinks[other_index]
    if isinstance(sink, KeyVaultSink):
        return (
            f"writes the same Key Vault secret ({sink.name_for(item.app.name)})",
            "Key Vault names ignore case and default names turn '.' and '_' into '-': set secret_name",
        )
    if isinstance(sink, GithubSecretSink):
        return (
            f"writes the same GitHub secret ({sink.name_for(item.app.name).upper()})",
            "GitHub names ignore case: set secret_name",
        )
    if not isinstance(sink, JsonSink | DotenvSink):
        return "writes the same GitHub Actions outputs", "give one of them a prefix"
    if isinstance(sink, JsonSink) or isinstance(first, JsonSink):
        return "writes the same file", "every file sink needs a file of its own"
    assert isinstance(first, DotenvSink)
    if item.app.name == other.app.name:
        return "writes the same dotenv block", "remove one of the two sinks"
    if sink.dialect != first.dialect:
        return (
            f"shares a dotenv file in dialect {sink.dialect} with dialect {first.dialect}",
            "one file has one reader: use one dialect",
        )
    try:
        ours = set(dotenv_names(item.app, sample_values(item.app), sink.prefix, sink.rename))
        theirs = set(dotenv_names(other.app, sample_values(other.app), first.prefix, first.rename))
    except ProvisionerError:  # values only the tenant can build
        return None
    common = sorted(ours & theirs)
    if common:
        return f"writes dotenv variable {common[0]} into the same file", "give one of them a prefix"
    return None


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
