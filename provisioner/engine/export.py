"""``provisioner export``: manifest YAML for registrations that already exist.

The goal is a manifest that adopts the registration and round-trips: ``validate``
passes and ``plan`` against the same tenant shows no changes. Every field the
planner compares is written back from what Graph reports:

* ``app_id`` - always: it is how the manifest adopts the registration
  (:mod:`provisioner.model.adoption`), and the robust link for apps without uniqueName.
* ``name`` - the uniqueName when it is a valid manifest name, else derived from
  the display name (:func:`manifest_name`), made unique within the export.
* redirect URIs per platform, audience, implicit grant, public client flows,
  notes, tags (minus the ownership marker, which the planner adds by itself).
* permissions - IDs turned back into names through the tenant's resource
  service principals; keyed by the bundled display name ("Microsoft Graph")
  or by appId for other resources.
* ``admin_consent: true`` when every requested permission is granted tenant-wide
  (an AllPrincipals delegated grant covering all requested scopes and an app role
  assignment for every requested application permission); ``allow_privileged``
  with it when a privileged permission is among them (``validate`` insists).

Secrets: values are never exported (Graph never returns them). Which secrets
become ``secrets:`` entries depends on who holds the values:

* an app carrying ``provisioner:managed`` was created by the tool, whose sinks
  hold its secrets: each live secret name becomes an entry (``expires_in`` is the
  newest secret's lifetime, rounded), so no mint is planned - and leaving them
  out would make apply remove them as undeclared.
* any other app (adopted): its secrets are listed as comments only. Their values
  live wherever their creator put them; an entry would make the secret
  lifecycle see "no sink holds a live secret" and mint a new one. Declaring a
  secret on an adopted app is how to let the tool mint (and hold) its own; the
  pre-existing ones are left alone while the app is not tagged as managed.

Anything that cannot be expressed (no service principal, consent for
permissions that are not requested, permissions a resource does not publish,
secrets without a description, expired secrets) is written as a comment saying
what plan will do about it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from provisioner.core.durations import parse_duration
from provisioner.core.errors import ProvisionerError
from provisioner.core.fileio import atomic_write_text, ensure_private_dir
from provisioner.core.text import has_unsafe, printable, without_unsafe
from provisioner.engine.options import RunOptions
from provisioner.engine.targeting import open_target
from provisioner.graph.connect import graph_client
from provisioner.graph.inventory import complete, select_applications
from provisioner.manifest.validate import MAX_LIFETIME
from provisioner.model.catalog import is_privileged, resolve_resource
from provisioner.model.federated import (
    GITHUB_ISSUER,
    TOKEN_EXCHANGE_AUDIENCE,
    GithubActions,
    KubernetesServiceAccount,
)
from provisioner.model.federated import NAME_PATTERN as FIC_NAME_PATTERN
from provisioner.model.manifest import NAME_PATTERN, Audience
from provisioner.model.tenant import ALL_PRINCIPALS, MANAGED_TAG, ExistingApp, ExistingSecret, ResourceSP

if TYPE_CHECKING:
    from provisioner.graph.inventory import Inventory

_NAME = re.compile(NAME_PATTERN)
_FIC_NAME = re.compile(FIC_NAME_PATTERN)
_SLUG_BAD = re.compile(r"[^a-z0-9._-]+")
DAY = 86400
DEFAULT_ROTATE_BEFORE = timedelta(days=30)
DEFAULT_OVERLAP = timedelta(days=7)
COMMENT_WIDTH = 110  # the project's line length


# ------------------------------------------------------------------------------------------ names


def slug(text: str) -> str:
    """A NAME_PATTERN-valid slug of ``text`` ("" when nothing usable is left)."""
    lowered = _SLUG_BAD.sub("-", text.strip().lower())
    lowered = re.sub(r"-{2,}", "-", lowered).lstrip("._-")[:64].rstrip("._-")
    return lowered if _NAME.match(lowered) else ""


def manifest_name(app: ExistingApp, taken: set[str]) -> str:
    """The uniqueName if it is a valid manifest name, else a slug of the display name; unique in ``taken``."""
    unique = (app.unique_name or "").lower()
    base = unique if unique and _NAME.match(unique) else slug(app.display_name) or f"app-{app.app_id[:8]}"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[: 64 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


# ------------------------------------------------------------------------------------------ YAML bits


def scalar(value: Any) -> str:
    """One-line YAML for a scalar: plain when safe, quoted when needed (PyYAML decides)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    dumped = yaml.safe_dump(text, allow_unicode=True, width=math.inf, default_flow_style=True)
    dumped = dumped.removesuffix("\n").removesuffix("\n...")
    if "\n" in dumped or yaml.safe_load(dumped) != text:  # one-line double-quoted form, all escaped
        dumped = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=math.inf)
        dumped = dumped.removesuffix("\n").removesuffix("\n...")
    return dumped


