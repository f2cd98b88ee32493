"""Pure parts of the emulated identity platform: tokens, PKCE, redirect URIs, scopes, errors, faults."""

from __future__ import annotations

import base64
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.emulator.clock import Clock
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.faults import FaultConfig
from provisioner.emulator.identity import errors
from provisioner.emulator.identity.authorize import read_ticket, redirect_uri_matches, sign_ticket
from provisioner.emulator.identity.clients import read_client_credentials
from provisioner.emulator.identity.grants import pkce_matches, s256_challenge
from provisioner.emulator.identity.models import TokenResult, hash_value
from provisioner.emulator.identity.permissions import _split_item
from provisioner.emulator.identity.tokens import (
    InvalidToken,
    mint_access_token,
    signing_key,
    verify_access_token,
)
from provisioner.emulator.store import Store

TENANT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def ctx() -> EmulatorContext:
    return EmulatorContext(store=Store(None), clock=Clock(), base_url="https://localhost:1234")


def _token(ctx: EmulatorContext, **kwargs: object) -> str:
    args: dict[str, object] = {
        "client_app_id": "app",
        "oid": "oid",
        "audience": "https://graph.microsoft.com",
    }
    args.update(kwargs)
    return mint_access_token(ctx, TENANT, **args)  # type: ignore[arg-type]


