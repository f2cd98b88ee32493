"""Who is calling, and may they do this? Bearer-token checks and Graph's permission rules.

Every Graph request carries an access token minted by the emulator's token
endpoint; its ``tid`` picks the tenant, ``roles`` (app-only) or ``scp``
(delegated) decide what is allowed. The table below follows the least-privilege
permissions listed on each Graph API page, so a manifest that "works in CI"
against the emulator asks for the same permissions it needs in a real tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.errors import GraphApiError, insufficient_privileges, invalid_token

GRAPH_AUDIENCES = frozenset(
    {"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}
)

# Messages Graph sends with 401 InvalidAuthenticationToken, by InvalidToken.reason.
_TOKEN_MESSAGES = {
    "empty": "Access token is empty.",
    "malformed": "IDX14100: JWT is not well formed, there are no dots (.).",
    "signature": "Access token validation failure.",
    "expired": "Lifetime validation failed, the token is expired.",
    "audience": "Access token validation failure. Invalid audience.",
    "issuer": "Access token validation failure. Invalid issuer.",
}


@dataclass(frozen=True)
class Caller:
    tenant: str
    oid: str  # the user (delegated) or the client's service principal (app-only)
    app_id: str
    delegated: bool
    roles: frozenset[str]
    scopes: frozenset[str]

    def has_any(self, rule: Rule) -> bool:
        granted = self.scopes if self.delegated else self.roles
        allowed = rule.scopes if self.delegated else rule.roles
        return not granted.isdisjoint(allowed)


@dataclass(frozen=True)
class Rule:
    """Permissions that allow one operation; ``owned_roles`` only on objects the caller owns."""

    roles: frozenset[str]
    scopes: frozenset[str]
    owned_roles: frozenset[str] = frozenset()


def _rule(roles: Iterable[str], scopes: Iterable[str], owned: Iterable[str] = ()) -> Rule:
    return Rule(frozenset(roles), frozenset(scopes), frozenset(owned))


_DIR_READ_ROLES = ("Directory.Read.All", "Directory.ReadWrite.All")
_DIR_READ_SCOPES = ("Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All")
_APP_READ = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    *_DIR_READ_ROLES,
)

RULES: dict[str, Rule] = {
    # List signIns (beta): least privileged AuditLog.Read.All, higher Directory.Read.All.
    "auditLogs.read": _rule(
        ("AuditLog.Read.All", "Directory.Read.All"), ("AuditLog.Read.All", "Directory.Read.All")
    ),
    "applications.read": _rule(
        _APP_READ, ("Application.Read.All", "Application.ReadWrite.All", *_DIR_READ_SCOPES)
    ),
    "applications.write": _rule(
        ("Application.ReadWrite.All",),
        ("Application.ReadWrite.All", "Directory.AccessAsUser.All"),
        owned=("Application.ReadWrite.OwnedBy",),
    ),
    # Adding owners: "Application.ReadWrite.OwnedBy is not sufficient to add another owner" (docs).
    "applications.owners": _rule(
        ("Application.ReadWrite.All",), ("Application.ReadWrite.All", "Directory.AccessAsUser.All")
    ),
    "servicePrincipals.read": _rule(
        _APP_READ, ("Application.Read.All", "Application.ReadWrite.All", *_DIR_READ_SCOPES)
    ),
    "servicePrincipals.write": _rule(
        ("Application.ReadWrite.All",),
        ("Application.ReadWrite.All", "Directory.AccessAsUser.All"),
        owned=("Application.ReadWrite.OwnedBy",),
    ),
    "grants.read": _rule(
        ("DelegatedPermissionGrant.ReadWrite.All", "DelegatedPermissionGrant.Read.All", *_APP_READ),
        (
            "DelegatedPermissionGrant.ReadWrite.All",
            "DelegatedPermissionGrant.Read.All",
            "Application.Read.All",
            *_DIR_READ_SCOPES,
        ),
    ),
    "grants.write": _rule(
        ("DelegatedPermissionGrant.ReadWrite.All",),
        ("DelegatedPermissionGrant.ReadWrite.All", "Directory.AccessAsUser.All"),
    ),
    "assignments.read": _rule(
        ("AppRoleAssignment.ReadWrite.All", *_APP_READ),
        ("AppRoleAssignment.ReadWrite.All", "Application.Read.All", *_DIR_READ_SCOPES),
    ),
    "assignments.write": _rule(
        ("AppRoleAssignment.ReadWrite.All",),
        ("AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"),
    ),
    # GET /users/{id}/appRoleAssignments: application Directory.Read.All (least) or
    # AppRoleAssignment.ReadWrite.All; delegated AppRoleAssignment.ReadWrite.All (least) or Directory.Read.All
    "userAssignments.read": _rule(
        ("Directory.Read.All", "Directory.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"),
        ("AppRoleAssignment.ReadWrite.All", *_DIR_READ_SCOPES),
    ),
    "users.read": _rule(
        ("User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All", *_DIR_READ_ROLES),
        ("User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All", *_DIR_READ_SCOPES),
    ),
    "users.revokeSessions": _rule(
        ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
        ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.AccessAsUser.All"),
    ),
    "me.read": _rule(
        (),
        (
            "User.Read",
            "User.ReadWrite",
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
            *_DIR_READ_SCOPES,
        ),
    ),
    "me.revokeSessions": _rule(
        (), ("User.RevokeSessions.All", "User.ReadWrite", "User.ReadWrite.All", "Directory.AccessAsUser.All")
    ),
    # groups: list/get least privileged GroupMember.Read.All; create Group.ReadWrite.All; add or remove
    # members GroupMember.ReadWrite.All (the group pages' permission tables)
    "groups.read": _rule(
        (
            "GroupMember.Read.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "GroupMember.ReadWrite.All",
            *_DIR_READ_ROLES,
        ),
        (
            "GroupMember.Read.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "GroupMember.ReadWrite.All",
            *_DIR_READ_SCOPES,
        ),
    ),
    "groups.write": _rule(
        ("Group.ReadWrite.All", "Directory.ReadWrite.All"),
        ("Group.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"),
    ),
    "groups.members.write": _rule(
        ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"),
        (
            "GroupMember.ReadWrite.All",
            "Group.ReadWrite.All",
            "Directory.ReadWrite.All",
            "Directory.AccessAsUser.All",
        ),
    ),
    # GET /directoryObjects/{id} and getByIds: Directory.Read.All is the least privileged permission.
    "directory.read": _rule(_DIR_READ_ROLES, _DIR_READ_SCOPES),
    # GET /me/ownedObjects: User.Read; application permissions are not supported (docs).
    "ownedObjects.read": _rule(
        (),
        ("User.Read", "User.ReadWrite", "User.Read.All", "User.ReadWrite.All", *_DIR_READ_SCOPES),
    ),
    # app management policies: read with Policy.Read.All, change with Policy.ReadWrite.ApplicationConfiguration
    "policies.read": _rule(
        ("Policy.Read.All", "Policy.ReadWrite.ApplicationConfiguration"),
        ("Policy.Read.All", "Policy.ReadWrite.ApplicationConfiguration"),
    ),
    "policies.write": _rule(
        ("Policy.ReadWrite.ApplicationConfiguration",), ("Policy.ReadWrite.ApplicationConfiguration",)
    ),
    "organization.read": _rule(
        ("Organization.Read.All", "Organization.ReadWrite.All", *_DIR_READ_ROLES),
        ("User.Read", "Organization.Read.All", "Organization.ReadWrite.All", *_DIR_READ_SCOPES),
    ),
    "mail.read": _rule(
        ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic", "Mail.ReadBasic.All"),
        ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"),
    ),
    "mail.readShared": _rule((), ("Mail.Read.Shared", "Mail.ReadWrite.Shared", "Mail.ReadBasic.Shared")),
    "mail.send": _rule(("Mail.Send",), ("Mail.Send",)),
    "mail.sendShared": _rule((), ("Mail.Send.Shared",)),
}


def authenticate(ctx: EmulatorContext, headers: Mapping[str, str]) -> Caller:
    """Verify the bearer token; 401 InvalidAuthenticationToken as Graph sends it otherwise."""
    from provisioner.emulator.identity.tokens import InvalidToken, verify_access_token

    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_token(_TOKEN_MESSAGES["empty"], ctx.base_url)
    if token.count(".") != 2:
        raise invalid_token(_TOKEN_MESSAGES["malformed"], ctx.base_url)
    try:
        claims = verify_access_token(ctx, token)
    except InvalidToken as exc:
        raise invalid_token(
            _TOKEN_MESSAGES.get(exc.reason, _TOKEN_MESSAGES["signature"]), ctx.base_url
        ) from None
    if not is_graph_audience(ctx, claims.get("aud")):
        raise invalid_token(_TOKEN_MESSAGES["audience"], ctx.base_url)
    return caller_from_claims(claims)


def is_graph_audience(ctx: EmulatorContext, audience: Any) -> bool:
    """Graph's names, or the emulator's own URL: a custom cloud's Graph resource id (``az cloud register``)."""
    if not isinstance(audience, str):
        return False
    return audience in GRAPH_AUDIENCES or audience.rstrip("/") == ctx.base_url.rstrip("/")


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    delegated = claims.get("idtyp") == "user" or "scp" in claims
    roles = claims.get("roles") or []
    return Caller(
        tenant=str(claims["tid"]),
        oid=str(claims.get("oid", "")),
        app_id=str(claims.get("appid") or claims.get("azp") or ""),
        delegated=delegated,
        roles=frozenset(roles if isinstance(roles, list) else []),
        scopes=frozenset(str(claims.get("scp", "")).split()),
    )


def require(
    caller: Caller, operation: str, *, owners: Iterable[str] | None = None, creating: bool = False
) -> None:
    """403 Authorization_RequestDenied unless the token grants ``operation``.

    ``*.OwnedBy`` roles count only for objects the caller owns (``owners``), or when
    ``creating`` one (Graph makes the calling app its owner).
    """
    rule = RULES[operation]
    if caller.has_any(rule):
        return
    owned_role = not caller.delegated and not caller.roles.isdisjoint(rule.owned_roles)
    if owned_role and (creating or (owners is not None and caller.oid in set(owners))):
        return
    raise insufficient_privileges()


def may(caller: Caller, operation: str) -> bool:
    try:
        require(caller, operation)
    except GraphApiError:
        return False
    return True
