"""Which Microsoft Graph permissions the tool itself needs, per feature, and which request needs which.

One table serves three purposes:

* ``provisioner doctor`` compares a credential's roles (app-only) or scopes
  (delegated) with what the manifests need (:func:`needs_for_apps`);
* a 403 from Graph becomes a one-line error naming the missing permission
  (:func:`need_for_request`, used by :func:`provisioner.graph.failures.graph_error`);
* docs/reliability.md lists the minimal set per feature, and an emulator test
  per row proves it with a caller holding exactly that permission.

Least privilege: ``Application.ReadWrite.OwnedBy`` suffices to create apps and
service principals and to manage secrets of apps the caller created (Graph makes
the creator an owner); ``Application.ReadWrite.All`` is needed only to change
registrations someone else created (adoption). Admin consent needs
``DelegatedPermissionGrant.ReadWrite.All`` (delegated permissions) and
``AppRoleAssignment.ReadWrite.All`` (application permissions) — only when a
manifest asks for ``admin_consent: true`` with permissions of that kind. Sets
follow the permission tables of the Graph v1.0 API pages (and the emulator's
:mod:`provisioner.emulator.graph.auth`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_DIR_READ = ("Directory.Read.All", "Directory.ReadWrite.All")
_USER_ANY = ("Directory.AccessAsUser.All",)  # delegated: acts with the signed-in admin's directory role


@dataclass(frozen=True)
class Need:
    """A feature, the least privileged permission for it, and every permission that also allows it."""

    key: str
    feature: str  # "create applications" (completes "needed to ...")
    least: str
    alternatives: tuple[str, ...] = ()  # other application permissions that allow it (higher privileged)
    scopes: tuple[str, ...] = ()  # delegated permissions that allow it
    note: str = ""
    label: str = ""  # how messages name the choice, when there is one

    @property
    def roles(self) -> frozenset[str]:
        return frozenset((self.least, *self.alternatives))

    def satisfied_by(self, granted: Iterable[str], *, delegated: bool = False) -> bool:
        allowed = frozenset(self.scopes) if delegated else self.roles
        return not allowed.isdisjoint(granted)

    def named(self) -> str:
        """How messages name the choice, e.g. "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)"."""
        return self.label or self.least

    def message(self) -> str:
        text = f"the caller lacks {self.named()} needed to {self.feature}"
        return f"{text} ({self.note})" if self.note else text


READ = Need(
    "read",
    "read applications and service principals",
    "Application.Read.All",
    ("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", *_DIR_READ),
    ("Application.Read.All", "Application.ReadWrite.All", *_DIR_READ, *_USER_ANY),
    label="Application.Read.All (or Application.ReadWrite.OwnedBy)",
)
CREATE_APP = Need(
    "create_app",
    "create applications",
    "Application.ReadWrite.OwnedBy",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All", *_USER_ANY),
    label="Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)",
)
UPDATE_APP = Need(
    "update_app",
    "update applications and their client secrets",
    "Application.ReadWrite.OwnedBy",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All", *_USER_ANY),
    note="OwnedBy covers only applications the caller owns",
    label="Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)",
)
ADOPT_APP = Need(
    "adopt_app",
    "change registrations the caller does not own (app_id / adopt)",
    "Application.ReadWrite.All",
    (),
    ("Application.ReadWrite.All", *_USER_ANY),
    note="alternatively make the caller an owner of each adopted registration",
)
CREATE_SP = Need(
    "create_sp",
    "create service principals",
    "Application.ReadWrite.OwnedBy",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All", *_USER_ANY),
    label="Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)",
)
GRANT_DELEGATED = Need(
    "grant_delegated",
    "grant admin consent for delegated permissions",
    "DelegatedPermissionGrant.ReadWrite.All",
    (),
    ("DelegatedPermissionGrant.ReadWrite.All", *_USER_ANY),
)
GRANT_APPLICATION = Need(
    "grant_application",
    "grant admin consent for application permissions",
    "AppRoleAssignment.ReadWrite.All",
    (),
    ("AppRoleAssignment.ReadWrite.All", *_USER_ANY),
)
ADD_OWNER = Need(
    "add_owner",
    "add and remove the owners of applications (owners)",
    "Application.ReadWrite.All",
    (),
    ("Application.ReadWrite.All", *_USER_ANY),
)
READ_ORGANIZATION = Need(
    "read_organization",
    "read the tenant's organization (only when no tenant ID is given)",
    "Organization.Read.All",
    ("Organization.ReadWrite.All", *_DIR_READ),
    ("User.Read", "Organization.Read.All", *_DIR_READ, *_USER_ANY),
)
# User and group assignment (assigned_users / assigned_groups): find each principal, then assign it on the
# app's service principal (POST servicePrincipals/{id}/appRoleAssignedTo: AppRoleAssignment.ReadWrite.All
# and Application.Read.All, which READ covers). Listing users: User.Read.All is the least privileged
# application permission that can $filter by userPrincipalName (User.ReadBasic.All cannot filter);
# listing groups: GroupMember.Read.All.
ASSIGN_PRINCIPALS = Need(
    "assign_principals",
    "assign users and groups to applications (assigned_users / assigned_groups)",
    "AppRoleAssignment.ReadWrite.All",
    (),
    ("AppRoleAssignment.ReadWrite.All", *_USER_ANY),
)
READ_USERS = Need(
    "read_users",
    "find the users assigned_users and owners name",
    "User.Read.All",
    ("User.ReadWrite.All", *_DIR_READ),
    ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", *_DIR_READ, *_USER_ANY),
)
READ_GROUPS = Need(
    "read_groups",
    "find the groups assigned_groups names",
    "GroupMember.Read.All",
    ("Group.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", *_DIR_READ),
    ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", *_DIR_READ, *_USER_ANY),
)

ALL_NEEDS: tuple[Need, ...] = (
    READ,
    CREATE_APP,
    UPDATE_APP,
    CREATE_SP,
    GRANT_DELEGATED,
    GRANT_APPLICATION,
    ADOPT_APP,
    ADD_OWNER,
    READ_ORGANIZATION,
    ASSIGN_PRINCIPALS,
    READ_USERS,
    READ_GROUPS,
)

# (method, path regex relative to /v1.0) -> need; first match wins.
_ID = r"[^/]+"
_REQUESTS: tuple[tuple[str, re.Pattern[str], Need], ...] = tuple(
    (method, re.compile(pattern, re.IGNORECASE), need)
    for method, pattern, need in (
        ("*", rf"^/applications/{_ID}/owners", ADD_OWNER),
        ("POST", r"^/applications/?$", CREATE_APP),
        ("PATCH", r"^/applications\(uniqueName=", CREATE_APP),
        ("*", r"^/applications", UPDATE_APP),
        ("*", rf"^/servicePrincipals/{_ID}/appRoleAssign", GRANT_APPLICATION),
        ("*", r"^/servicePrincipals", CREATE_SP),
        ("*", r"^/oauth2PermissionGrants", GRANT_DELEGATED),
    )
)


def need_for_request(method: str, path: str) -> Need | None:
    """The permission a refused (403) request needed; reads map to :data:`READ`."""
    method = method.upper()
    path = path.split("?", 1)[0]
    if method == "GET":
        if path.lower().startswith("/organization"):
            return READ_ORGANIZATION
        if path.lower().startswith("/users"):
            return READ_USERS
        if path.lower().startswith("/groups"):
            return READ_GROUPS
        return READ
    for wanted, pattern, need in _REQUESTS:
        if wanted in ("*", method) and pattern.search(path):
            return need
    return None


def needs_for_apps(apps: Sequence[Any]) -> list[Need]:
    """The minimal set of needs for applying ``apps`` (manifest App objects or LoadedApp wrappers)."""
    apps = [getattr(a, "app", a) for a in apps]
    needs = [READ, CREATE_APP, CREATE_SP]
    if any(a.app_id or a.adopt for a in apps):
        needs.append(ADOPT_APP)
    consenting = [a for a in apps if a.admin_consent]
    if any(p.delegated for a in consenting for p in a.permissions.values()):
        needs.append(GRANT_DELEGATED)
    if any(p.application for a in consenting for p in a.permissions.values()):
        needs.append(GRANT_APPLICATION)
    users = [getattr(a, "assigned_users", None) for a in apps]
    groups = [getattr(a, "assigned_groups", None) for a in apps]
    if any(u is not None or g is not None for u, g in zip(users, groups, strict=True)):
        needs.append(ASSIGN_PRINCIPALS)
    owners = [getattr(a, "owners", None) for a in apps]
    if any(o is not None for o in owners):
        needs.append(ADD_OWNER)
    if any(users) or any(owners):
        needs.append(READ_USERS)
    if any(groups):
        needs.append(READ_GROUPS)
    return needs


def missing(needs: Iterable[Need], granted: Iterable[str], *, delegated: bool) -> list[Need]:
    held = frozenset(granted)
    return [n for n in needs if not n.satisfied_by(held, delegated=delegated)]


def minimal_set(needs: Iterable[Need]) -> list[str]:
    """The fewest application permissions covering ``needs`` (what docs and doctor recommend)."""
    chosen = list(dict.fromkeys(n.least for n in needs))
    if "Application.ReadWrite.All" in chosen:  # adoption: All covers OwnedBy and reading
        chosen = [p for p in chosen if p not in ("Application.ReadWrite.OwnedBy", "Application.Read.All")]
    if "Application.ReadWrite.OwnedBy" in chosen:  # OwnedBy also reads applications and service principals
        chosen = [p for p in chosen if p != "Application.Read.All"]
    return chosen
