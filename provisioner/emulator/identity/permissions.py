"""Scopes, consent and the permissions that end up in tokens.

- ``scope`` strings are parsed the way the v2.0 endpoint does: space-separated,
  ``{resource}/{name}`` where the resource is an App ID URI or an appId, bare
  names meaning Microsoft Graph, ``/.default`` meaning "what is configured/consented",
  and the OIDC scopes ``openid profile email offline_access`` handled apart.
- App-only ``roles`` come from appRoleAssignments of the client SP on the resource SP.
- Delegated ``scp`` comes from oauth2PermissionGrants (AllPrincipals, or Principal
  for this user) intersected with what was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity import errors
from provisioner.emulator.identity.directory import find_resource, new_grant_id
from provisioner.emulator.identity.models import OIDC_SCOPES
from provisioner.emulator.identity.tokens import GRAPH_APP_ID, GRAPH_AUDIENCE

DEFAULT = ".default"
# OIDC scopes that are also Microsoft Graph delegated permissions (consented on the Graph SP,
# listed in Graph tokens' scp). offline_access is consented there too but never appears in scp.
GRAPH_OIDC_SCP = ("openid", "profile", "email")


@dataclass
class ResourceRequest:
    """The scopes asked of one resource, names in the resource's own casing."""

    sp: dict[str, Any]
    identifier: str  # as the client wrote it, without a trailing slash
    names: list[str] = field(default_factory=list)

    @property
    def is_default(self) -> bool:
        return DEFAULT in self.names

    @property
    def is_graph(self) -> bool:
        return self.sp.get("appId") == GRAPH_APP_ID


@dataclass
class ScopeRequest:
    raw: str
    oidc: set[str] = field(default_factory=set)
    resources: list[ResourceRequest] = field(default_factory=list)

    @property
    def items(self) -> list[str]:
        return self.raw.split()


def _split_item(item: str) -> tuple[str, str] | None:
    """("https://graph.microsoft.com", "User.Read") for a qualified scope, None for a bare name.

    A URI without a scope name (``https://graph.microsoft.com``) yields an empty name.
    """
    scheme_end = item.find("://")
    path_start = item.find("/", scheme_end + 3) if scheme_end >= 0 else item.find("/")
    if path_start < 0:
        return (item, "") if scheme_end >= 0 else None
    cut = item.rfind("/")
    return item[:cut], item[cut + 1 :]


def parse_scopes(ctx: EmulatorContext, tenant_id: str, tenant_name: str, scope: str) -> ScopeRequest:
    """Resolve every scope to its resource SP and canonical name, or raise the AADSTS error for it."""
    request = ScopeRequest(raw=" ".join(scope.split()))
    by_sp: dict[str, ResourceRequest] = {}
    for item in request.items:
        if item.lower() in OIDC_SCOPES:
            request.oidc.add(item.lower())
            continue
        split = _split_item(item)
        identifier, name = split if split else (GRAPH_AUDIENCE, item)
        identifier = identifier.rstrip("/")
        if not name:
            raise errors.invalid_scope(item)
        sp = find_resource(ctx, tenant_id, identifier)
        if sp is None:
            raise errors.resource_not_found(identifier, tenant_name)
        if name.lower() == DEFAULT:
            canonical = DEFAULT
        else:
            known = {s["value"].lower(): s["value"] for s in sp.get("oauth2PermissionScopes") or []}
            if name.lower() not in known:
                raise errors.invalid_scope(item)
            canonical = known[name.lower()]
        entry = by_sp.get(sp["id"])
        if entry is None:
            entry = by_sp[sp["id"]] = ResourceRequest(sp=sp, identifier=identifier)
            request.resources.append(entry)
        if canonical not in entry.names:
            entry.names.append(canonical)
    return request


def graph_sp(ctx: EmulatorContext, tenant_id: str) -> dict[str, Any] | None:
    return find_resource(ctx, tenant_id, GRAPH_APP_ID)


# -- app-only -------------------------------------------------------------------------------------


def granted_roles(
    ctx: EmulatorContext, tenant_id: str, client_sp_id: str, resource_sp: dict[str, Any]
) -> list[str]:
    """Values of the resource's app roles assigned to the client service principal."""
    role_values = {
        r["id"]: r.get("value") for r in resource_sp.get("appRoles") or [] if r.get("isEnabled", True)
    }
    roles: list[str] = []
    for assignment in ctx.store.find(
        tenant_id, "appRoleAssignments", principalId=client_sp_id, resourceId=resource_sp["id"]
    ):
        value = role_values.get(assignment.get("appRoleId"))
        if value and value not in roles:
            roles.append(value)
    return roles


# -- delegated ------------------------------------------------------------------------------------


def _grants(
    ctx: EmulatorContext, tenant_id: str, client_sp_id: str, resource_sp_id: str, user_id: str
) -> list[dict[str, Any]]:
    return [
        g
        for g in ctx.store.find(
            tenant_id, "oauth2PermissionGrants", clientId=client_sp_id, resourceId=resource_sp_id
        )
        if g.get("consentType") == "AllPrincipals"
        or (g.get("consentType") == "Principal" and g.get("principalId") == user_id)
    ]


def consented_scopes(
    ctx: EmulatorContext, tenant_id: str, client_sp_id: str | None, resource_sp_id: str, user_id: str
) -> dict[str, str]:
    """{lower-case name: name} of every scope the user (or an admin for everyone) consented to."""
    if client_sp_id is None:
        return {}
    result: dict[str, str] = {}
    for grant in _grants(ctx, tenant_id, client_sp_id, resource_sp_id, user_id):
        for name in str(grant.get("scope") or "").split():
            result.setdefault(name.lower(), name)
    return result