def _comment(text: str) -> str:
    return "# " + " ".join(printable(text, one_line=True).split())


#: Fields whose manifest value may span lines (``validate`` allows newlines there, nothing else).
_MULTI_LINE = frozenset({"notes"})


def _clean(value: Any, *, multi_line: bool = False) -> tuple[Any, str | None]:
    """(value to write, note): Entra text holding control or bidi characters is written without them.

    ``validate`` refuses such characters in a manifest, and a manifest that fails ``validate``
    is no export; so the value is cleaned and the note says what Entra holds (escaped) and
    that ``apply`` will replace it.
    """
    if not isinstance(value, str):
        return value, None
    cleaned = without_unsafe(value, multi_line=multi_line)
    if cleaned == value:
        return value, None
    shown = printable(value, one_line=True)
    return (
        cleaned,
        f"Entra holds {shown} (control or bidi characters); written without them: apply replaces it",
    )


class _Lines:
    """Indented YAML lines with comments; indentation is in steps of two spaces."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def comment(self, depth: int, text: str) -> None:
        """``# text``, wrapped at :data:`COMMENT_WIDTH` columns; leading spaces of ``text`` are kept."""
        indent = len(text) - len(text.lstrip())
        width = max(40, COMMENT_WIDTH - 2 * depth - 4 - indent)
        words = " ".join(printable(text, one_line=True).split())
        for index, line in enumerate(textwrap.wrap(words, width=width) or [""]):
            self.add(depth, "# " + " " * indent + ("  " if index else "") + line)

    def field(self, depth: int, key: str, value: Any, note: str | None = None) -> None:
        value, cleaned = _clean(value, multi_line=key in _MULTI_LINE)
        note = "; ".join(n for n in (note, cleaned) if n) or None
        tail = f"  {_comment(note)}" if note else ""
        self.add(depth, f"{scalar(key)}: {scalar(value)}{tail}")

    def entry(self, depth: int, value: Any, key: str | None = None) -> None:
        """``- value`` or ``- key: value`` (a list item), cleaned like :meth:`field`."""
        value, cleaned = _clean(value)
        tail = f"  {_comment(cleaned)}" if cleaned else ""
        head = f"{scalar(key)}: " if key else ""
        self.add(depth, f"- {head}{scalar(value)}{tail}")

    def items(self, depth: int, key: str, values: Iterable[Any]) -> None:
        values = list(values)
        if not values:
            return
        self.add(depth, f"{scalar(key)}:")
        for value in values:
            self.entry(depth + 1, value)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# ------------------------------------------------------------------------------------------ durations


