"""Token endpoint client: 429/503 retries with Retry-After, AADSTS codes -> typed one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from provisioner.core.errors import CredentialError
from provisioner.oauth import token_errors as oauth_errors
from provisioner.oauth.token_client import (
    MAX_WAIT_SECONDS,
    TokenClient,
    aadsts_code,
    backoff_seconds,
    error_from_body,
    retry_after_seconds,
)

TOKEN_URL = "https://login.example.test/tenant/oauth2/v2.0/token"
SECRET = "s3cr3t-VALUE-never-printed"
REFRESH = "1.R.refresh-token-value-never-printed"
OK = {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.a.b"}


def aad_error(code: int, error: str = "invalid_grant", status: int = 400) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": error,
            "error_description": f"AADSTS{code}: Something happened.\r\nTrace ID: x\r\nCorrelation ID: y",
            "error_codes": [code],
        },
    )


def client_for(
    responses: list[httpx.Response], sleeps: list[float], seen: list[httpx.Request] | None = None
) -> TokenClient:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return queue.pop(0)

    return TokenClient(TOKEN_URL, transport=httpx.MockTransport(handler), sleep=sleeps.append)


def test_retries_429_and_503_with_growing_waits_honouring_retry_after() -> None:
    sleeps: list[float] = []
    responses = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(200, json=OK),
    ]
    with client_for(responses, sleeps) as client:
        body = client.client_credentials(client_id="c", client_secret=SECRET, scope="x/.default")
    assert body["access_token"] == OK["access_token"]
    assert sleeps == [7.0, 2.0, 4.0]  # Retry-After wins when longer; otherwise 1, 2, 4, ...


def test_gives_up_after_five_retries() -> None:
    sleeps: list[float] = []
    with (
        client_for([httpx.Response(429)] * 6, sleeps) as client,
        pytest.raises(oauth_errors.ThrottledError, match="6 times"),
    ):
        client.refresh(client_id="c", refresh_token=REFRESH, scope="User.Read")
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []
    with (
        client_for([aad_error(50173)], sleeps, seen) as client,
        pytest.raises(oauth_errors.RefreshTokenRevoked),
    ):
        client.refresh(client_id="c", refresh_token=REFRESH, scope="User.Read")
    assert len(seen) == 1 and sleeps == []


def test_request_is_form_encoded_with_the_grant() -> None:
    seen: list[httpx.Request] = []
    with client_for([httpx.Response(200, json=OK)], [], seen) as client:
        client.redeem_code(
            client_id="cid",
            code="the-code",
            redirect_uri="http://localhost:1234/cb",
            code_verifier="v" * 43,
            scope="openid User.Read",
        )
    (request,) = seen
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["grant_type"] == "authorization_code"
    assert form["code_verifier"] == "v" * 43
    assert "client_secret" not in form  # public client: nothing to send


@pytest.mark.parametrize(
    ("code", "grant", "error_type", "kind", "advice"),
    [
        (7000222, "client_credentials", oauth_errors.SecretExpired, "secret_expired", "provisioner rotate"),
        (7000215, "client_credentials", oauth_errors.SecretInvalid, "secret_invalid", "provisioner rotate"),
        (700016, "client_credentials", oauth_errors.ClientNotFound, "client_not_found", "client_id"),
        (50173, "refresh_token", oauth_errors.RefreshTokenRevoked, "revoked", "authorize again"),
        (700082, "refresh_token", oauth_errors.RefreshTokenExpired, "expired", "authorize again"),
        (70008, "refresh_token", oauth_errors.RefreshTokenExpired, "expired", "authorize again"),
        (65001, "refresh_token", oauth_errors.ConsentMissing, "consent_missing", "admin_consent"),
        (70008, "authorization_code", oauth_errors.TokenError, "error", "authorization code expired"),
        (50011, "authorization_code", oauth_errors.TokenError, "error", "provisioner apply"),
        (99999, "client_credentials", oauth_errors.TokenError, "error", "AADSTS99999: Something happened."),
    ],
)
def test_aadsts_codes_map_to_typed_errors(
    code: int, grant: str, error_type: type[Exception], kind: str, advice: str
) -> None:
    exc = error_from_body(
        aad_error(code).json(),
        grant=grant,  # type: ignore[arg-type]
        client_id="11111111-2222-3333-4444-555555555555",
    )
    assert type(exc) is error_type
    assert isinstance(exc, CredentialError)  # the CLI's error handling applies
    assert exc.kind == kind and exc.code == code
    message = str(exc)
    assert advice in message
    assert "\n" not in message and "Trace ID" not in message
    if code in (50173, 700082, 70008) and grant == "refresh_token":
        assert ("revoked" if code == 50173 else "expired") in message


def test_revoked_and_expired_messages_differ() -> None:
    revoked = str(error_from_body(aad_error(50173).json(), grant="refresh_token", client_id="c"))
    expired = str(error_from_body(aad_error(700082).json(), grant="refresh_token", client_id="c"))
    assert "revoked" in revoked and "expired" not in revoked
    assert "expired" in expired and "revoked" not in expired


def test_error_messages_never_contain_request_secrets() -> None:
    for response in (aad_error(7000215, "invalid_client", 401), aad_error(50173)):
        with client_for([response], []) as client, pytest.raises(oauth_errors.TokenError) as info:
            client.refresh(client_id="c", refresh_token=REFRESH, scope="User.Read", client_secret=SECRET)
        assert SECRET not in str(info.value) and REFRESH not in str(info.value)
        assert SECRET not in repr(info.value) and REFRESH not in repr(info.value)


def test_non_oauth_failure_is_one_line() -> None:
    with (
        client_for([httpx.Response(502, text="<html>bad gateway</html>")], []) as client,
        pytest.raises(oauth_errors.TokenError, match="HTTP 502 without a token"),
    ):
        client.client_credentials(client_id="c", client_secret=SECRET, scope="x/.default")


def test_transport_error_names_the_endpoint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request
        )

    client = TokenClient(TOKEN_URL, transport=httpx.MockTransport(refuse))
    with client, pytest.raises(oauth_errors.TokenError, match="TLS verification failed for " + TOKEN_URL):
        client.client_credentials(client_id="c", client_secret=SECRET, scope="x/.default")


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-3") is None
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"), [(1, None, 1.0), (3, 2.0, 4.0), (2, 10.0, 10.0)]
)
def test_backoff(attempt: int, retry_after: float | None, expected: float) -> None:
    assert backoff_seconds(attempt, retry_after) == expected


def test_backoff_is_capped() -> None:
    assert backoff_seconds(10, 10_000.0) == MAX_WAIT_SECONDS


def test_aadsts_code_from_description_when_codes_absent() -> None:
    assert aadsts_code({"error_description": "AADSTS700082: The refresh token has expired"}) == 700082
    assert aadsts_code({"error": "invalid_grant"}) is None
