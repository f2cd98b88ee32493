"""The plan: a pure diff of desired vs. current tenant state.

``make_plan`` never calls Graph and never sees a secret value, so it is unit
tested on plain dataclasses and its JSON form is safe to print or snapshot.
Each :class:`Action` is one logical step that apply executes (one or a few
Graph calls); ``details`` carries the object IDs apply needs, ``changes`` the
field-level before/after a reviewer reads.

Consent policy (see :mod:`provisioner.graph.consent`): with ``admin_consent: true``
the delegated grant (consentType AllPrincipals) and the app role assignments
mirror the manifest exactly. With ``admin_consent: false`` the tool grants
nothing, but still revokes consent for permissions the manifest no longer
declares, so removing a permission always removes access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provisioner.model.desired import ROLE, SCOPE, Desired, DesiredApp
from provisioner.model.federated import DesiredFederated, ExistingFederated
from provisioner.model.redirects import normalize
from provisioner.model.tenant import (
    ALL_PRINCIPALS,
    DEFAULT_ACCESS_ROLE,
    ExistingApp,
    ExistingSecret,
    Grant,
    ResourceSP,
    TenantState,
)

#: Action kinds that take access away from people: apply asks for --yes without a terminal.
REMOVES_ACCESS = frozenset({"remove_assignment", "remove_owner"})

KIND_ORDER: tuple[str, ...] = (
    "create_app",
    "update_app",
    # federated credentials: removals first, so a renamed one frees its issuer+subject pair
    "remove_federated_credential",
    "update_federated_credential",
    "create_federated_credential",
    "add_owner",
    "remove_owner",  # after the additions: an app replacing its owner is never left without one
    "create_service_principal",
    "update_service_principal",
    "grant_delegated",
    "update_delegated_grant",
    "revoke_delegated",
    "assign_app_role",
    "revoke_app_role",
    "assign_principal",
    "remove_assignment",
    "mint_secret",
    "remove_secret",
    "retire_secret",  # added by provisioner.engine.rotation (secret lifecycle)
    "replace_orphan_secret",
    # certificates (key credentials): the secret lifecycle on keyCredentials
    "mint_certificate",
    "remove_certificate",
    "retire_certificate",
    "replace_orphan_certificate",
    # the service principal's own secrets (servicePrincipals/{id}/addPassword): the same lifecycle
    "mint_sp_secret",
    "retire_sp_secret",
    "replace_orphan_sp_secret",
    "delete_app",  # prune / destroy (provisioner.engine.prune, provisioner.engine.destroy): apps no manifest keeps
)


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass
class Action:
    kind: str
    app: str
    summary: str
    changes: list[Change] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "app": self.app,
            "summary": self.summary,
            "changes": [c.to_dict() for c in self.changes],
            "details": self.details,
        }


@dataclass
class Plan:
    tenant_id: str | None
    actions: list[Action] = field(default_factory=list)
    #: Where each app's connection values go (one line per sink, default file first).
    destinations: dict[str, list[str]] = field(default_factory=dict)
    #: What would make apply fail locally, per app (one line each); such apps are not changed.
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.actions

    @property
    def removes_access(self) -> bool:
        """Whether applying takes access away from users or groups (a deletion: needs consent)."""
        return any(a.kind in REMOVES_ACCESS for a in self.actions)

    @property
    def blocked_apps(self) -> list[str]:
        """Apps a local problem keeps from being changed."""
        return sorted(name for name, found in self.problems.items() if found)

    def drop_blocked(self) -> set[str]:
        """Remove the actions of apps a local problem blocks (nothing is written for them); their names."""
        blocked = set(self.blocked_apps)
        self.actions = [a for a in self.actions if a.app not in blocked]
        return blocked

    def problem_lines(self) -> list[str]:
        return [line for name in sorted(self.problems) for line in self.problems[name]]

    def for_app(self, name: str) -> list[Action]:
        return [a for a in self.actions if a.app == name]

    def by_app(self) -> dict[str, list[Action]]:
        """Actions grouped by app in plan order: one pass, where ``for_app`` per app would be quadratic."""
        grouped: dict[str, list[Action]] = {}
        for action in self.actions:
            grouped.setdefault(action.app, []).append(action)
        return grouped

    def counts(self) -> dict[str, int]:
        counts = {kind: sum(1 for a in self.actions if a.kind == kind) for kind in KIND_ORDER}
        return {k: v for k, v in counts.items() if v}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly, deterministic, and free of secret values by construction."""
        return {
            "tenant_id": self.tenant_id,
            "changes_pending": not self.is_empty,
            "counts": self.counts(),
            "actions": [a.to_dict() for a in self.actions],
            "destinations": self.destinations,
            "problems": self.problems,
        }