def statically_required(app: dict[str, Any], resource_sp: dict[str, Any]) -> list[str]:
    """Delegated permissions the app registration lists for this resource (what ``/.default`` asks for)."""
    by_id = {s["id"]: s["value"] for s in resource_sp.get("oauth2PermissionScopes") or []}
    names: list[str] = []
    for rra in app.get("requiredResourceAccess") or []:
        if rra.get("resourceAppId") != resource_sp.get("appId"):
            continue
        for access in rra.get("resourceAccess") or []:
            value = by_id.get(access.get("id"))
            if access.get("type") == "Scope" and value and value not in names:
                names.append(value)
    return names


@dataclass
class MissingConsent:
    """Scopes on one resource the user has not consented to yet (what the consent page lists)."""

    sp: dict[str, Any]
    scopes: list[dict[str, Any]]  # entries of the resource's oauth2PermissionScopes

    @property
    def needs_admin(self) -> bool:
        # type None (not published for some scopes) is treated as user-consentable.
        return any(s.get("type") == "Admin" for s in self.scopes)


def missing_consent(
    ctx: EmulatorContext,
    tenant_id: str,
    app: dict[str, Any],
    client_sp_id: str | None,
    user_id: str,
    request: ScopeRequest,
) -> list[MissingConsent]:
    """What the consent page must ask for before a code can be issued for ``request``."""
    wanted: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for res in request.resources:
        names = [n for n in res.names if n != DEFAULT]
        if res.is_default:
            names += [n for n in statically_required(app, res.sp) if n not in names]
        wanted[res.sp["id"]] = (res.sp, names)
    if request.oidc:
        gsp = graph_sp(ctx, tenant_id)
        if gsp is not None:
            _, names = wanted.setdefault(gsp["id"], (gsp, []))
            names += sorted(o for o in request.oidc if o not in names)
    missing: list[MissingConsent] = []
    for sp_id, (sp, names) in wanted.items():
        have = consented_scopes(ctx, tenant_id, client_sp_id, sp_id, user_id)
        defs = {s["value"].lower(): s for s in sp.get("oauth2PermissionScopes") or []}
        lacking = [defs[n.lower()] for n in names if n.lower() not in have and n.lower() in defs]
        if lacking:
            missing.append(MissingConsent(sp=sp, scopes=lacking))
    return missing


def record_consent(
    ctx: EmulatorContext,
    tenant_id: str,
    client_sp_id: str,
    user_id: str,
    missing: list[MissingConsent],
    *,
    all_principals: bool,
) -> None:
    """Create or extend oauth2PermissionGrants (Graph shape) for what the user just consented to."""
    consent_type = "AllPrincipals" if all_principals else "Principal"
    principal_id = None if all_principals else user_id
    with ctx.store.transaction():
        for item in missing:
            existing = [
                g
                for g in ctx.store.find(
                    tenant_id, "oauth2PermissionGrants", clientId=client_sp_id, resourceId=item.sp["id"]
                )
                if g.get("consentType") == consent_type and g.get("principalId") == principal_id
            ]
            names = [s["value"] for s in item.scopes]
            if existing:
                grant = existing[0]
                current = str(grant.get("scope") or "").split()
                grant["scope"] = " ".join(current + [n for n in names if n not in current])
            else:
                grant = {
                    "id": new_grant_id(),
                    "clientId": client_sp_id,
                    "consentType": consent_type,
                    "principalId": principal_id,
                    "resourceId": item.sp["id"],
                    "scope": " ".join(names),
                }
            ctx.store.put(tenant_id, "oauth2PermissionGrants", grant)


@dataclass
class DelegatedToken:
    """The resource and scp of a delegated access token."""

    resource: ResourceRequest
    scp: list[str]

    @property
    def scope_string(self) -> str:
        """The token response's ``scope``: resource-qualified names (Graph's OIDC names bare)."""
        out = []
        for name in self.scp:
            out.append(name if name in GRAPH_OIDC_SCP else f"{self.resource.identifier}/{name}")
        return " ".join(out)


def delegated_token(
    ctx: EmulatorContext,
    tenant_id: str,
    tenant_name: str,
    app: dict[str, Any],
    client_sp_id: str | None,
    user_id: str,
    request: ScopeRequest,
) -> DelegatedToken:
    """Resource and scp for a token-endpoint request (one resource only, like the real endpoint)."""
    if len(request.resources) > 1:
        raise errors.multiple_resources(request.raw)
    if request.resources:
        res = request.resources[0]
    else:
        # Only OIDC scopes asked: the access token is for Microsoft Graph.
        gsp = graph_sp(ctx, tenant_id)
        if gsp is None:
            raise errors.resource_not_found(GRAPH_AUDIENCE, tenant_name)
        res = ResourceRequest(sp=gsp, identifier=GRAPH_AUDIENCE)
    have = consented_scopes(ctx, tenant_id, client_sp_id, res.sp["id"], user_id)
    explicit = [n for n in res.names if n != DEFAULT]
    if any(n.lower() not in have for n in explicit) or (not have and res.names):
        raise errors.consent_required(app["appId"], str(app.get("displayName") or ""))
    # /.default: everything consented on the resource; otherwise exactly what was asked for.
    scp = [name for key, name in have.items() if key != "offline_access"] if res.is_default else explicit
    if res.is_graph:
        for oidc in GRAPH_OIDC_SCP:
            if oidc in request.oidc and oidc in have and oidc not in scp:
                scp.append(oidc)
    return DelegatedToken(resource=res, scp=scp)
