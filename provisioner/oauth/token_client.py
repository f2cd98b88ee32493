"""The v2.0 token endpoint over plain httpx: three grants, bounded retries, typed errors.

Retries: HTTP 429 and 503 are retried up to :data:`TOKEN_MAX_RETRIES` times with growing
waits (1, 2, 4, 8, 16 s), never shorter than the server's ``Retry-After`` (seconds or
an HTTP date) and never longer than :data:`MAX_WAIT_SECONDS` - what scenario 2's ETL
tool does, and what Microsoft asks clients to do. Everything else is answered at once.

Errors: an OAuth error body becomes a :class:`~provisioner.oauth.token_errors.TokenError`
subclass chosen by the AADSTS number (the ``error`` string alone cannot tell a revoked
refresh token from an expired one); the message is one line and says what to run.
Request bodies (secrets, codes, refresh tokens) never reach a message or log.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from provisioner.oauth.token_errors import (
    ClientNotFound,
    ConsentMissing,
    RefreshTokenExpired,
    RefreshTokenRevoked,
    SecretExpired,
    SecretInvalid,
    ThrottledError,
    TokenError,
)

Grant = Literal["client_credentials", "authorization_code", "refresh_token"]
TOKEN_RETRY_STATUSES = frozenset({429, 503})
TOKEN_MAX_RETRIES = 5
FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 60.0
TIMEOUT_SECONDS = 30.0
_AUTHORIZE_AGAIN = "run provisioner authorize again"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)  # delta-seconds (fractions tolerated: some test servers send them)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # negative or NaN: ignore
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Wait before retry ``attempt`` (1-based): doubling from 1 s, at least Retry-After, capped."""
    growing = FIRST_WAIT_SECONDS * 2 ** (attempt - 1)
    return float(min(MAX_WAIT_SECONDS, max(growing, retry_after or 0.0)))


