"""The token endpoint's grants: client_credentials, authorization_code (+PKCE), refresh_token.

Each function takes an already-resolved tenant and application, validates the
grant exactly as the v2.0 endpoint documents it and returns a :class:`TokenResult`
or raises :class:`~provisioner.emulator.identity.errors.OAuthError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from provisioner.emulator.clock import iso, parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity import errors
from provisioner.emulator.identity.clients import ClientCredentials, authenticate
from provisioner.emulator.identity.directory import assignment_refusal, find_service_principal, get_user
from provisioner.emulator.identity.models import (
    ACCESS_TOKEN_LIFETIME_SECONDS,
    AUTH_CODES,
    REFRESH_TOKEN_INACTIVITY,
    REFRESH_TOKENS,
    SPA_REFRESH_TOKEN_LIFETIME,
    AuthCode,
    RefreshToken,
    TokenResult,
    hash_value,
    new_opaque_value,
    precise_iso,
)
from provisioner.emulator.identity.permissions import (
    DEFAULT,
    ScopeRequest,
    delegated_token,
    granted_roles,
    parse_scopes,
)
from provisioner.emulator.identity.tokens import V1, V2, b64url, mint_access_token, mint_id_token

# azpacr / appidacr: how the client authenticated (0 public, 1 secret, 2 certificate).
_ACR = {"none": "0", "secret": "1", "certificate": "2"}


@dataclass(frozen=True)
class GrantContext:
    """Everything a grant needs about the request, resolved once by the route."""

    tenant_id: str
    tenant_name: str
    app: dict[str, Any]
    creds: ClientCredentials
    form: Mapping[str, str]
    audiences: set[str]  # acceptable `aud` values of a client assertion (this token endpoint)
    #: Filled while the grant runs: the client credential that matched (method, keyId, thumbprint),
    #: the user of a code/refresh redemption, the resource; the route logs the sign-in from it.
    used: dict[str, Any] = field(default_factory=dict)


def _authenticate(ctx: EmulatorContext, g: GrantContext) -> str:
    """The client's credential: one of the application's, or of its service principal in this tenant."""
    principal = find_service_principal(ctx, g.tenant_id, g.app["appId"])
    return authenticate(ctx, g.app, g.creds, audiences=g.audiences, used=g.used, principal=principal)


def _now(ctx: EmulatorContext) -> datetime:
    return ctx.clock.now()


def token_shape(
    ctx: EmulatorContext, tenant_id: str, identifier: str, resource_sp: dict[str, Any]
) -> tuple[str, str]:
    """(aud, version) of an access token for a resource: the resource decides.

    ``api.requestedAccessTokenVersion`` 2 -> a v2.0 token whose ``aud`` is the API's appId; null or 1
    (every first-party resource: Graph, Exchange, Key Vault, which have no registration in the
    tenant) -> a v1.0 token whose ``aud`` is the identifier the client asked for (access tokens
    reference: "In v1.0 tokens, it can be the client ID or the resource URI used in the request").
    """
    apps = ctx.store.find(tenant_id, "applications", appId=resource_sp.get("appId"))
    if apps and (apps[0].get("api") or {}).get("requestedAccessTokenVersion") == 2:
        return str(resource_sp["appId"]), V2
    return identifier, V1


# -- client_credentials ---------------------------------------------------------------------------


def client_credentials(ctx: EmulatorContext, g: GrantContext) -> TokenResult:
    method = _authenticate(ctx, g)
    scope = " ".join(g.form.get("scope", "").split())
    if not scope:
        raise errors.missing_parameter("scope")
    # Client credentials take only "{resource}/.default" (v2 client-creds flow doc); a named scope,
    # an OIDC scope or a bare name is AADSTS1002012, two resources AADSTS28000.
    if any(not item.lower().endswith("/" + DEFAULT) for item in scope.split()):
        raise errors.client_credentials_scope(scope)
    request = parse_scopes(ctx, g.tenant_id, g.tenant_name, scope)
    if len(request.resources) != 1:
        raise errors.multiple_resources(scope)
    resource = request.resources[0]
    g.used["resource"] = resource.identifier
    client_sp = find_service_principal(ctx, g.tenant_id, g.app["appId"])
    if client_sp is None:
        raise errors.missing_service_principal(g.app["appId"], g.tenant_id)
    roles = granted_roles(ctx, g.tenant_id, client_sp["id"], resource.sp)
    audience, version = token_shape(ctx, g.tenant_id, resource.identifier, resource.sp)
    token = mint_access_token(
        ctx,
        g.tenant_id,
        client_app_id=g.app["appId"],
        oid=client_sp["id"],
        audience=audience,
        roles=roles,
        lifetime_seconds=ACCESS_TOKEN_LIFETIME_SECONDS,
        version=version,
        client_auth=_ACR[method],
    )
    # The documented client-credentials response has no `scope` and never a refresh token.
    return TokenResult(access_token=token, scope=None)


# -- authorization codes ------------------------------------------------------------------------


def issue_code(
    ctx: EmulatorContext,
    *,
    tenant_id: str,
    client_id: str,
    user_id: str,
    redirect_uri: str,
    platform: str,
    scopes: list[str],
    auth_time: datetime,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> str:
    """Store a new code (hash only) and return its value for the redirect."""
    value = new_opaque_value("1.C.")
    now = _now(ctx)
    code = AuthCode(
        id=hash_value(value),
        client_id=client_id,
        tenant_id=tenant_id,
        user_id=user_id,
        redirect_uri=redirect_uri,
        platform=platform,
        scopes=scopes,
        auth_time=auth_time,
        issued=now,
        nonce=nonce,
        code_challenge=code_challenge,
        code_challenge_method=(code_challenge_method or "plain") if code_challenge else None,
    )
    with ctx.store.transaction():
        # Forget codes long past use so the table does not grow without bound.
        for rec in ctx.store.list(tenant_id, AUTH_CODES):
            if parse_iso(rec["issuedDateTime"]) < now - timedelta(hours=1):
                ctx.store.delete(tenant_id, AUTH_CODES, rec["id"])
        record = code.to_record()
        record["authTime"] = precise_iso(auth_time)
        ctx.store.put(tenant_id, AUTH_CODES, record)
    return value


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def _public_or_confidential(method: str | None, platform: str) -> str:
    """Confidential (web) redemption needs a credential; public (spa/native) clients may omit it."""
    if method is not None:
        if platform == "publicClient":
            raise errors.public_client_with_credential()
        return method
    if platform == "web":
        raise errors.credential_required()
    return "none"


def authorization_code(ctx: EmulatorContext, g: GrantContext) -> TokenResult:
    value = g.form.get("code")
    if not value:
        raise errors.missing_parameter("code")
    # A wrong secret is reported before anything about the code.
    method = _authenticate(ctx, g) if g.creds.presented else None
    record = ctx.store.get(g.tenant_id, AUTH_CODES, hash_value(value))
    if record is None or record.get("clientId") != g.app["appId"]:
        raise errors.invalid_code()
    code = AuthCode.from_record(record)
    now = _now(ctx)
    if code.redeemed is not None:
        raise errors.code_redeemed()
    if now > code.expires:
        raise errors.code_expired()
    redirect_uri = g.form.get("redirect_uri")
    if not redirect_uri:
        raise errors.missing_parameter("redirect_uri")
    if redirect_uri != code.redirect_uri:
        raise errors.redirect_uri_mismatch(redirect_uri, g.app["appId"])
    if code.code_challenge:
        verifier = g.form.get("code_verifier") or ""
        if not pkce_matches(verifier, code.code_challenge, code.code_challenge_method or "plain"):
            raise errors.pkce_mismatch()
    method = _public_or_confidential(method, code.platform)
    user = _active_user(ctx, g.tenant_id, code.user_id)
    requested = g.form.get("scope") or " ".join(code.scopes)
    request = parse_scopes(ctx, g.tenant_id, g.tenant_name, requested)
    granted_oidc = {s for s in code.scopes if s in ("openid", "profile", "email", "offline_access")}
    request.oidc |= granted_oidc
    with ctx.store.transaction():
        record["redeemedDateTime"] = iso(now)
        ctx.store.put(g.tenant_id, AUTH_CODES, record)
        return _user_tokens(
            ctx,
            g,
            user,
            request,
            method=method,
            platform=code.platform,
            auth_time=parse_iso(record["authTime"]),
            nonce=code.nonce,
            offline="offline_access" in granted_oidc,
            spa_expires=None,
        )


# -- refresh tokens -------------------------------------------------------------------------------


def refresh_token(ctx: EmulatorContext, g: GrantContext) -> TokenResult:
    value = g.form.get("refresh_token")
    if not value:
        raise errors.missing_parameter("refresh_token")
    method = _authenticate(ctx, g) if g.creds.presented else None
    record = ctx.store.get(g.tenant_id, REFRESH_TOKENS, hash_value(value))
    if record is None or record.get("clientId") != g.app["appId"]:
        raise errors.invalid_refresh_token()
    rt = RefreshToken.from_record(record)
    now = _now(ctx)
    method = _public_or_confidential(method, rt.platform)
    if rt.spa_expires is not None and now >= rt.spa_expires:
        raise errors.spa_refresh_token_expired(iso(rt.issued))
    if now - rt.last_active > REFRESH_TOKEN_INACTIVITY:
        raise errors.refresh_token_inactive(iso(rt.issued), (now - rt.last_active).days)
    user = get_user(ctx, g.tenant_id, rt.user_id)
    if user is None:
        raise errors.invalid_refresh_token()
    valid_from = user.get("_signInSessionsValidFrom") or user.get("signInSessionsValidFromDateTime")
    if valid_from and rt.auth_time < parse_iso(valid_from):
        raise errors.refresh_token_revoked(iso(rt.auth_time), iso(parse_iso(valid_from)))
    if user.get("accountEnabled") is False:
        raise errors.user_disabled()
    requested = g.form.get("scope") or " ".join(rt.scopes)
    request = parse_scopes(ctx, g.tenant_id, g.tenant_name, requested)
    request.oidc.add("offline_access")  # a refresh token exists, so offline access was granted
    # An ID token comes back on refresh when the grant included openid (auth-code flow doc's example).
    request.oidc |= {s for s in rt.scopes if s in ("openid", "profile", "email")}
    with ctx.store.transaction():
        # The old token stays valid ("the old one is not revoked", auth-code flow doc); using it
        # counts as activity for the inactivity window.
        record["lastUsedDateTime"] = iso(now)
        ctx.store.put(g.tenant_id, REFRESH_TOKENS, record)
        return _user_tokens(
            ctx,
            g,
            user,
            request,
            method=method,
            platform=rt.platform,
            auth_time=rt.auth_time,
            nonce=None,
            offline=True,
            spa_expires=rt.spa_expires,
        )


# -- shared -------------------------------------------------------------------------------------


def _active_user(ctx: EmulatorContext, tenant_id: str, user_id: str) -> dict[str, Any]:
    user = get_user(ctx, tenant_id, user_id)
    if user is None:
        raise errors.invalid_code()
    if user.get("accountEnabled") is False:
        raise errors.user_disabled()
    return user


def _user_tokens(
    ctx: EmulatorContext,
    g: GrantContext,
    user: dict[str, Any],
    request: ScopeRequest,
    *,
    method: str,
    platform: str,
    auth_time: datetime,
    nonce: str | None,
    offline: bool,
    spa_expires: datetime | None,
) -> TokenResult:
    refusal = assignment_refusal(ctx, g.tenant_id, g.app, user)  # code, refresh token: checked each time
    if refusal is not None:
        raise refusal
    client_sp = find_service_principal(ctx, g.tenant_id, g.app["appId"])
    delegated = delegated_token(
        ctx, g.tenant_id, g.tenant_name, g.app, client_sp["id"] if client_sp else None, user["id"], request
    )
    audience, version = token_shape(ctx, g.tenant_id, delegated.resource.identifier, delegated.resource.sp)
    g.used.update(user=user, resource=delegated.resource.identifier)
    access = mint_access_token(
        ctx,
        g.tenant_id,
        client_app_id=g.app["appId"],
        oid=user["id"],
        audience=audience,
        scp=" ".join(delegated.scp),
        lifetime_seconds=ACCESS_TOKEN_LIFETIME_SECONDS,
        version=version,
        client_auth=_ACR[method],
        user=user,
        extra={"sub": user["id"]},
    )
    scope = delegated.scope_string
    new_refresh = None
    if offline:
        new_refresh = _issue_refresh_token(
            ctx,
            g,
            user_id=user["id"],
            platform=platform,
            scopes=request.items or [],
            auth_time=auth_time,
            spa_expires=spa_expires,
        )
        scope = f"{scope} offline_access".strip()
    id_token = None
    if "openid" in request.oidc:
        id_token = mint_id_token(
            ctx, g.tenant_id, client_id=g.app["appId"], user=user, nonce=nonce, scopes=request.oidc
        )
    client_info = None
    if g.form.get("client_info") == "1":
        info = {"uid": user["id"], "utid": g.tenant_id}
        client_info = b64url(json.dumps(info, separators=(",", ":")).encode())
    return TokenResult(
        access_token=access,
        scope=scope,
        refresh_token=new_refresh,
        id_token=id_token,
        client_info=client_info,
    )


def _issue_refresh_token(
    ctx: EmulatorContext,
    g: GrantContext,
    *,
    user_id: str,
    platform: str,
    scopes: list[str],
    auth_time: datetime,
    spa_expires: datetime | None,
) -> str:
    value = new_opaque_value("1.R.")
    now = _now(ctx)
    if platform == "spa" and spa_expires is None:
        spa_expires = now + SPA_REFRESH_TOKEN_LIFETIME
    rt = RefreshToken(
        id=hash_value(value),
        client_id=g.app["appId"],
        tenant_id=g.tenant_id,
        user_id=user_id,
        platform=platform,
        scopes=scopes,
        auth_time=auth_time,
        issued=now,
        spa_expires=spa_expires,
    )
    record = rt.to_record()
    record["authTime"] = precise_iso(auth_time)
    record["issuedDateTime"] = precise_iso(now)
    ctx.store.put(g.tenant_id, REFRESH_TOKENS, record)
    return value


def s256_challenge(verifier: str) -> str:
    """The S256 code_challenge for a verifier (RFC 7636 4.2); used by tests and the authorize page."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
