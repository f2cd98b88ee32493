"""Records the identity platform keeps: authorization codes and refresh tokens.

Both are bearer credentials, so the store keeps only a SHA-256 of the value (the
record id); a leaked emulator database cannot be replayed against it. Records
live in the tenant they were issued in, kinds ``authCodes`` and ``refreshTokens``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from provisioner.emulator.clock import iso, parse_iso

AUTH_CODES = "authCodes"
REFRESH_TOKENS = "refreshTokens"

# The v2 auth-code flow doc (2026): "Authorization codes are short lived. Typically, they expire after
# about 1 minute." (older revisions said 10 minutes).
AUTH_CODE_LIFETIME = timedelta(seconds=60)
# Refresh tokens: 90 days sliding for everyone, a fixed 24 h for SPAs (configurable-token-lifetimes).
REFRESH_TOKEN_INACTIVITY = timedelta(days=90)
SPA_REFRESH_TOKEN_LIFETIME = timedelta(hours=24)
ACCESS_TOKEN_LIFETIME_SECONDS = 3599

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


def precise_iso(dt: datetime) -> str:
    """Microsecond UTC timestamp for sign-in times: revocation compares them with Graph's
    second-precision ``signInSessionsValidFromDateTime``, and a sign-in in the same second as a
    revocation must not count as before it."""
    return iso(dt)[:-1] + f".{dt.microsecond:06d}Z"


def hash_value(value: str) -> str:
    """The record id of a code or refresh token: the raw value is never stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_opaque_value(prefix: str) -> str:
    """An opaque credential. The prefix only helps a human tell codes from refresh tokens."""
    return f"{prefix}{secrets.token_urlsafe(48)}"


@dataclass
class AuthCode:
    """One authorization code, redeemable once, for the scopes the user consented to at /authorize."""

    id: str
    client_id: str
    tenant_id: str
    user_id: str
    redirect_uri: str
    platform: str  # "web" | "spa" | "publicClient": decides whether a client credential is required
    scopes: list[str]
    auth_time: datetime
    issued: datetime
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    redeemed: datetime | None = None

    @property
    def expires(self) -> datetime:
        return self.issued + AUTH_CODE_LIFETIME

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clientId": self.client_id,
            "tenantId": self.tenant_id,
            "userId": self.user_id,
            "redirectUri": self.redirect_uri,
            "platform": self.platform,
            "scopes": list(self.scopes),
            "authTime": iso(self.auth_time),
            "issuedDateTime": iso(self.issued),
            "nonce": self.nonce,
            "codeChallenge": self.code_challenge,
            "codeChallengeMethod": self.code_challenge_method,
            "redeemedDateTime": iso(self.redeemed) if self.redeemed else None,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AuthCode:
        return cls(
            id=rec["id"],
            client_id=rec["clientId"],
            tenant_id=rec["tenantId"],
            user_id=rec["userId"],
            redirect_uri=rec["redirectUri"],
            platform=rec["platform"],
            scopes=list(rec["scopes"]),
            auth_time=parse_iso(rec["authTime"]),
            issued=parse_iso(rec["issuedDateTime"]),
            nonce=rec.get("nonce"),
            code_challenge=rec.get("codeChallenge"),
            code_challenge_method=rec.get("codeChallengeMethod"),
            redeemed=parse_iso(rec["redeemedDateTime"]) if rec.get("redeemedDateTime") else None,
        )


@dataclass
class RefreshToken:
    """One refresh token. ``auth_time`` is the interactive sign-in it descends from (checked against
    the user's ``signInSessionsValidFromDateTime``); inactivity is measured from ``last_active``."""

    id: str
    client_id: str
    tenant_id: str
    user_id: str
    platform: str
    scopes: list[str]
    auth_time: datetime
    issued: datetime
    last_used: datetime | None = None
    spa_expires: datetime | None = None

    @property
    def last_active(self) -> datetime:
        return max(self.issued, self.last_used) if self.last_used else self.issued

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clientId": self.client_id,
            "tenantId": self.tenant_id,
            "userId": self.user_id,
            "platform": self.platform,
            "scopes": list(self.scopes),
            "authTime": iso(self.auth_time),
            "issuedDateTime": iso(self.issued),
            "lastUsedDateTime": iso(self.last_used) if self.last_used else None,
            "spaExpiresDateTime": iso(self.spa_expires) if self.spa_expires else None,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> RefreshToken:
        return cls(
            id=rec["id"],
            client_id=rec["clientId"],
            tenant_id=rec["tenantId"],
            user_id=rec["userId"],
            platform=rec["platform"],
            scopes=list(rec["scopes"]),
            auth_time=parse_iso(rec["authTime"]),
            issued=parse_iso(rec["issuedDateTime"]),
            last_used=parse_iso(rec["lastUsedDateTime"]) if rec.get("lastUsedDateTime") else None,
            spa_expires=parse_iso(rec["spaExpiresDateTime"]) if rec.get("spaExpiresDateTime") else None,
        )


@dataclass(frozen=True)
class TokenResult:
    """What a successful grant produces; rendered as the token endpoint's JSON."""

    access_token: str
    scope: str | None
    expires_in: int = ACCESS_TOKEN_LIFETIME_SECONDS
    refresh_token: str | None = None
    id_token: str | None = None
    client_info: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"token_type": "Bearer"}
        if self.scope is not None:
            body["scope"] = self.scope
        body.update(
            expires_in=self.expires_in, ext_expires_in=self.expires_in, access_token=self.access_token
        )
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.id_token:
            body["id_token"] = self.id_token
        if self.client_info:
            body["client_info"] = self.client_info
        return body

    def __repr__(self) -> str:  # tokens never reach reprs or logs
        return f"TokenResult(scope={self.scope!r}, expires_in={self.expires_in})"
