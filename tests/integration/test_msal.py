"""MSAL for Python, unmodified, against the emulator authority (instance discovery off, the emulator CA).

Apps are registered through the emulator's Graph with a token MSAL itself fetched for the
bootstrap admin, then used as MSAL's confidential clients (client secret, certificate with SHA-1
and with SHA-256 thumbprints) and public/confidential clients in the authorization-code flow with
PKCE, whose sign-in and consent pages the test fills in over HTTP as a user would. MSAL validates
the ID token it gets (audience, nonce, lifetime) before it returns.

Trusting the emulator CA: MSAL's ``verify=<CA file>`` sets ``requests.Session.verify``, which
``requests`` replaces with ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when either is set (its
environment merge); so these tests clear both, and the public-client test shows the other way,
an ``http_client`` session with ``trust_env = False``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from oauth_support import forms

from provisioner.emulator import RunningEmulator, start_emulator

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
VAULT_DEFAULT = "https://vault.azure.net/.default"
USER_READ_ID = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"  # Microsoft Graph User.Read (bundled catalogue)
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CALLBACK = "http://localhost/callback"


@pytest.fixture(autouse=True)
def no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def world() -> Iterator[RunningEmulator]:
    """This module's own emulator: the tests register apps and consent in its tenant."""
    with start_emulator() as running:
        yield running


def authority(emulator: RunningEmulator) -> str:
    return f"{emulator.authority}/{emulator.tenant.tenant_id}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def confidential(
    emulator: RunningEmulator, client_id: str, credential: Any
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=authority(emulator),
        instance_discovery=False,
        verify=str(emulator.ca_cert_path),
    )


def admin_app(emulator: RunningEmulator) -> msal.ConfidentialClientApplication:
    tenant = emulator.tenant
    return confidential(emulator, tenant.admin_client_id, tenant.admin_client_secret)


def graph(emulator: RunningEmulator) -> httpx.Client:
    """Graph as the bootstrap admin, with the token MSAL fetched for it."""
    result = admin_app(emulator).acquire_token_for_client([GRAPH_DEFAULT])
    assert "access_token" in result, result.get("error_description")
    return httpx.Client(
        base_url=emulator.graph_url,
        verify=emulator.ssl_context(),
        headers={"Authorization": f"Bearer {result['access_token']}"},
    )


def register(
    emulator: RunningEmulator, *, web: list[str] | None = None, public: list[str] | None = None
) -> dict[str, Any]:
    """An app asking for User.Read, with a client secret (``secretText``) and a service principal."""
    with graph(emulator) as http:
        created = http.post(
            "/applications",
            json={
                "displayName": f"msal test {secrets.token_hex(3)}",
                "web": {"redirectUris": web or []},
                "publicClient": {"redirectUris": public or []},
                "requiredResourceAccess": [
                    {"resourceAppId": GRAPH_APP_ID, "resourceAccess": [{"id": USER_READ_ID, "type": "Scope"}]}
                ],
            },
        )
        assert created.status_code == 201, created.text
        app = dict(created.json())
        secret = http.post(f"/applications/{app['id']}/addPassword", json={"passwordCredential": {}})
        assert secret.status_code == 200, secret.text
        app["secretText"] = secret.json()["secretText"]
        assert http.post("/servicePrincipals", json={"appId": app["appId"]}).status_code == 201
    return app


def certificate() -> tuple[str, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msal test client")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, cert


def sign_in(emulator: RunningEmulator, auth_uri: str, upn_local: str = "user") -> dict[str, str]:
    """Play the user on the emulator's pages: pick the account, accept consent; the redirect's query."""
    upn = f"{upn_local}@{emulator.tenant.domain}"
    with httpx.Client(verify=emulator.ssl_context()) as http:
        page = http.get(auth_uri)
        assert page.status_code == 200, page.text
        form = forms(page.text)["signin"]
        user = next(b["value"] for b in form["buttons"] if b.get("data-upn") == upn)
        response = http.post(httpx.URL(auth_uri).join(form["action"]), data={**form["fields"], "user": user})
        if response.status_code == 200 and "consent" in forms(response.text):
            consent = forms(response.text)["consent"]
            response = http.post(
                httpx.URL(auth_uri).join(consent["action"]), data={**consent["fields"], "decision": "accept"}
            )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return dict(parse_qsl(urlsplit(location).query))


# -- client credentials ---------------------------------------------------------------------------


def test_client_credentials_with_a_secret(world: RunningEmulator) -> None:
    app = register(world)
    cca = confidential(world, app["appId"], app["secretText"])
    result = cca.acquire_token_for_client([GRAPH_DEFAULT])
    assert result.get("token_type") == "Bearer" and result["token_source"] == "identity_provider", result
    claims = claims_of(result["access_token"])
    tenant = world.tenant.tenant_id
    assert claims["aud"] == "https://graph.microsoft.com" and claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{tenant}/" and claims["idtyp"] == "app"
    assert claims["appid"] == app["appId"] and claims["appidacr"] == "1"
    assert cca.acquire_token_for_client([GRAPH_DEFAULT])["token_source"] == "cache"

    vault = cca.acquire_token_for_client([VAULT_DEFAULT])
    assert claims_of(vault["access_token"])["aud"] == "https://vault.azure.net", vault

    named = cca.acquire_token_for_client(["https://graph.microsoft.com/User.Read"])
    assert named["error"] == "invalid_scope" and named["error_codes"] == [1002012]
    assert named["error_description"].startswith(
        "AADSTS1002012: The provided value for scope https://graph.microsoft.com/User.Read is not valid."
    )
    wrong = confidential(world, app["appId"], "not-the-secret").acquire_token_for_client([GRAPH_DEFAULT])
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]