# ---------------------------------------------------------------- helpers


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _set_diff(before: Iterable[str], after: Iterable[str]) -> str:
    b, a = set(before), set(after)
    return " ".join([*(f"[+{v}]" for v in sorted(a - b)), *(f"[-{v}]" for v in sorted(b - a))])


def _label(resources: dict[str, ResourceSP], app_id: str) -> str:
    res = resources.get(app_id)
    return res.display_name if res else app_id


def _permission_labels(
    resources: dict[str, ResourceSP], rra: dict[str, frozenset[tuple[str, str]]]
) -> list[str]:
    """``requiredResourceAccess`` as sorted readable strings: "Microsoft Graph Mail.Send (delegated)"."""
    out: list[str] = []
    for app_id, pairs in rra.items():
        res = resources.get(app_id)
        for perm_id, kind in pairs:
            if kind == SCOPE:
                name = res.scope_name(perm_id) if res else perm_id
                out.append(f"{_label(resources, app_id)} {name} (delegated)")
            else:
                name = res.role_name(perm_id) if res else perm_id
                out.append(f"{_label(resources, app_id)} {name} (application)")
    return sorted(out)


def _norm_set(uris: Iterable[str]) -> list[str]:
    return sorted({normalize(u) for u in uris})


# ---------------------------------------------------------------- application fields


def app_changes(want: DesiredApp, have: ExistingApp, resources: dict[str, ResourceSP]) -> list[Change]:
    """Field-level differences that an application PATCH fixes (order-insensitive for lists)."""
    changes: list[Change] = []

    def scalar(name: str, before: Any, after: Any) -> None:
        if before != after:
            changes.append(Change(name, before, after))

    def as_set(name: str, before: Iterable[str], after: Iterable[str]) -> None:
        b, a = sorted(set(before)), sorted(set(after))
        if b != a:
            changes.append(Change(name, b, a))

    scalar("displayName", have.display_name, want.display_name)
    scalar("signInAudience", have.sign_in_audience, want.sign_in_audience)
    if want.requested_access_token_version is not None:
        scalar(
            "api.requestedAccessTokenVersion",
            have.requested_access_token_version,
            want.requested_access_token_version,
        )
    as_set("web.redirectUris", _norm_set(have.web_redirect_uris), want.web_redirect_uris)
    scalar(
        "web.implicitGrantSettings.enableAccessTokenIssuance",
        have.implicit_access_tokens,
        want.implicit_access_tokens,
    )
    scalar(
        "web.implicitGrantSettings.enableIdTokenIssuance", have.implicit_id_tokens, want.implicit_id_tokens
    )
    as_set("spa.redirectUris", _norm_set(have.spa_redirect_uris), want.spa_redirect_uris)
    as_set(
        "publicClient.redirectUris",
        _norm_set(have.public_client_redirect_uris),
        want.public_client_redirect_uris,
    )
    scalar("isFallbackPublicClient", have.is_fallback_public_client, want.is_fallback_public_client)
    have_rra = {k: v for k, v in have.required_resource_access.items() if v}
    want_rra = want.required_resource_access_sets()
    if have_rra != want_rra:
        changes.append(
            Change(
                "requiredResourceAccess",
                _permission_labels(resources, have_rra),
                _permission_labels(resources, want_rra),
            )
        )
    scalar("notes", have.notes or None, want.notes or None)
    as_set("tags", have.tags, want.tags)
    return changes


