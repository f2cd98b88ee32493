"""Typed token-endpoint failures, each with a one-line message saying what to do.

The identity platform reports failures as ``{"error", "error_description":
"AADSTSnnnn: ...", "error_codes": [n]}``. The OAuth ``error`` value is too coarse
(``invalid_grant`` covers a revoked and an expired refresh token alike), so the
AADSTS number decides the type (codes as Microsoft's "AADSTS error codes" reference lists them).
Messages carry identifiers only (app, client ID, tenant, AADSTS code), never a
secret, code or token.
"""

from __future__ import annotations

from provisioner.core.errors import CredentialError


class TokenError(CredentialError):
    """The token endpoint refused a request. ``code`` is the AADSTS number when known."""

    #: Short machine-readable label used by ``verify --json`` (e.g. "revoked", "expired").
    kind = "error"

    def __init__(self, message: str, *, code: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.error = error


class SecretExpired(TokenError):
    """AADSTS7000222: the client secret in the connection file is past its end date."""

    kind = "secret_expired"


class SecretInvalid(TokenError):
    """AADSTS7000215: no secret of the application matches the one presented."""

    kind = "secret_invalid"


class ClientNotFound(TokenError):
    """AADSTS700016: the client ID is not an application of (or provisioned in) the tenant."""

    kind = "client_not_found"


class RefreshTokenRevoked(TokenError):
    """AADSTS50173: the user's sessions were revoked (password reset, revokeSignInSessions)."""

    kind = "revoked"


class RefreshTokenExpired(TokenError):
    """AADSTS700082 / 70008: the refresh token was unused for longer than its 90-day inactivity window."""

    kind = "expired"


class ConsentMissing(TokenError):
    """AADSTS65001: nobody consented to the scopes asked for."""

    kind = "consent_missing"


class TokenInvalidated(TokenError):
    """A stored token file no longer belongs to the connection (client ID changed)."""

    kind = "invalidated"


class AuthorizationFailed(TokenError):
    """The browser came back with ``error=...`` (declined consent, admin consent required, ...)."""

    kind = "authorization_failed"


class ThrottledError(TokenError):
    """429/503 persisted through every retry."""

    kind = "throttled"