def test_access_token_claims_and_header(ctx: EmulatorContext) -> None:
    """v1.0 by default (what Entra issues for Graph), v2.0 when asked; each with its own claims."""
    token = _token(ctx, roles=["User.Read.All"], client_auth="1")
    claims = verify_access_token(ctx, token, audience="00000003-0000-0000-c000-000000000000")
    assert claims["iss"] == claims["idp"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["idtyp"] == "app" and claims["ver"] == "1.0" and claims["roles"] == ["User.Read.All"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["appid"] == "app" and claims["appidacr"] == "1"
    assert "azp" not in claims and "azpacr" not in claims
    assert jwt.get_unverified_header(token)["kid"] == signing_key(ctx).kid
    person = {"displayName": "Ada L", "userPrincipalName": "ada@x.example", "givenName": "Ada"}
    user = verify_access_token(ctx, _token(ctx, scp="User.Read", user=person))
    assert user["idtyp"] == "user" and user["scp"] == "User.Read" and "roles" not in user
    assert user["upn"] == user["unique_name"] == "ada@x.example" and user["given_name"] == "Ada"
    assert "idp" not in user and "preferred_username" not in user
    v2 = verify_access_token(ctx, _token(ctx, version="2.0", client_auth="2", scp="x", user=person))
    assert v2["iss"] == f"https://localhost:1234/{TENANT}/v2.0" and v2["ver"] == "2.0"
    assert v2["azp"] == "app" and v2["azpacr"] == "2" and "appid" not in v2 and "upn" not in v2
    assert v2["preferred_username"] == "ada@x.example"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: "not-a-jwt", "malformed"),
        (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "signature"),
    ],
)
def test_invalid_tokens(ctx: EmulatorContext, mutate: object, reason: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        verify_access_token(ctx, mutate(_token(ctx)))  # type: ignore[operator]
    assert caught.value.reason == reason


def test_expiry_audience_and_issuer(ctx: EmulatorContext) -> None:
    token = _token(ctx, lifetime_seconds=60)
    with pytest.raises(InvalidToken) as wrong_audience:
        verify_access_token(ctx, token, audience="https://outlook.office365.com")
    assert wrong_audience.value.reason == "audience"
    # A v2.0 issuer names the emulator's URL; a v1.0 one is the v1 STS whatever the host.
    other = EmulatorContext(store=ctx.store, clock=ctx.clock, base_url="https://localhost:9999")
    with pytest.raises(InvalidToken) as wrong_issuer:
        verify_access_token(other, _token(ctx, version="2.0"))
    assert wrong_issuer.value.reason == "issuer"
    assert verify_access_token(other, token)["iss"] == f"https://sts.windows.net/{TENANT}/"
    later = EmulatorContext(store=ctx.store, clock=Clock(offset_seconds=61), base_url=ctx.base_url)
    with pytest.raises(InvalidToken) as expired:
        verify_access_token(later, token)
    assert expired.value.reason == "expired"


def test_signing_key_is_persisted(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = EmulatorContext(store=Store(path))
    kid = signing_key(first).kid
    token = mint_access_token(first, TENANT, client_app_id="a", oid="o", audience="x")
    first.store.close()
    second = EmulatorContext(store=Store(path))
    assert signing_key(second).kid == kid
    assert verify_access_token(second, token, audience="x")["oid"] == "o"


def test_pkce_rfc7636_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
    assert pkce_matches("plain", "plain", "plain") and not pkce_matches("a", "b", "plain")


@pytest.mark.parametrize(
    ("registered", "requested", "match"),
    [
        ("http://localhost/callback", "http://localhost:5173/callback", True),
        ("http://localhost:8080/callback", "http://localhost:5173/callback", True),
        ("http://127.0.0.1/cb", "http://127.0.0.1:4000/cb", True),
        ("http://localhost/callback", "http://localhost:5173/other", False),
        ("https://app.example/signin", "https://app.example/signin", True),
        ("https://app.example/signin", "https://app.example:8443/signin", False),
        ("https://app.example/signin", "https://app.example/signin/", False),
        ("https://app.example/", "https://app.example", True),
        ("https://localhost/cb", "https://localhost:444/cb", False),
    ],
)
def test_redirect_uri_matching(registered: str, requested: str, match: bool) -> None:
    assert redirect_uri_matches(registered, requested) is match


@given(st.integers(min_value=1, max_value=65535), st.from_regex(r"/[a-z]{0,8}", fullmatch=True))
def test_localhost_port_never_matters(port: int, path: str) -> None:
    assert redirect_uri_matches(f"http://localhost{path}", f"http://localhost:{port}{path}")


@pytest.mark.parametrize(
    ("item", "split"),
    [
        ("User.Read", None),
        ("https://graph.microsoft.com/User.Read", ("https://graph.microsoft.com", "User.Read")),
        ("https://graph.microsoft.com//.default", ("https://graph.microsoft.com/", ".default")),
        ("api://0b1c/access_as_user", ("api://0b1c", "access_as_user")),
        (
            "00000003-0000-0000-c000-000000000000/.default",
            ("00000003-0000-0000-c000-000000000000", ".default"),
        ),
        ("https://graph.microsoft.com", ("https://graph.microsoft.com", "")),
    ],
)
def test_scope_items(item: str, split: tuple[str, str] | None) -> None:
    assert _split_item(item) == split


def test_error_body_shape(ctx: EmulatorContext) -> None:
    body = errors.error_body(ctx, errors.invalid_client_secret("app-id"), "corr-1")
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["correlation_id"] == "corr-1"
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert "\r\nTrace ID: " in body["error_description"]
    assert errors.invalid_client_secret("x").status == 401 and errors.code_redeemed().status == 400


def test_client_credentials_from_basic_auth_never_printed() -> None:
    header = "Basic " + base64.b64encode(b"my%2Bclient:s3cr%3At").decode()
    creds = read_client_credentials({}, header)
    assert creds.client_id == "my+client" and creds.secret == "s3cr:t"
    assert "s3cr" not in repr(creds)
    assert read_client_credentials({"client_id": "a", "client_secret": "b"}, None).secret == "b"


def test_token_result_and_hashes() -> None:
    result = TokenResult(access_token="at", scope=None)
    assert set(result.to_json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert "at" not in repr(TokenResult(access_token="at", scope="s", refresh_token="rt"))
    assert hash_value("abc") == hash_value("abc") != hash_value("abd")


def test_signed_tickets(ctx: EmulatorContext) -> None:
    ticket = sign_ticket(ctx, {"u": "user"}, 60)
    assert read_ticket(ctx, ticket) == {"u": "user", "exp": read_ticket(ctx, ticket)["exp"]}  # type: ignore[index]
    data, mac = ticket.rsplit(".", 1)
    assert read_ticket(ctx, f"{data}x.{mac}") is None
    later = EmulatorContext(store=ctx.store, clock=Clock(offset_seconds=61), base_url=ctx.base_url)
    assert read_ticket(later, ticket) is None


def test_fault_config_validation() -> None:
    assert not FaultConfig().active
    config = FaultConfig.from_json({"latency_ms": 5, "error_rate": 0.5, "seed": 3})
    assert config.active and config.to_json()["seed"] == 3
    for bad, why in (
        ({"error_rate": 2}, "error_rate must be between 0 and 1"),
        ({"latency_ms": -1}, "latency_ms must be a non-negative number"),
        ({"nope": 1}, "unknown fault setting"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"latency_ms": True}, "latency_ms must be a non-negative number"),
    ):
        with pytest.raises(ValueError, match=why):
            FaultConfig.from_json(bad)