def _change_text(change: Change) -> str:
    if isinstance(change.after, list):
        return f"{change.field} {_set_diff(change.before or [], change.after)}"
    if isinstance(change.after, bool) or isinstance(change.before, bool):
        return f"{change.field} {str(change.before).lower()} -> {str(change.after).lower()}"
    return f"{change.field} {change.before!r} -> {change.after!r}"


def _create_changes(want: DesiredApp, resources: dict[str, ResourceSP]) -> list[Change]:
    fields: list[tuple[str, Any]] = [
        ("uniqueName", want.name),
        ("displayName", want.display_name),
        ("signInAudience", want.sign_in_audience),
        ("api.requestedAccessTokenVersion", want.requested_access_token_version),
        ("web.redirectUris", sorted(want.web_redirect_uris)),
        ("web.implicitGrantSettings.enableAccessTokenIssuance", want.implicit_access_tokens),
        ("web.implicitGrantSettings.enableIdTokenIssuance", want.implicit_id_tokens),
        ("spa.redirectUris", sorted(want.spa_redirect_uris)),
        ("publicClient.redirectUris", sorted(want.public_client_redirect_uris)),
        ("isFallbackPublicClient", want.is_fallback_public_client),
        ("requiredResourceAccess", _permission_labels(resources, want.required_resource_access_sets())),
        ("notes", want.notes),
        ("tags", sorted(want.tags)),
    ]
    return [Change(name, None, value) for name, value in fields if value not in (None, [], False)]


# ---------------------------------------------------------------- consent