def aadsts_code(body: Mapping[str, Any]) -> int | None:
    """The AADSTS number of an error body: ``error_codes[0]``, else parsed from the description."""
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    description = str(body.get("error_description") or "")
    if description.startswith("AADSTS"):
        digits = description[6:].split(":", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def _first_line(description: str, limit: int = 240) -> str:
    """The AADSTS sentence without the Trace ID / Correlation ID / Timestamp trailer."""
    line = description.replace("\r", "\n").split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_from_body(
    body: Mapping[str, Any], *, grant: Grant, client_id: str, status: int | None = None
) -> TokenError:
    """The typed error for an OAuth error response (see the module docstring)."""
    code = aadsts_code(body)
    error = str(body.get("error") or "") or None
    tag = f"AADSTS{code}" if code is not None else (error or f"HTTP {status}")
    if code == 7000222:
        return SecretExpired(
            f"the client secret in the connection file has expired ({tag}); run provisioner rotate",
            code=code,
            error=error,
        )
    if code == 7000215:
        return SecretInvalid(
            f"the client secret in the connection file is not valid for client {client_id} ({tag}); "
            "run provisioner rotate to mint a new one",
            code=code,
            error=error,
        )
    if code == 700016:
        return ClientNotFound(
            f"client ID {client_id} is not known in the tenant ({tag}: wrong client ID, or the app was "
            "deleted); run provisioner apply and use the client_id it writes",
            code=code,
            error=error,
        )
    if code == 50173:
        return RefreshTokenRevoked(
            f"the refresh token was revoked ({tag}: the user's sign-in sessions were revoked or the "
            f"password changed); {_AUTHORIZE_AGAIN}",
            code=code,
            error=error,
        )
    if code in (700082, 70008, 700084) and grant == "refresh_token":
        return RefreshTokenExpired(
            f"the refresh token expired after too long without use ({tag}); {_AUTHORIZE_AGAIN}",
            code=code,
            error=error,
        )
    if code == 70008:
        return TokenError(
            f"the authorization code expired before it was redeemed ({tag}); {_AUTHORIZE_AGAIN}",
            code=code,
            error=error,
        )
    if code == 65001:
        return ConsentMissing(
            f"nobody consented to the requested permissions ({tag}); set admin_consent: true and run "
            "provisioner apply, or run provisioner authorize --prompt consent",
            code=code,
            error=error,
        )
    hints = {
        50011: "the redirect URI is not registered for the app; run provisioner apply",
        54005: f"the authorization code was already used; {_AUTHORIZE_AGAIN}",
        501481: f"the PKCE verifier did not match; {_AUTHORIZE_AGAIN}",
        7000218: "the app's redirect URI is on the web platform, which needs the client secret; "
        "run provisioner apply (or rotate) so the connection file holds one",
        700025: "the client is public, so no client secret may be sent; register the loopback URI "
        "under redirect_uris.public_client or remove the secret",
        70000: f"the grant is not valid (unknown or already replaced token); {_AUTHORIZE_AGAIN}",
    }
    if code in hints:
        return TokenError(f"{hints[code]} ({tag})", code=code, error=error)
    detail = _first_line(str(body.get("error_description") or "")) or (error or f"HTTP {status}")
    return TokenError(f"the token endpoint refused the request: {detail}", code=code, error=error)


JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenClient:
    """POSTs form-encoded grants to one token endpoint.

    ``verify`` is passed to httpx (an :class:`ssl.SSLContext` trusting the emulator's CA,
    or True for the system store). ``sleep`` and ``transport`` exist for unit tests.
    """

    def __init__(
        self,
        token_url: str,
        *,
        verify: ssl.SSLContext | bool = True,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = TOKEN_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[int, float, int], None] | None = None,
    ) -> None:
        self.token_url = token_url
        self._sleep = sleep
        self._max_retries = max_retries
        self._on_retry = on_retry
        self._http = httpx.Client(
            verify=verify,
            timeout=TIMEOUT_SECONDS,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TokenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- grants ------------------------------------------------------------------------------

    def client_credentials(
        self,
        *,
        client_id: str,
        scope: str,
        client_secret: str | None = None,
        client_assertion: str | None = None,
    ) -> dict[str, Any]:
        """Client credentials with a secret or a signed client assertion (certificate credential)."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
        if client_assertion is not None:
            form["client_assertion_type"] = JWT_BEARER
            form["client_assertion"] = client_assertion
        elif client_secret is not None:
            form["client_secret"] = client_secret
        return self.request(form, grant="client_credentials")

    def redeem_code(
        self,
        *,
        client_id: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        scope: str,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "scope": scope,
        }
        if client_secret:
            form["client_secret"] = client_secret
        return self.request(form, grant="authorization_code")

    def refresh(
        self, *, client_id: str, refresh_token: str, scope: str, client_secret: str | None = None
    ) -> dict[str, Any]:
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": refresh_token,
            "scope": scope,
        }
        if client_secret:
            form["client_secret"] = client_secret
        return self.request(form, grant="refresh_token")

    # -- transport -----------------------------------------------------------------------------

    def request(self, form: Mapping[str, str], *, grant: Grant) -> dict[str, Any]:
        """POST ``form``; retry 429/503; return the JSON body of a 200 or raise a TokenError."""
        client_id = form.get("client_id", "")
        attempt = 0
        while True:
            try:
                response = self._http.post(self.token_url, data=dict(form))
            except httpx.HTTPError as exc:
                raise TokenError(_transport_message(self.token_url, exc)) from None
            if response.status_code in TOKEN_RETRY_STATUSES:
                attempt += 1
                if attempt > self._max_retries:
                    raise ThrottledError(
                        f"the token endpoint answered HTTP {response.status_code} "
                        f"{self._max_retries + 1} times in a row; try again later",
                        error=str(response.status_code),
                    )
                wait = backoff_seconds(attempt, retry_after_seconds(response.headers.get("retry-after")))
                if self._on_retry is not None:
                    self._on_retry(attempt, wait, response.status_code)
                self._sleep(wait)
                continue
            body = _json(response)
            if response.status_code == 200 and body is not None and body.get("access_token"):
                return body
            if body is not None and body.get("error"):
                raise error_from_body(body, grant=grant, client_id=client_id, status=response.status_code)
            raise TokenError(
                f"the token endpoint {self.token_url} answered HTTP {response.status_code} "
                "without a token or an OAuth error"
            )


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _transport_message(url: str, exc: httpx.HTTPError) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"TLS verification failed for {url}; for the emulator pass --emulator or set "
            "PROVISIONER_CA_CERT to its CA file"
        )
    return f"cannot reach the token endpoint {url}: {type(exc).__name__}"