def test_the_admin_token_from_msal_reads_graph(world: RunningEmulator) -> None:
    with graph(world) as http:
        organization = http.get("/organization")
    assert organization.status_code == 200 and organization.json()["value"][0]["id"] == world.tenant.tenant_id


@pytest.mark.parametrize("thumbprint", ["sha1", "sha256"])
def test_client_credentials_with_a_certificate(world: RunningEmulator, thumbprint: str) -> None:
    """SHA-1 ``thumbprint`` -> an RS256 assertion with x5t; ``public_certificate`` -> PS256 with x5t#S256 and x5c."""
    app = register(world)
    pem, cert = certificate()
    key = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    with graph(world) as http:
        patched = http.patch(
            f"/applications/{app['id']}",
            json={"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": key}]},
        )
        assert patched.status_code == 204, patched.text
    credential: dict[str, str] = {"private_key": pem}
    if thumbprint == "sha1":
        credential["thumbprint"] = cert.fingerprint(hashes.SHA1()).hex().upper()
    else:
        credential["public_certificate"] = cert.public_bytes(serialization.Encoding.PEM).decode()
    result = confidential(world, app["appId"], credential).acquire_token_for_client([GRAPH_DEFAULT])
    assert "access_token" in result, result.get("error_description")
    claims = claims_of(result["access_token"])
    assert claims["appid"] == app["appId"] and claims["appidacr"] == "2"

    other_pem, other = certificate()
    stranger = confidential(
        world, app["appId"], {"private_key": other_pem, "thumbprint": other.fingerprint(hashes.SHA1()).hex()}
    )
    refused = stranger.acquire_token_for_client([GRAPH_DEFAULT])
    assert refused["error"] == "invalid_client" and refused["error_codes"] == [700027]


# -- authorization code + PKCE, ID token, refresh -----------------------------------------------------


def test_confidential_web_app_code_flow_id_token_and_refresh(world: RunningEmulator) -> None:
    app = register(world, web=[CALLBACK])
    cca = confidential(world, app["appId"], app["secretText"])
    flow = cca.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)
    query = dict(parse_qsl(urlsplit(flow["auth_uri"]).query))
    assert query["code_challenge_method"] == "S256" and query["nonce"]  # MSAL always sends PKCE and a nonce
    result = cca.acquire_token_by_auth_code_flow(flow, sign_in(world, flow["auth_uri"]))
    assert "access_token" in result, result.get("error_description")
    # MSAL validated the ID token (aud, nonce, exp) before returning it; these are its claims.
    id_claims = result["id_token_claims"]
    assert id_claims["aud"] == app["appId"] and id_claims["nonce"] == query["nonce"]
    assert id_claims["tid"] == world.tenant.tenant_id and id_claims["ver"] == "2.0"
    assert id_claims["iss"] == f"{world.authority}/{world.tenant.tenant_id}/v2.0"
    assert id_claims["preferred_username"] == f"user@{world.tenant.domain}"
    access = claims_of(result["access_token"])
    assert access["ver"] == "1.0" and access["idtyp"] == "user" and "User.Read" in access["scp"].split()
    assert access["upn"] == f"user@{world.tenant.domain}" and access["appidacr"] == "1"
    assert result.get("refresh_token")

    (account,) = cca.get_accounts()
    assert account["username"] == f"user@{world.tenant.domain}" and account["realm"] == world.tenant.tenant_id
    silent = cca.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert silent and silent["token_source"] == "identity_provider", silent
    assert silent["access_token"] != result["access_token"]
    redeemed = cca.acquire_token_by_refresh_token(result["refresh_token"], ["User.Read"])
    assert "access_token" in redeemed and claims_of(redeemed["access_token"])["oid"] == access["oid"]
    bogus = cca.acquire_token_by_refresh_token("1.R.not-a-token", ["User.Read"])
    assert bogus["error"] == "invalid_grant" and bogus["error_codes"] == [70000]


def test_public_client_pkce_verifier_is_checked(world: RunningEmulator) -> None:
    app = register(world, public=[CALLBACK])
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override session.verify
    session.verify = str(world.ca_cert_path)
    pca = msal.PublicClientApplication(
        app["appId"], authority=authority(world), instance_discovery=False, http_client=session
    )
    flow = pca.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)
    returned = sign_in(world, flow["auth_uri"])
    tampered = pca.acquire_token_by_auth_code_flow({**flow, "code_verifier": "x" * 43}, returned)
    assert tampered["error"] == "invalid_grant" and tampered["error_codes"] == [501481]

    flow = pca.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)  # consented: no consent page
    result = pca.acquire_token_by_auth_code_flow(flow, sign_in(world, flow["auth_uri"]))
    assert "access_token" in result, result.get("error_description")
    assert claims_of(result["access_token"])["appidacr"] == "0"  # a public client presents no credential
    (account,) = pca.get_accounts()
    silent = pca.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert silent and silent["token_source"] == "identity_provider", silent