def _consent_actions(
    want: DesiredApp, have: ExistingApp | None, resources: dict[str, ResourceSP]
) -> list[Action]:
    actions: list[Action] = []
    requested: dict[str, set[str]] = {}  # resource appId -> declared scope values
    requested_roles: dict[str, set[str]] = {}  # resource appId -> declared role ids
    for app_id, pairs in want.required_resource_access.items():
        res = resources.get(app_id)
        for perm_id, kind in pairs:
            if kind == SCOPE and res:
                requested.setdefault(app_id, set()).add(res.scope_name(perm_id))
            elif kind == ROLE:
                requested_roles.setdefault(app_id, set()).add(perm_id)
    by_sp_id = {r.id: r for r in resources.values()}

    # -- delegated: one AllPrincipals grant per (client, resource)
    grants: dict[str, list[Grant]] = {}
    if have and have.service_principal:
        for grant in have.delegated_grants:
            if grant.consent_type == ALL_PRINCIPALS:
                grants.setdefault(grant.resource_id, []).append(grant)
    targets: dict[str, frozenset[str]] = dict(want.delegated_grants)
    if not want.admin_consent:
        # Not granting, but never leave consent for permissions the manifest dropped.
        for res_id, found in grants.items():
            res = by_sp_id.get(res_id)
            if res is not None:
                targets[res.app_id] = frozenset(found[0].scopes & requested.get(res.app_id, set()))
    handled: set[str] = set()
    for app_id in sorted(targets, key=lambda a: (_label(resources, a), a)):
        res = resources.get(app_id)
        if res is None:
            continue
        handled.add(res.id)
        scopes = targets[app_id]
        label = res.display_name
        current = grants.get(res.id, [])
        extra = current[1:]
        if not current and scopes:
            actions.append(
                Action(
                    "grant_delegated",
                    want.name,
                    f"grant {label} delegated: {_names(scopes)} (admin consent, all users)",
                    [Change(f"grant.{label}.scope", None, sorted(scopes))],
                    {"resource_app_id": app_id, "resource_id": res.id, "scopes": sorted(scopes)},
                )
            )
        elif current and not scopes:
            extra = current
        elif current and current[0].scopes != scopes:
            grant = current[0]
            actions.append(
                Action(
                    "update_delegated_grant",
                    want.name,
                    f"update {label} delegated grant: {_set_diff(grant.scopes, scopes)} "
                    "(admin consent, all users)",
                    [Change(f"grant.{label}.scope", sorted(grant.scopes), sorted(scopes))],
                    {
                        "grant_id": grant.id,
                        "resource_app_id": app_id,
                        "resource_id": res.id,
                        "scopes": sorted(scopes),
                        "added": sorted(scopes - grant.scopes),
                        "removed": sorted(grant.scopes - scopes),
                    },
                )
            )
        actions.extend(_revoke_grant(want.name, g, label) for g in extra)
    for res_id in sorted(set(grants) - handled):
        res = by_sp_id.get(res_id)
        label = res.display_name if res else res_id
        actions.extend(_revoke_grant(want.name, g, label) for g in grants[res_id])

    # -- application: app role assignments of the client SP
    assigned: dict[str, dict[str, list[str]]] = {}  # resource SP id -> role id -> assignment ids
    if have and have.service_principal:
        for ra in have.role_assignments:
            assigned.setdefault(ra.resource_id, {}).setdefault(ra.app_role_id, []).append(ra.id)
    role_targets: dict[str, frozenset[str]] = dict(want.app_roles)
    if not want.admin_consent:
        for res_id, roles in assigned.items():
            res = by_sp_id.get(res_id)
            if res is not None:
                role_targets[res.app_id] = frozenset(set(roles) & requested_roles.get(res.app_id, set()))
    handled = set()
    for app_id in sorted(role_targets, key=lambda a: (_label(resources, a), a)):
        res = resources.get(app_id)
        if res is None:
            continue
        handled.add(res.id)
        want_roles = role_targets[app_id]
        have_roles = assigned.get(res.id, {})
        missing = sorted(want_roles - set(have_roles))
        if missing and want.admin_consent:
            names = [res.role_name(r) for r in missing]
            actions.append(
                Action(
                    "assign_app_role",
                    want.name,
                    f"assign {res.display_name} application: {_names(names)} (admin consent)",
                    [
                        Change(
                            f"appRoleAssignments.{res.display_name}",
                            sorted(res.role_name(r) for r in have_roles),
                            sorted(res.role_name(r) for r in want_roles),
                        )
                    ],
                    {
                        "resource_app_id": app_id,
                        "resource_id": res.id,
                        "app_role_ids": missing,
                        "roles": sorted(names),
                    },
                )
            )
        revoke = {r: ids for r, ids in have_roles.items() if r not in want_roles}
        duplicates = [i for r, ids in have_roles.items() if r in want_roles for i in ids[1:]]
        if revoke or duplicates:
            actions.append(_revoke_roles(want.name, res.id, res, revoke, duplicates))
    for res_id in sorted(set(assigned) - handled):
        res = by_sp_id.get(res_id)
        actions.append(_revoke_roles(want.name, res_id, res, assigned[res_id], []))
    return actions


def _revoke_grant(app: str, grant: Grant, label: str) -> Action:
    return Action(
        "revoke_delegated",
        app,
        f"revoke {label} delegated: {_names(grant.scopes) or '(empty grant)'}",
        [Change(f"grant.{label}.scope", sorted(grant.scopes), None)],
        {"grant_id": grant.id, "resource_id": grant.resource_id, "scopes": sorted(grant.scopes)},
    )


def _revoke_roles(
    app: str, res_id: str, res: ResourceSP | None, revoke: dict[str, list[str]], duplicates: list[str]
) -> Action:
    label = res.display_name if res else res_id
    names = sorted((res.role_name(r) if res else r) for r in revoke)
    ids = sorted([i for group in revoke.values() for i in group] + duplicates)
    text = _names(names) if names else f"{len(duplicates)} duplicate assignment(s)"
    return Action(
        "revoke_app_role",
        app,
        f"revoke {label} application: {text}",
        [Change(f"appRoleAssignments.{label}", names, None)],
        {"resource_id": res_id, "assignment_ids": ids, "app_role_ids": sorted(revoke), "roles": names},
    )