def round_lifetime(delta: timedelta) -> str:
    """A secret's lifetime as a manifest duration: whole years when within a day of one, else days (hours
    under two days)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 2 * DAY:
        return f"{max(1, round(seconds / 3600))}h"
    days = round(seconds / DAY)
    years = round(days / 365)
    if years and abs(days - 365 * years) <= 1:
        return f"{years}y"
    return f"{days}d"


def _seconds(duration: str) -> int:
    return int(parse_duration(duration).total_seconds())


def _secret_fields(lifetime: str) -> dict[str, Any]:
    """``expires_in`` plus whatever else keeps the Secret model valid for that lifetime."""
    fields: dict[str, Any] = {"expires_in": lifetime}
    seconds = _seconds(lifetime)
    if seconds > MAX_LIFETIME.total_seconds():
        fields["allow_long_lifetime"] = True
    if seconds <= DEFAULT_ROTATE_BEFORE.total_seconds():
        window = max(1, seconds // 3 // 3600)  # hours
        fields["rotate_before"] = f"{window}h"
        if window * 3600 < DEFAULT_OVERLAP.total_seconds():
            fields["overlap"] = f"{window}h"
    return fields


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "never"


# ------------------------------------------------------------------------------------------ one app


@dataclass
class ExportedApp:
    name: str
    app: ExistingApp
    yaml: str  # the "- name: ..." list item, indented for `apps:`
    notes: list[str] = field(default_factory=list)  # what plan will still change, one line each


def _resource_key(app_id: str, resource: ResourceSP | None) -> tuple[str, str | None]:
    """Manifest key for a resource: the bundled display name, else the appId (with the tenant's name)."""
    bundled = resolve_resource(app_id)
    if bundled is not None:
        return bundled.display_name, None
    return app_id, resource.display_name if resource else None


def _is_privileged(app_id: str, name: str, kind: str) -> bool:
    bundled = resolve_resource(app_id)
    permission = bundled.get(name, kind) if bundled else None  # type: ignore[arg-type]
    return bool(permission and is_privileged(permission))


def _known_to_catalogue(app_id: str, name: str, kind: str) -> bool:
    """``validate`` checks names of bundled resources against the catalogue; others are free-form."""
    bundled = resolve_resource(app_id)
    return bundled is None or bundled.get(name, kind) is not None  # type: ignore[arg-type]


def export_app(app: ExistingApp, name: str, resources: dict[str, ResourceSP], now: datetime) -> ExportedApp:
    """One app as a YAML list item (two-space indented under ``apps:``)."""
    out = _Lines()
    notes: list[str] = []

    def note(depth: int, text: str) -> None:
        out.comment(depth, text)
        notes.append(text)

    out.add(1, f"- name: {scalar(name)}")
    d = 2
    out.field(d, "display_name", app.display_name)
    where = f"uniqueName {app.unique_name}" if app.unique_name else "no uniqueName"
    out.field(d, "app_id", app.app_id, note=f"adopts this registration ({where})")
    try:
        audience = Audience.from_sign_in_audience(app.sign_in_audience or "AzureADMyOrg").value
    except ValueError:
        raise ProvisionerError(
            f"{app.display_name} ({app.app_id}): signInAudience {app.sign_in_audience!r} has no manifest "
            "equivalent; it cannot be exported"
        ) from None
    out.field(d, "audience", audience)

    platforms = [
        ("web", app.web_redirect_uris),
        ("spa", app.spa_redirect_uris),
        ("public_client", app.public_client_redirect_uris),
    ]
    if any(uris for _, uris in platforms):
        out.add(d, "redirect_uris:")
        for key, uris in platforms:
            out.items(d + 1, key, uris)
    if app.implicit_access_tokens or app.implicit_id_tokens:
        out.add(d, "implicit_grant:")
        if app.implicit_access_tokens:
            out.field(d + 1, "access_tokens", True)
        if app.implicit_id_tokens:
            out.field(d + 1, "id_tokens", True)
    if app.is_fallback_public_client:
        out.field(d, "allow_public_client_flows", True)

    admin_consent, privileged = _permissions(out, app, resources, note, d)
    if admin_consent:
        out.field(d, "admin_consent", True, note="every requested permission is granted tenant-wide")
        if privileged:
            out.field(d, "allow_privileged", True, note="privileged permissions are among them")

    if app.notes:
        out.field(d, "notes", app.notes)
    tags = [t for t in app.tags if t != MANAGED_TAG]
    out.items(d, "tags", tags)
    _secrets(out, app, now, note, d)
    _federated(out, app, note, d)
    _assignments(out, app, d)
    _owners(out, app, d)
    if app.service_principal is None:
        note(d, "no service principal (enterprise application) yet: apply creates one")
    return ExportedApp(name=name, app=app, yaml=out.text(), notes=notes)


def _permissions(
    out: _Lines, app: ExistingApp, resources: dict[str, ResourceSP], note: Any, d: int
) -> tuple[bool, bool]:
    """Write ``permissions:``; returns (admin consent complete, any privileged permission)."""
    sp = app.service_principal
    granted: dict[str, set[str]] = {}  # resource SP id -> scope values granted for all users
    for grant in app.delegated_grants if sp else []:
        if grant.consent_type == ALL_PRINCIPALS:
            granted.setdefault(grant.resource_id, set()).update(grant.scopes)
    assigned: dict[str, set[str]] = {}  # resource SP id -> app role ids
    for ra in app.role_assignments if sp else []:
        assigned.setdefault(ra.resource_id, set()).add(ra.app_role_id)

    blocks: list[tuple[str, str | None, list[str], list[str]]] = []
    requested_any = False
    complete = True
    privileged = False
    handled: set[str] = set()
    for app_id in sorted(app.required_resource_access):
        pairs = app.required_resource_access[app_id]
        res = resources.get(app_id)
        if res is None:
            note(
                d,
                f"requests {len(pairs)} permission(s) of resource {app_id}, which has no service principal "
                "in this tenant: left out (plan cannot resolve it)",
            )
            continue
        handled.add(res.id)
        delegated: list[str] = []
        application: list[str] = []
        for perm_id, kind in sorted(pairs):
            kind_name = "delegated" if kind == "Scope" else "application"
            value = res.scope_name(perm_id) if kind == "Scope" else res.role_name(perm_id)
            if value == perm_id:
                note(d, f"{res.display_name} publishes no {kind_name} permission {perm_id}: left out")
                continue
            if not _known_to_catalogue(app_id, value, kind_name):
                note(
                    d,
                    f"{res.display_name} {kind_name} permission {value} is not in the bundled catalogue "
                    "(update provisioner): left out",
                )
                continue
            (delegated if kind == "Scope" else application).append(value)
            requested_any = True
            privileged |= _is_privileged(app_id, value, kind_name)
            if kind == "Scope":
                complete &= value in granted.get(res.id, set())
            else:
                complete &= perm_id in assigned.get(res.id, set())
        key, label = _resource_key(app_id, res)
        if delegated or application:
            blocks.append((key, label, sorted(set(delegated)), sorted(set(application))))
        extra_scopes = granted.get(res.id, set()) - set(delegated)
        extra_roles = assigned.get(res.id, set()) - {res.roles.get(v) for v in application}
        if extra_scopes or extra_roles:
            names = sorted(extra_scopes) + sorted(res.role_name(r) for r in extra_roles)
            note(
                d,
                f"consent exists for {res.display_name} {', '.join(names)} although not requested: "
                "plan will revoke it",
            )
    others = (set(granted) | set(assigned)) - handled
    if others:
        note(d, f"consent exists on {len(others)} resource(s) this app does not request: plan will revoke it")
    if blocks:
        out.add(d, "permissions:")
        for key, label, delegated, application in blocks:
            tail = f"  {_comment(label)}" if label else ""
            out.add(d + 1, f"{scalar(key)}:{tail}")
            out.items(d + 2, "delegated", delegated)
            out.items(d + 2, "application", application)
    return requested_any and complete and sp is not None, privileged


def _secrets(out: _Lines, app: ExistingApp, now: datetime, note: Any, d: int) -> None:
    if not app.secrets:
        return
    described = sorted(app.secrets, key=lambda s: (s.display_name or "", s.start or now, s.key_id))
    out.comment(d, "client secrets in Entra (values are never exported):")
    for secret in described:
        label = repr(secret.display_name) if secret.display_name else "(no description)"
        state = "expired" if secret.end and secret.end <= now else "expires"
        out.comment(
            d, f"  {label} keyId {secret.key_id}, hint {secret.hint or '?'}..., {state} {_day(secret.end)}"
        )
    live: dict[str, list[ExistingSecret]] = {}
    for secret in described:
        name = secret.display_name
        if name and not has_unsafe(name) and (secret.end is None or secret.end > now):
            live.setdefault(name, []).append(secret)
    if not app.managed:
        out.comment(
            d,
            "not declared: this app is not tagged provisioner:managed, so these secrets are left alone; a "
            "secret declared under 'secrets:' is minted anew and its value held by the tool",
        )
        return
    for secret in described:
        if not secret.display_name:
            note(d, f"secret {secret.key_id} has no description: it cannot be declared and apply removes it")
        elif has_unsafe(secret.display_name):
            note(
                d,
                f"secret {secret.key_id}'s description holds control or bidi characters: it cannot be "
                "declared and apply removes it",
            )
        elif secret.display_name not in live:
            note(d, f"secret {secret.display_name!r} has expired: apply removes it")
    if not live:
        return
    out.add(d, "secrets:")
    for name, secrets in live.items():
        newest = max(secrets, key=lambda s: (s.start or now, s.key_id))
        lifetime = round_lifetime(
            (newest.end - newest.start) if newest.end and newest.start else MAX_LIFETIME
        )
        fields = _secret_fields(lifetime)
        out.add(d + 1, f"- name: {scalar(name)}")
        for key, value in fields.items():
            out.field(d + 2, key, value)
        window = timedelta(seconds=_seconds(str(fields.get("rotate_before", "30d"))))
        if newest.end and newest.end - now <= window:
            note(d + 2, f"expires {_day(newest.end)}, within rotate_before: apply rotates it")


# ------------------------------------------------------------------------------------------ manifest


def _federated(out: _Lines, app: ExistingApp, note: Any, d: int) -> None:
    """Federated credentials as manifest entries: the github/kubernetes form when the subject fits it.

    Written only when the app has some (an absent key leaves them alone, so nothing is lost either way).
    """
    if not app.federated_credentials:
        return
    out.add(d, "federated_credentials:")
    for cred in app.federated_credentials:
        if not _FIC_NAME.match(cred.name) or len(cred.audiences) != 1:
            note(d + 1, f"federated credential {cred.name!r} cannot be declared here (name or audiences)")
            continue
        out.add(d + 1, f"- name: {scalar(cred.name)}")
        if cred.description:
            out.field(d + 2, "description", cred.description)
        github = GithubActions.from_subject(cred.subject) if cred.issuer == GITHUB_ISSUER else None
        kubernetes = KubernetesServiceAccount.from_claims(cred.issuer, cred.subject)
        if github is not None:
            out.add(d + 2, "github:")
            for key, value in github.model_dump(exclude_defaults=True).items():
                out.field(d + 3, key, value)
        elif kubernetes is not None:
            out.add(d + 2, "kubernetes:")
            for key, value in kubernetes.model_dump().items():
                out.field(d + 3, key, value)
        else:
            out.field(d + 2, "issuer", cred.issuer)
            out.field(d + 2, "subject", cred.subject)
        if cred.audiences[0] != TOKEN_EXCHANGE_AUDIENCE:
            out.field(d + 2, "audience", cred.audiences[0])


def _assignments(out: _Lines, app: ExistingApp, d: int) -> None:
    """``assignment_required`` and the users/groups assigned to the app, by object ID (exact, whatever
    the names), each with its display name as a comment. Written only when there is something to keep:
    an absent key leaves assignments alone."""
    sp = app.service_principal
    if sp is None:
        return
    if sp.assignment_required:
        out.field(d, "assignment_required", True, note="only assigned users and groups can sign in")
    for key, kind in (("assigned_users", "User"), ("assigned_groups", "Group")):
        found = [a for a in app.principal_assignments or [] if a.principal_type == kind]
        if not found:
            continue
        out.add(d, f"{key}:")
        for principal_id in dict.fromkeys(a.principal_id for a in found):
            name = next(
                (a.principal_name for a in found if a.principal_id == principal_id and a.principal_name), None
            )
            tail = f"  {_comment(printable(name, one_line=True))}" if name else ""
            out.add(d + 1, f"- {scalar(principal_id)}{tail}")


def _owners(out: _Lines, app: ExistingApp, d: int) -> None:
    """The users owning the app, by object ID with the user principal name as a comment; absent (owners
    left alone) when no user owns it. Service principal owners are not managed, so not written."""
    users = [o for o in app.owners or [] if o.kind == "User"]
    if not users:
        return
    out.add(d, "owners:")
    for owner in users:
        tail = f"  {_comment(printable(owner.name, one_line=True))}" if owner.name != owner.id else ""
        out.add(d + 1, f"- {scalar(owner.id)}{tail}")


def export_manifest(inventory: Inventory, *, now: datetime | None = None) -> list[ExportedApp]:
    """Every app of ``inventory`` as an exported list item, names unique across the export."""
    now = now or datetime.now(UTC)
    taken: set[str] = set()
    # uniqueNames first, so a display-name slug never takes another exported app's uniqueName
    ordered = sorted(inventory.apps, key=lambda a: (not _valid_unique(a), a.display_name.lower(), a.app_id))
    names = {a.object_id: manifest_name(a, taken) for a in ordered}
    return [export_app(a, names[a.object_id], inventory.resources, now) for a in inventory.apps]


def _valid_unique(app: ExistingApp) -> bool:
    return bool(app.unique_name and _NAME.match(app.unique_name.lower()))


def manifest_text(apps: list[ExportedApp], *, tenant_id: str | None, now: datetime | None = None) -> str:
    """A complete manifest file (``version: 1`` + ``apps:``) with a header comment."""
    now = now or datetime.now(UTC)
    header = [
        _comment(
            f"Exported by `provisioner export` from tenant {tenant_id or '?'} on "
            f"{now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}."
        ),
        _comment(
            "Secret values are never exported. `provisioner plan` with this file should show no changes"
        ),
        _comment("except where a comment below says otherwise. Sinks and extra_values exist only in"),
        _comment("manifests (Entra does not know them): add them back as needed."),
        "version: 1",
        "apps:",
    ]
    return "\n".join(header) + "\n" + "".join(a.yaml for a in apps)


# ------------------------------------------------------------------------------------------ the command


@dataclass
class ExportResult:
    tenant_id: str | None
    apps: list[ExportedApp]
    text: str | None = None  # the whole manifest (stdout mode)
    files: list[Path] = field(default_factory=list)  # --out mode


def run_export(
    *,
    app_id: str | None,
    display_name: str | None,
    everything: bool,
    out_dir: Path | None,
    force: bool,
    options: RunOptions,
) -> ExportResult:
    """Read the selected registrations and write (``out_dir``: one ``<name>.yaml`` each) or return YAML."""
    import asyncio

    if sum(bool(x) for x in (app_id, display_name, everything)) != 1:
        raise ProvisionerError("choose exactly one of --app-id, --name or --all")
    with open_target(
        emulator=options.emulator, tenant=options.tenant, cloud=options.cloud, state_dir=options.state_dir
    ) as target:
        inventory = asyncio.run(
            _read(target, app_id=app_id, display_name=display_name, everything=everything)
        )
    if not inventory.apps:
        wanted = f"appId {app_id}" if app_id else f"display name {display_name!r}" if display_name else "any"
        raise ProvisionerError(f"no application with {wanted} in tenant {inventory.tenant_id or '?'}")
    now = datetime.now(UTC)
    apps = export_manifest(inventory, now=now)
    result = ExportResult(tenant_id=inventory.tenant_id, apps=apps)
    if out_dir is None:
        result.text = manifest_text(apps, tenant_id=inventory.tenant_id, now=now)
        return result

    targets = [(out_dir / f"{a.name}.yaml", a) for a in apps]
    existing = [str(p) for p, _ in targets if p.exists()]
    if existing and not force:
        raise ProvisionerError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    ensure_private_dir(out_dir)
    for path, item in targets:
        atomic_write_text(path, manifest_text([item], tenant_id=inventory.tenant_id, now=now), mode=0o644)
        result.files.append(path)
    return result


async def _read(target: Any, *, app_id: str | None, display_name: str | None, everything: bool) -> Inventory:
    async with graph_client(target) as client:
        apps = await select_applications(
            client, app_id=app_id, display_name=display_name, everything=everything
        )
        return await complete(client, apps, target.tenant_id)


__all__ = [
    "ExportResult",
    "ExportedApp",
    "export_app",
    "export_manifest",
    "manifest_name",
    "manifest_text",
    "round_lifetime",
    "run_export",
    "scalar",
    "slug",
]
