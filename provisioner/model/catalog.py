"""The bundled permission catalogue: Microsoft Graph and Office 365 Exchange Online.

Offline validation (``provisioner validate``) checks permission names against
these files instead of a tenant, so typos fail in CI before any credential is
needed. The JSON files are real service-principal dumps (see SOURCES.md); this
module only indexes them.

Design notes:

* Loaded lazily and once (``functools.cache``): the Graph file is ~800 KB and
  most commands touch it at most once per process.
* Stdlib only: this sits on the ``validate`` hot path, which must start fast,
  so nothing here may import msgraph / azure.
* Duplicate values inside one kind (Exchange publishes two delegated
  ``User.ReadBasic.All`` scopes with different ids): the **first** entry in the
  file wins and the rest are kept in :attr:`Resource.shadowed` so nothing is lost
  silently. Graph's requiredResourceAccess needs one id per name, and the first
  one is what the public dumps list first.
* Resource names: the display name (case-insensitive), the appId, or one of the
  short aliases in :data:`ALIASES`. Aliases are deliberately few.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from provisioner.data import NAMES, load_catalog

Kind = Literal["delegated", "application"]

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"


#: Short names accepted wherever a resource is named (keys are lower-case).
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "graph": GRAPH_APP_ID,
        "microsoft-graph": GRAPH_APP_ID,
        "exchange": EXCHANGE_APP_ID,
        "exchange-online": EXCHANGE_APP_ID,
    }
)

#: Privileged regardless of the published privilegeLevel (which is missing or
#: lower for some of them): each lets an app grant itself or others more power,
#: or read every mailbox. Keyed by resource appId.
ALWAYS_PRIVILEGED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        GRAPH_APP_ID: frozenset(
            {
                "RoleManagement.ReadWrite.Directory",
                "AppRoleAssignment.ReadWrite.All",
                "Application.ReadWrite.All",
                "Directory.ReadWrite.All",
            }
        ),
        EXCHANGE_APP_ID: frozenset({"full_access_as_app"}),
    }
)


@dataclass(frozen=True, slots=True)
class Permission:
    """One delegated scope or application role of a resource."""

    id: str
    value: str
    kind: Kind
    #: Scopes: ``type == "Admin"`` (unknown ``type`` counts as False). App roles: always True.
    admin_consent_required: bool
    #: 1 (lowest) .. 4 (privileged); None where no public source states it.
    privilege_level: int | None
    display_name: str
    description: str
    resource_app_id: str = ""


@dataclass(frozen=True)
class Resource:
    """A resource API (service principal) and its permissions, indexed by value."""

    app_id: str
    display_name: str
    scopes: Mapping[str, Permission]
    roles: Mapping[str, Permission]
    service_principal_names: tuple[str, ...] = ()
    #: Later duplicates of a value within one kind (first one wins in ``scopes``/``roles``).
    shadowed: tuple[Permission, ...] = field(default=())

    def permissions(self, kind: Kind) -> Mapping[str, Permission]:
        return self.scopes if kind == "delegated" else self.roles

    def get(self, value: str, kind: Kind) -> Permission | None:
        return self.permissions(kind).get(value)


def _scope(raw: dict[str, Any], app_id: str) -> Permission:
    return Permission(
        id=raw["id"],
        value=raw["value"],
        kind="delegated",
        admin_consent_required=raw.get("type") == "Admin",
        privilege_level=raw.get("privilegeLevel"),
        display_name=raw.get("adminConsentDisplayName") or "",
        description=raw.get("adminConsentDescription") or "",
        resource_app_id=app_id,
    )


def _role(raw: dict[str, Any], app_id: str) -> Permission:
    return Permission(
        id=raw["id"],
        value=raw["value"],
        kind="application",
        admin_consent_required=True,
        privilege_level=raw.get("privilegeLevel"),
        display_name=raw.get("displayName") or "",
        description=raw.get("description") or "",
        resource_app_id=app_id,
    )


def _index(items: Iterable[Permission], shadowed: list[Permission]) -> Mapping[str, Permission]:
    out: dict[str, Permission] = {}
    for item in items:
        if item.value in out:
            shadowed.append(item)
        else:
            out[item.value] = item
    return MappingProxyType(out)


def _build(doc: dict[str, Any]) -> Resource:
    app_id = doc["appId"]
    shadowed: list[Permission] = []
    scopes = _index((_scope(s, app_id) for s in doc.get("oauth2PermissionScopes", [])), shadowed)
    roles = _index((_role(r, app_id) for r in doc.get("appRoles", [])), shadowed)
    return Resource(
        app_id=app_id,
        display_name=doc["displayName"],
        scopes=scopes,
        roles=roles,
        service_principal_names=tuple(doc.get("servicePrincipalNames", [])),
        shadowed=tuple(shadowed),
    )


@cache
def resources() -> tuple[Resource, ...]:
    """All bundled resources (loaded on first call, then cached for the process)."""
    return tuple(_build(load_catalog(name)) for name in NAMES)


@cache
def _by_key() -> Mapping[str, Resource]:
    index: dict[str, Resource] = {}
    for resource in resources():
        index[resource.app_id.lower()] = resource
        index[resource.display_name.lower()] = resource
    for alias, app_id in ALIASES.items():
        index[alias] = index[app_id]
    return MappingProxyType(index)


def resolve_resource(name_or_app_id: str) -> Resource | None:
    """Find a bundled resource by display name (any case), appId or alias; None if not bundled."""
    return _by_key().get(str(name_or_app_id).strip().lower())


def resource_names() -> list[str]:
    """Every spelling :func:`resolve_resource` accepts, display names first (for suggestions)."""
    return [r.display_name for r in resources()] + list(ALIASES)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``name`` for a "did you mean" hint, or None.

    A case-insensitive exact match wins (``mail.read`` -> ``Mail.Read``); otherwise
    difflib's ratio on lower-cased strings, so case slips do not hide a close match.
    """
    text = str(name)
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    if not text or not by_lower:
        return None
    if text.lower() in by_lower and by_lower[text.lower()] != text:
        return by_lower[text.lower()]
    match = difflib.get_close_matches(text.lower(), list(by_lower), n=1, cutoff=0.75)
    if not match or by_lower[match[0]] == text:
        return None
    return by_lower[match[0]]


def is_privileged(permission: Permission) -> bool:
    """privilegeLevel 4, or one of :data:`ALWAYS_PRIVILEGED` for its resource."""
    if permission.privilege_level == 4:
        return True
    return permission.value in ALWAYS_PRIVILEGED.get(permission.resource_app_id, frozenset())


__all__ = [
    "ALIASES",
    "ALWAYS_PRIVILEGED",
    "EXCHANGE_APP_ID",
    "GRAPH_APP_ID",
    "Kind",
    "Permission",
    "Resource",
    "is_privileged",
    "resolve_resource",
    "resource_names",
    "resources",
    "suggest",
]