# ---------------------------------------------------------------- user and group assignment


def _assignment_actions(want: DesiredApp, have: ExistingApp | None) -> list[Action]:
    """``appRoleAssignmentRequired`` and the users/groups assigned to the app's service principal.

    A principal counts as assigned when it holds any role of the app (a role given by hand on an adopted
    app stays); a missing one gets default access. Principals of a managed type (``assigned_users`` or
    ``assigned_groups`` declared) that the manifest does not list lose their assignments; so do
    duplicates. Service principals assigned to the app's roles are never touched here.
    """
    actions: list[Action] = []
    sp = have.service_principal if have else None
    required = want.assignment_required
    if required is not None and sp is not None and sp.assignment_required is not required:
        before = "unknown" if sp.assignment_required is None else str(sp.assignment_required).lower()
        actions.append(
            Action(
                "update_service_principal",
                want.name,
                f"update service principal: appRoleAssignmentRequired {before} -> {str(required).lower()}",
                [Change("appRoleAssignmentRequired", sp.assignment_required, required)],
                {"sp_id": sp.object_id, "assignment_required": required},
            )
        )
    if not want.assigned_types:
        return actions
    existing = [
        a
        for a in ((have.principal_assignments or []) if sp is not None and have is not None else [])
        if a.principal_type in want.assigned_types
    ]
    wanted = {p.id: p for p in want.assignments}
    held: dict[str, list[str]] = {}  # principal id -> roles held (in assignment id order)
    for assignment in sorted(existing, key=lambda a: a.id):
        roles = held.setdefault(assignment.principal_id, [])
        duplicate = assignment.app_role_id in roles
        roles.append(assignment.app_role_id)
        if assignment.principal_id in wanted and not duplicate:
            continue
        label = assignment.principal_name or assignment.principal_id
        why = "duplicate assignment" if duplicate else "not in the manifest"
        actions.append(
            Action(
                "remove_assignment",
                want.name,
                f"remove assignment of {assignment.principal_type.lower()} {label} ({why})",
                [Change(f"appRoleAssignedTo.{label}", assignment.app_role_id, None)],
                {
                    "assignment_id": assignment.id,
                    "principal_id": assignment.principal_id,
                    "principal_type": assignment.principal_type,
                    "name": label,
                },
            )
        )
    for principal in want.assignments:
        if principal.id in held:
            continue
        actions.append(
            Action(
                "assign_principal",
                want.name,
                f"assign {principal.kind.lower()} {principal.name} (default access)",
                [Change(f"appRoleAssignedTo.{principal.name}", None, "default access")],
                {
                    "principal_id": principal.id,
                    "principal_type": principal.kind,
                    "name": principal.name,
                    "app_role_id": DEFAULT_ACCESS_ROLE,
                },
            )
        )
    return actions


# ---------------------------------------------------------------- owners


def _owner_actions(want: DesiredApp, have: ExistingApp | None) -> list[Action]:
    """The app's user owners, exactly as the manifest lists them (when it lists them).

    Only users are managed: a service principal owner (this tool's own identity when it created the app
    with Application.ReadWrite.OwnedBy, or an automation's) is never removed.
    """
    if want.owners is None:
        return []
    current = [o for o in (have.owners or []) if o.kind == "User"] if have is not None else []
    wanted = {o.id for o in want.owners}
    actions = [
        Action(
            "remove_owner",
            want.name,
            f"remove owner {owner.name} (not in the manifest)",
            [Change(f"owners.{owner.name}", owner.id, None)],
            {"owner_id": owner.id, "name": owner.name},
        )
        for owner in current
        if owner.id not in wanted
    ]
    held = {o.id for o in current}
    actions += [
        Action(
            "add_owner",
            want.name,
            f"add owner {owner.name}",
            [Change(f"owners.{owner.name}", None, owner.id)],
            {"owner_id": owner.id, "name": owner.name},
        )
        for owner in want.owners
        if owner.id not in held
    ]
    return actions


# ---------------------------------------------------------------- secrets


def _secret_actions(want: DesiredApp, have: ExistingApp | None, now: datetime) -> list[Action]:
    actions: list[Action] = []
    existing = have.secrets if have else []
    for secret in want.secrets:
        live = [s for s in existing if s.display_name == secret.name and (s.end is None or s.end > now)]
        latest = max((s.end for s in live if s.end), default=None)
        reason: str | None = None
        if not live:
            reason = "missing"
        elif latest is not None and latest - now <= secret.rotate_window:
            expiry = latest.strftime("%Y-%m-%dT%H:%M:%SZ")
            reason = f"expires {expiry}, within rotate_before {secret.rotate_before}"
        if reason:
            actions.append(
                Action(
                    "mint_secret",
                    want.name,
                    f"mint secret {secret.name!r} (expires in {secret.expires_in}; {reason})",
                    [
                        Change(
                            f"passwordCredentials.{secret.name}", None, f"new, expires in {secret.expires_in}"
                        )
                    ],
                    {"name": secret.name, "expires_in": secret.expires_in, "reason": reason},
                )
            )
    if have is not None and have.managed:
        actions += _remove_undeclared(
            want,
            existing,
            {s.name for s in want.secrets},
            kind="remove_secret",
            noun="secret",
            unnamed="(no description)",
            collection="passwordCredentials",
            identify=lambda old: f"hint {old.hint or '?'}...",
        )
    return actions


def _remove_undeclared(
    want: DesiredApp,
    credentials: Iterable[ExistingSecret],
    declared: set[str],
    *,
    kind: str,
    noun: str,
    unnamed: str,
    collection: str,
    identify: Callable[[ExistingSecret], str],
    **details: str,
) -> list[Action]:
    """One removal per credential of a managed app whose name the manifest does not declare.

    Secrets and certificates share the rule (matched by display name, oldest name first); only the
    words and the Graph collection differ.
    """
    actions: list[Action] = []
    for old in sorted(credentials, key=lambda c: (c.display_name or "", c.key_id)):
        if old.display_name in declared:
            continue
        expiry = old.end.strftime("%Y-%m-%d") if old.end else "never"
        actions.append(
            Action(
                kind,
                want.name,
                f"remove undeclared {noun} {old.display_name or unnamed!r} ({identify(old)}, expires {expiry})",
                [Change(f"{collection}.{old.display_name}", old.key_id, None)],
                {"key_id": old.key_id, "name": old.display_name, **details},
            )
        )
    return actions


def _certificate_actions(want: DesiredApp, have: ExistingApp | None) -> list[Action]:
    """Undeclared certificates of a managed app whose manifest declares ``certificates:`` are removed.

    Mints (missing, due, replaced file) are the rotation policy's decision
    (:mod:`provisioner.engine.rotation`), which sees what the sinks hold.
    """
    if want.certificates is None or have is None or not have.managed:
        return []
    return _remove_undeclared(
        want,
        have.certificates,
        {c.name for c in want.certificates},
        kind="remove_certificate",
        noun="certificate",
        unnamed="(no name)",
        collection="keyCredentials",
        identify=lambda old: f"thumbprint {old.hint or '?'}",
        object_id=have.object_id,
    )


# ---------------------------------------------------------------- federated identity credentials


def _federated_text(cred: DesiredFederated | ExistingFederated) -> str:
    return f"issuer {cred.issuer}, subject {cred.subject}, audience {', '.join(cred.audiences)}"


def _federated_actions(want: DesiredApp, have: ExistingApp | None) -> list[Action]:
    """Match by name (immutable in Entra); differing issuer/subject/audience/description is a PATCH.

    Nothing when the manifest leaves the key out. Undeclared credentials are removed only from
    apps carrying the ownership marker, like undeclared secrets.
    """
    if want.federated_credentials is None:
        return []
    actions: list[Action] = []
    existing = (have.federated_credentials or []) if have else []
    by_name = {f.name.lower(): f for f in existing}
    declared = {c.name.lower() for c in want.federated_credentials}
    if have is not None and have.managed:
        for old in existing:
            if old.name.lower() in declared:
                continue
            actions.append(
                Action(
                    "remove_federated_credential",
                    want.name,
                    f"remove undeclared federated credential {old.name!r} ({_federated_text(old)})",
                    [Change(f"federatedIdentityCredentials.{old.name}", _federated_text(old), None)],
                    {"id": old.id, "name": old.name},
                )
            )
    for cred in want.federated_credentials:
        found = by_name.get(cred.name.lower())
        if found is None:
            actions.append(
                Action(
                    "create_federated_credential",
                    want.name,
                    f"create federated credential {cred.name!r} ({_federated_text(cred)})",
                    [Change(f"federatedIdentityCredentials.{cred.name}", None, _federated_text(cred))],
                    {"name": cred.name},
                )
            )
            continue
        changes = [
            Change(f"federatedIdentityCredentials.{cred.name}.{prop}", before, after)
            for prop, before, after in (
                ("issuer", found.issuer, cred.issuer),
                ("subject", found.subject, cred.subject),
                ("audiences", list(found.audiences), list(cred.audiences)),
                ("description", found.description or None, cred.description or None),
            )
            if before != after
        ]
        if changes:
            text = "; ".join(f"{c.field.rsplit('.', 1)[1]} {c.before!r} -> {c.after!r}" for c in changes)
            actions.append(
                Action(
                    "update_federated_credential",
                    want.name,
                    f"update federated credential {cred.name!r}: {text}",
                    changes,
                    {"id": found.id, "name": cred.name},
                )
            )
    return actions


# ---------------------------------------------------------------- the plan


def make_plan(desired: Desired, state: TenantState, *, now: datetime | None = None) -> Plan:
    """Diff ``desired`` against ``state``: ordered actions, apps by name, steps in dependency order."""
    now = now or datetime.now(UTC)
    resources = {**state.resources, **desired.resources}
    actions: list[Action] = []
    for name in sorted(desired.apps):
        want = desired.apps[name]
        have = state.apps.get(name)
        app_actions: list[Action] = []
        if have is None:
            app_actions.append(
                Action(
                    "create_app",
                    name,
                    f"create application {name} ({want.display_name})",
                    _create_changes(want, resources),
                    {"unique_name": name},
                )
            )
        else:
            changes = app_changes(want, have, resources)
            if changes:
                app_actions.append(
                    Action(
                        "update_app",
                        name,
                        "update application: " + "; ".join(_change_text(c) for c in changes),
                        changes,
                        {
                            "object_id": have.object_id,
                            "app_id": have.app_id,
                            "fields": [c.field for c in changes],
                        },
                    )
                )
        if have is None or have.service_principal is None:
            required = want.assignment_required
            app_actions.append(
                Action(
                    "create_service_principal",
                    name,
                    "create service principal (enterprise application)"
                    + (", assignment required" if required else ""),
                    [Change("appRoleAssignmentRequired", None, True)] if required else [],
                    {
                        "app_id": have.app_id if have else None,
                        **({"assignment_required": True} if required else {}),
                    },
                )
            )
        app_actions += _consent_actions(want, have, resources)
        app_actions += _assignment_actions(want, have)
        app_actions += _owner_actions(want, have)
        app_actions += _secret_actions(want, have, now)
        app_actions += _federated_actions(want, have)
        app_actions += _certificate_actions(want, have)
        app_actions.sort(key=lambda a: KIND_ORDER.index(a.kind))  # stable: keeps resource order inside a kind
        actions += app_actions
    return Plan(tenant_id=state.tenant_id, actions=actions)
