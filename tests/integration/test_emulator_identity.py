"""The emulated identity platform, over real HTTPS, with the unmodified azure-identity / MSAL.

Apps used by the interactive flows are written straight into the store (Graph shape),
so these tests exercise the identity endpoints only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import msal
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from oauth_support import GRAPH_DEFAULT, client_credentials_form, forms, pkce_pair

from provisioner.emulator import RunningEmulator, start_emulator
from provisioner.emulator.clock import iso
from provisioner.emulator.identity.tokens import GRAPH_APP_ID, verify_access_token

CALLBACK = "http://localhost/callback"


@pytest.fixture(scope="module")
def world() -> Iterator[RunningEmulator]:
    """This module's own emulator for tests that register apps and grant consent, so the
    session-wide ``emulator`` keeps the pristine seeded tenant other tests expect."""
    with start_emulator() as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------


def client(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(verify=emulator.ssl_context(), base_url=emulator.base_url)


def register_app(
    emulator: RunningEmulator,
    *,
    web: list[str] | None = None,
    spa: list[str] | None = None,
    public: list[str] | None = None,
    secret: str | None = None,
    audience: str = "AzureADMyOrg",
    key_credentials: list[dict[str, Any]] | None = None,
    service_principal: bool = True,
) -> dict[str, Any]:
    """An application (+ service principal) in Graph shape, created directly in the store."""
    ctx, tenant = emulator.ctx, emulator.tenant.tenant_id
    now = ctx.clock.now()
    app: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "appId": str(uuid.uuid4()),
        "displayName": f"test app {secrets.token_hex(3)}",
        "signInAudience": audience,
        "identifierUris": [],
        "web": {"redirectUris": web or [], "implicitGrantSettings": {}},
        "spa": {"redirectUris": spa or []},
        "publicClient": {"redirectUris": public or []},
        "requiredResourceAccess": [],
        "passwordCredentials": [],
        "keyCredentials": key_credentials or [],
        "_secretHashes": {},
    }
    if secret is not None:
        key_id = str(uuid.uuid4())
        app["passwordCredentials"].append(
            {
                "customKeyIdentifier": None,
                "displayName": "test",
                "endDateTime": iso(now + timedelta(days=180)),
                "hint": secret[:3],
                "keyId": key_id,
                "secretText": None,
                "startDateTime": iso(now),
            }
        )
        app["_secretHashes"][key_id] = hashlib.sha256(secret.encode()).hexdigest()
    ctx.store.put(tenant, "applications", app)
    if service_principal:
        ctx.store.put(
            tenant,
            "servicePrincipals",
            {
                "id": str(uuid.uuid4()),
                "appId": app["appId"],
                "displayName": app["displayName"],
                "servicePrincipalNames": [app["appId"]],
                "appRoles": [],
                "oauth2PermissionScopes": [],
                "accountEnabled": True,
            },
        )
    return app


def authorize_url(emulator: RunningEmulator, app: dict[str, Any], **params: str) -> str:
    query = {
        "client_id": app["appId"],
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "response_mode": "query",
        "scope": "openid profile offline_access User.Read",
        "state": "st-123",
        **params,
    }
    return str(httpx.URL(f"/{emulator.tenant.tenant_id}/oauth2/v2.0/authorize", params=query))


def user_upn(emulator: RunningEmulator, local: str) -> str:
    return f"{local}@{emulator.tenant.domain}"


def sign_in(
    http: httpx.Client,
    page: httpx.Response,
    upn: str,
    *,
    decision: str = "accept",
    admin_consent: bool = False,
) -> httpx.Response:
    """Submit the sign-in page as ``upn``; accept (or cancel) the consent page if one is shown."""
    assert page.status_code == 200, page.text
    form = forms(page.text)["signin"]
    user_id = next(
        b["value"] for b in form["buttons"] if b.get("name") == "user" and b.get("data-upn") == upn
    )
    response = http.post(form["action"], data={**form["fields"], "user": user_id})
    if response.status_code == 200 and "consent" in forms(response.text):
        consent = forms(response.text)["consent"]
        data = {**consent["fields"], "decision": decision}
        if admin_consent:
            data["admin_consent"] = "true"
        response = http.post(consent["action"], data=data)
    return response


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"]
    return query["code"][0]


def token_request(http: httpx.Client, emulator: RunningEmulator, **form: str) -> httpx.Response:
    return http.post(f"/{emulator.tenant.tenant_id}/oauth2/v2.0/token", data=form)


def redeem_code(
    http: httpx.Client, emulator: RunningEmulator, app: dict[str, Any], code: str, **extra: str
) -> httpx.Response:
    """An authorization_code grant for ``app`` with the test's CALLBACK redirect URI."""
    return token_request(
        http,
        emulator,
        grant_type="authorization_code",
        client_id=app["appId"],
        code=code,
        redirect_uri=CALLBACK,
        **extra,
    )


def interactive_tokens(
    emulator: RunningEmulator,
    http: httpx.Client,
    app: dict[str, Any],
    *,
    upn_local: str = "user",
    scope: str = "openid profile offline_access User.Read",
) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    page = http.get(
        authorize_url(
            emulator, app, scope=scope, code_challenge=challenge, code_challenge_method="S256", prompt="login"
        )
    )
    code = code_from(sign_in(http, page, user_upn(emulator, upn_local)))
    response = redeem_code(http, emulator, app, code, code_verifier=verifier, scope=scope)
    assert response.status_code == 200, response.text
    return response.json()


def aadsts(response: httpx.Response) -> int:
    return int(response.json()["error_codes"][0])


def admin_credential(emulator: RunningEmulator, secret: str | None = None) -> ClientSecretCredential:
    """azure-identity's credential for the bootstrap admin app (with ``secret`` instead of its own if given)."""
    tenant = emulator.tenant
    return ClientSecretCredential(
        tenant.tenant_id,
        tenant.admin_client_id,
        tenant.admin_client_secret if secret is None else secret,
        authority=emulator.authority,
        disable_instance_discovery=True,
        connection_verify=str(emulator.ca_cert_path),
    )


def certificate_credential(emulator: RunningEmulator, app_id: str, pem: bytes) -> CertificateCredential:
    return CertificateCredential(
        emulator.tenant.tenant_id,
        app_id,
        certificate_data=pem,
        authority=emulator.authority,
        disable_instance_discovery=True,
        connection_verify=str(emulator.ca_cert_path),
    )


def refresh(
    http: httpx.Client,
    emulator: RunningEmulator,
    client_id: str,
    refresh_token: str,
    scope: str | None = None,
) -> httpx.Response:
    """A refresh_token grant for a public client (``scope`` left out of the request when None)."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    if scope is not None:
        form["scope"] = scope
    return token_request(http, emulator, **form)


# -- discovery ------------------------------------------------------------------------------------


def test_openid_configuration_and_jwks(emulator: RunningEmulator) -> None:
    tenant = emulator.tenant
    with client(emulator) as http:
        by_domain = http.get(f"/{tenant.domain}/v2.0/.well-known/openid-configuration").json()
        assert by_domain["token_endpoint"] == f"{emulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
        assert by_domain["authorization_endpoint"].endswith(f"/{tenant.tenant_id}/oauth2/v2.0/authorize")
        assert by_domain["issuer"] == f"{emulator.base_url}/{tenant.tenant_id}/v2.0"
        common = http.get("/common/v2.0/.well-known/openid-configuration").json()
        assert common["issuer"] == f"{emulator.base_url}/{{tenantid}}/v2.0"
        assert common["token_endpoint"].endswith("/common/oauth2/v2.0/token")
        keys = http.get(by_domain["jwks_uri"]).json()["keys"]
        assert keys[0]["kty"] == "RSA" and keys[0]["use"] == "sig" and keys[0]["x5c"]
        unknown = http.get("/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration")
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_tenant" and aadsts(unknown) == 90002
        discovery = http.get(
            "/common/discovery/instance",
            params={"api-version": "1.1", "authorization_endpoint": by_domain["authorization_endpoint"]},
        ).json()
        assert discovery["tenant_discovery_endpoint"].endswith(
            f"/{tenant.tenant_id}/v2.0/.well-known/openid-configuration"
        )


# -- client credentials ---------------------------------------------------------------------------


def test_client_secret_credential_gets_graph_token(emulator: RunningEmulator) -> None:
    tenant = emulator.tenant
    token = admin_credential(emulator).get_token(GRAPH_DEFAULT)
    claims = verify_access_token(emulator.ctx, token.token, audience="https://graph.microsoft.com")
    assert claims["idtyp"] == "app" and claims["tid"] == tenant.tenant_id
    assert "Application.ReadWrite.All" in claims["roles"]
    header = jwt.get_unverified_header(token.token)
    with client(emulator) as http:
        jwks = http.get(f"/{tenant.tenant_id}/discovery/v2.0/keys").json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}


def test_async_client_secret_credential(emulator: RunningEmulator) -> None:
    tenant = emulator.tenant

    async def fetch() -> str:
        async with AsyncClientSecretCredential(
            tenant.tenant_id,
            tenant.admin_client_id,
            tenant.admin_client_secret,
            authority=emulator.authority,
            disable_instance_discovery=True,
            connection_verify=str(emulator.ca_cert_path),
        ) as credential:
            return (await credential.get_token(GRAPH_DEFAULT)).token

    claims = verify_access_token(emulator.ctx, asyncio.run(fetch()), audience=GRAPH_APP_ID)
    assert claims["appid"] == tenant.admin_client_id


def test_wrong_secret_is_aadsts7000215(emulator: RunningEmulator) -> None:
    tenant = emulator.tenant
    credential = admin_credential(emulator, "not-the-secret")
    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token(GRAPH_DEFAULT)
    assert "AADSTS7000215" in str(caught.value)
    assert tenant.admin_client_secret not in str(caught.value)


def test_expired_secret_is_aadsts7000222(tmp_emulator: RunningEmulator) -> None:
    tmp_emulator.ctx.clock.advance(3 * 365 * 24 * 3600)  # the bootstrap secret lives 2 years
    credential = admin_credential(tmp_emulator)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000222"):
        credential.get_token(GRAPH_DEFAULT)


def test_client_credentials_errors(emulator: RunningEmulator) -> None:
    tenant = emulator.tenant
    good = client_credentials_form(tenant.admin_client_id, tenant.admin_client_secret)
    with client(emulator) as http:
        wrong = token_request(http, emulator, **{**good, "client_secret": "x"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        body = wrong.json()
        assert set(body) >= {
            "error",
            "error_description",
            "error_codes",
            "timestamp",
            "trace_id",
            "correlation_id",
        }
        assert body["error_description"].startswith("AADSTS7000215: ")
        unknown = token_request(http, emulator, **{**good, "client_id": str(uuid.uuid4())})
        assert unknown.status_code == 400 and aadsts(unknown) == 700016
        no_tenant = http.post("/contoso.example/oauth2/v2.0/token", data=good)
        assert aadsts(no_tenant) == 90002
        not_default = token_request(
            http, emulator, **{**good, "scope": "https://graph.microsoft.com/User.Read"}
        )
        assert not_default.json()["error"] == "invalid_scope" and aadsts(not_default) == 1002012
        no_resource = token_request(http, emulator, **{**good, "scope": "api://nothing-here/.default"})
        assert no_resource.json()["error"] == "invalid_resource"
        common = http.post("/common/oauth2/v2.0/token", data=good)
        assert aadsts(common) == 50194  # a single-tenant app cannot use /common
        no_secret = token_request(http, emulator, **{k: v for k, v in good.items() if k != "client_secret"})
        assert no_secret.status_code == 401 and aadsts(no_secret) == 7000218
        # HTTP Basic client authentication (RFC 6749 2.3.1) and the appId form of the resource.
        basic = http.post(
            f"/{tenant.tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "scope": f"{GRAPH_APP_ID}/.default"},
            auth=(tenant.admin_client_id, tenant.admin_client_secret),
        )
        assert basic.status_code == 200, basic.text
        assert set(basic.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
        claims = verify_access_token(emulator.ctx, basic.json()["access_token"], audience=GRAPH_APP_ID)
        assert "User.Read.All" in claims["roles"]


def _certificate() -> tuple[bytes, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test client")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)
    return pem, cert


def test_certificate_credential(world: RunningEmulator) -> None:
    pem, cert = _certificate()
    key_credential = {
        "customKeyIdentifier": cert.fingerprint(hashes.SHA1()).hex().upper(),
        "displayName": "CN=test client",
        "endDateTime": iso(cert.not_valid_after_utc),
        "key": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        "keyId": str(uuid.uuid4()),
        "startDateTime": iso(cert.not_valid_before_utc),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }
    app = register_app(world, key_credentials=[key_credential])
    credential = certificate_credential(world, app["appId"], pem)
    claims = verify_access_token(world.ctx, credential.get_token(GRAPH_DEFAULT).token)
    assert claims["appid"] == app["appId"] and claims["appidacr"] == "2" and "roles" not in claims
    # The sign-in log names the certificate that signed in (keyId and thumbprint), as Entra's does.
    from provisioner.emulator.sign_in_log import visible

    rows = [
        r
        for r in visible(world.ctx, world.tenant.tenant_id, world.ctx.clock.now())
        if r["appId"] == app["appId"]
    ]
    assert rows and rows[0]["servicePrincipalCredentialKeyId"] == key_credential["keyId"]
    assert rows[0]["clientCredentialType"] == "certificate"
    assert rows[0]["servicePrincipalCredentialThumbprint"] == key_credential["customKeyIdentifier"]
    other_pem, _ = _certificate()
    stranger = certificate_credential(world, app["appId"], other_pem)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        stranger.get_token(GRAPH_DEFAULT)


# -- authorization code + PKCE ----------------------------------------------------------------------


def test_pkce_code_flow_with_consent(world: RunningEmulator) -> None:
    app = register_app(world, public=[CALLBACK])
    verifier, challenge = pkce_pair()
    with client(world) as http:
        page = http.get(
            authorize_url(
                world,
                app,
                code_challenge=challenge,
                code_challenge_method="S256",
                nonce="n-1",
                redirect_uri="http://localhost:5173/callback",
            )
        )
        assert page.status_code == 200 and "Pick an account" in page.text
        form = forms(page.text)["signin"]
        user_id = next(b["value"] for b in form["buttons"] if b.get("data-upn") == user_upn(world, "user"))
        consent_page = http.post(form["action"], data={**form["fields"], "user": user_id})
        consent = forms(consent_page.text)["consent"]
        assert "admin_consent" not in consent_page.text  # only an admin may consent for the organization
        redirected = http.post(consent["action"], data={**consent["fields"], "decision": "accept"})
        assert redirected.headers["location"].startswith("http://localhost:5173/callback?")
        code = code_from(redirected)
        redeem = {
            "grant_type": "authorization_code",
            "client_id": app["appId"],
            "code": code,
            "redirect_uri": "http://localhost:5173/callback",
            "code_verifier": verifier,
            "scope": "openid profile offline_access User.Read",
            "client_info": "1",
        }
        response = token_request(http, world, **redeem)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {"access_token", "refresh_token", "id_token", "scope", "expires_in", "ext_expires_in"} <= set(
            body
        )
        claims = verify_access_token(world.ctx, body["access_token"], audience="https://graph.microsoft.com")
        assert claims["idtyp"] == "user" and claims["oid"] == user_id
        assert set(claims["scp"].split()) == {"User.Read", "openid", "profile"}
        id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
        assert id_claims["aud"] == app["appId"] and id_claims["nonce"] == "n-1"
        assert id_claims["preferred_username"] == user_upn(world, "user")
        again = token_request(http, world, **redeem)
        assert again.json()["error"] == "invalid_grant" and aadsts(again) == 54005
        grants = world.ctx.store.list(world.tenant.tenant_id, "oauth2PermissionGrants")
        mine = [g for g in grants if g["principalId"] == user_id and "User.Read" in g["scope"].split()]
        assert mine and mine[0]["consentType"] == "Principal"
        # Signed in (session cookie) and consented: straight back to the app, no page.
        sso = http.get(authorize_url(world, app, code_challenge=challenge, code_challenge_method="S256"))
        assert sso.status_code == 302 and "code=" in sso.headers["location"]


def test_pkce_mismatch_plain_method_and_code_expiry(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    app = register_app(emulator, public=[CALLBACK])
    with client(emulator) as http:
        page = http.get(
            authorize_url(
                emulator, app, code_challenge="plain-verifier-" + "x" * 30, code_challenge_method="plain"
            )
        )
        code = code_from(sign_in(http, page, user_upn(emulator, "user")))
        base = {
            "grant_type": "authorization_code",
            "client_id": app["appId"],
            "code": code,
            "redirect_uri": CALLBACK,
        }
        wrong = token_request(http, emulator, **base, code_verifier="wrong-verifier-" + "y" * 30)
        assert wrong.json()["error"] == "invalid_grant" and aadsts(wrong) == 501481
        ok = token_request(http, emulator, **base, code_verifier="plain-verifier-" + "x" * 30)
        assert ok.status_code == 200, ok.text
        assert "refresh_token" in ok.json() and "id_token" in ok.json()
        page = http.get(authorize_url(emulator, app, scope="User.Read"))
        code = code_from(page if page.status_code == 302 else sign_in(http, page, user_upn(emulator, "user")))
        emulator.ctx.clock.advance(61)
        late = redeem_code(http, emulator, app, code)
        assert aadsts(late) == 70008
        garbage = redeem_code(http, emulator, app, "not-a-code")
        assert garbage.json()["error"] == "invalid_grant" and aadsts(garbage) == 70000


def test_confidential_web_client_needs_its_secret(world: RunningEmulator) -> None:
    secret = "web-secret-" + secrets.token_urlsafe(16)
    app = register_app(world, web=["https://app.example/signin"], secret=secret)
    with client(world) as http:
        page = http.get(
            authorize_url(
                world,
                app,
                redirect_uri="https://app.example/signin",
                scope="openid User.Read",
                prompt="login",
            )
        )
        response = sign_in(http, page, user_upn(world, "user"))
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        base = {
            "grant_type": "authorization_code",
            "client_id": app["appId"],
            "code": code,
            "redirect_uri": "https://app.example/signin",
        }
        missing = token_request(http, world, **base)
        assert missing.status_code == 401 and aadsts(missing) == 7000218
        ok = token_request(http, world, **base, client_secret=secret)
        assert ok.status_code == 200, ok.text
        assert "refresh_token" not in ok.json()  # offline_access was not requested
        assert "id_token" in ok.json()


def test_redirect_uri_mismatch_shows_error_page(world: RunningEmulator) -> None:
    app = register_app(world, public=[CALLBACK])
    with client(world) as http:
        page = http.get(authorize_url(world, app, redirect_uri="https://evil.example/callback"))
        assert page.status_code == 400 and "location" not in page.headers
        assert "AADSTS50011" in page.text
        unknown = http.get(authorize_url(world, {"appId": str(uuid.uuid4())}))
        assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
        bad_scope = http.get(authorize_url(world, app, scope="https://graph.microsoft.com/No.Such.Scope"))
        location = parse_qs(urlsplit(bad_scope.headers["location"]).query)
        assert location["error"] == ["invalid_scope"] and location["state"] == ["st-123"]


def test_consent_declined_and_prompt_none(world: RunningEmulator) -> None:
    app = register_app(world, public=[CALLBACK])
    with client(world) as http:
        silent = http.get(authorize_url(world, app, prompt="none"))
        assert parse_qs(urlsplit(silent.headers["location"]).query)["error"] == ["login_required"]
        page = http.get(authorize_url(world, app))
        declined = sign_in(http, page, user_upn(world, "user"), decision="cancel")
        query = parse_qs(urlsplit(declined.headers["location"]).query)
        assert query["error"] == ["access_denied"] and query["error_description"][0].startswith("AADSTS65004")
        # Signed in now, but no consent: prompt=none cannot ask.
        silent = http.get(authorize_url(world, app, prompt="none"))
        query = parse_qs(urlsplit(silent.headers["location"]).query)
        assert query["error"] == ["interaction_required"] and "AADSTS65001" in query["error_description"][0]


def test_admin_only_scope_needs_admin_consent(world: RunningEmulator) -> None:
    app = register_app(world, public=[CALLBACK])
    scope = "openid https://graph.microsoft.com/Directory.Read.All"
    with client(world) as http:
        page = http.get(authorize_url(world, app, scope=scope, prompt="login"))
        refused = sign_in(http, page, user_upn(world, "user"))
        assert (
            refused.status_code == 200 and "AADSTS90094" in refused.text and "location" not in refused.headers
        )
    with client(world) as http:
        page = http.get(authorize_url(world, app, scope=scope, prompt="login"))
        granted = sign_in(http, page, user_upn(world, "admin"), admin_consent=True)
        code_from(granted)
    grants = [
        g
        for g in world.ctx.store.list(world.tenant.tenant_id, "oauth2PermissionGrants")
        if "Directory.Read.All" in g["scope"].split()
    ]
    assert any(g["consentType"] == "AllPrincipals" and g["principalId"] is None for g in grants)
    with client(world) as http:  # now the normal user gets through without a consent page
        page = http.get(authorize_url(world, app, scope=scope, prompt="login"))
        code_from(sign_in(http, page, user_upn(world, "user")))


# -- refresh tokens ---------------------------------------------------------------------------------


def test_refresh_token_rotation(world: RunningEmulator) -> None:
    app = register_app(world, public=[CALLBACK])
    with client(world) as http:
        first = interactive_tokens(world, http, app)
        refreshed = refresh(
            http, world, app["appId"], first["refresh_token"], "openid User.Read offline_access"
        )
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["refresh_token"] != first["refresh_token"] and second["access_token"]
        assert "id_token" in second
        again = refresh(http, world, app["appId"], second["refresh_token"], "User.Read")
        assert again.status_code == 200 and again.json()["refresh_token"] not in (
            first["refresh_token"],
            second["refresh_token"],
        )
        more = refresh(http, world, app["appId"], second["refresh_token"], "User.Read Mail.Read")
        assert more.json()["error"] == "invalid_grant" and aadsts(more) == 65001
        other_app = register_app(world, public=[CALLBACK])
        stolen = refresh(http, world, other_app["appId"], second["refresh_token"], "User.Read")
        assert aadsts(stolen) == 70000
    stored = world.ctx.store.list(world.tenant.tenant_id, "refreshTokens")
    assert first["refresh_token"] not in str(stored)  # only hashes are kept


def test_revoked_and_expired_refresh_tokens_are_distinguishable(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    app = register_app(emulator, public=[CALLBACK])
    with client(emulator) as http:
        aged = interactive_tokens(emulator, http, app)["refresh_token"]
        emulator.ctx.clock.advance(91 * 24 * 3600)
        expired = refresh(http, emulator, app["appId"], aged, "User.Read")
        assert expired.json()["error"] == "invalid_grant" and aadsts(expired) == 700082
        assert "inactivity" in expired.json()["error_description"]

        fresh = interactive_tokens(emulator, http, app)["refresh_token"]
        emulator.ctx.clock.advance(5)
        tenant = emulator.tenant.tenant_id
        user = next(
            u
            for u in emulator.ctx.store.list(tenant, "users")
            if u["userPrincipalName"] == user_upn(emulator, "user")
        )
        user["signInSessionsValidFromDateTime"] = iso(emulator.ctx.clock.now())  # revokeSignInSessions
        emulator.ctx.store.put(tenant, "users", user)
        revoked = refresh(http, emulator, app["appId"], fresh, "User.Read")
        assert revoked.json()["error"] == "invalid_grant" and aadsts(revoked) == 50173
        assert "revoked" in revoked.json()["error_description"]
        assert revoked.json()["error_description"] != expired.json()["error_description"]


# -- admin routes, faults, persistence --------------------------------------------------------------


def test_admin_routes_and_faults(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    admin = emulator.admin_headers()
    with client(emulator) as http:
        before = emulator.ctx.clock.now()
        moved = http.post("/_emulator/clock", json={"advance_seconds": 3600}, headers=admin).json()
        assert moved["now"] >= iso(before + timedelta(seconds=3600))
        http.get(f"/{emulator.tenant.tenant_id}/v2.0/.well-known/openid-configuration")
        counters = http.get("/_emulator/counters", headers=admin).json()
        assert counters["requests"] >= 1
        second = http.post("/_emulator/tenants", json={}, headers=admin).json()
        assert second["tenant_id"] == emulator.tenant.tenant_id
        other_id = str(uuid.uuid4())
        other = http.post("/_emulator/tenants", json={"tenant_id": other_id}, headers=admin).json()
        assert other["tenant_id"] == other_id and other["admin_client_secret"]
        token = http.post(
            f"/{other_id}/oauth2/v2.0/token",
            data=client_credentials_form(other["admin_client_id"], other["admin_client_secret"]),
        )
        assert token.status_code == 200
        assert (
            http.put("/_emulator/faults", json={"error_rate": 1.0, "seed": 1}, headers=admin).status_code
            == 200
        )
        failing = http.get("/v1.0/organization")
        assert failing.status_code == 503 and failing.headers["retry-after"]
        http.put("/_emulator/faults", json={"throttle_rate_per_s": 0.001, "throttle_burst": 1}, headers=admin)
        assert http.get("/v1.0/organization").status_code != 429
        throttled = http.get("/v1.0/organization")
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        assert http.put("/_emulator/faults", json={"bogus": 1}, headers=admin).status_code == 400
        http.put("/_emulator/faults", json={}, headers=admin)
        token_counter = http.get("/_emulator/counters", headers=admin).json()
        assert token_counter["token_requests"] >= 1 and token_counter["graph_requests"] >= 3


def test_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state" / "emulator.db"
    with start_emulator(state_path=state) as first:
        tenant = first.tenant
        ca_pem = first.ca_cert_path.read_bytes()
        old_context = first.ssl_context()
        with client(first) as http:
            kid = http.get(f"/{tenant.tenant_id}/discovery/v2.0/keys").json()["keys"][0]["kid"]
    with start_emulator(state_path=state) as second:
        assert second.tenant.tenant_id == tenant.tenant_id
        assert second.tenant.admin_client_secret == tenant.admin_client_secret
        assert second.ca_cert_path.read_bytes() == ca_pem
        with httpx.Client(verify=old_context, base_url=second.base_url) as http:
            assert http.get(f"/{tenant.tenant_id}/discovery/v2.0/keys").json()["keys"][0]["kid"] == kid
        credential = admin_credential(second)
        assert (
            verify_access_token(second.ctx, credential.get_token(GRAPH_DEFAULT).token)["tid"]
            == tenant.tenant_id
        )


def test_tls_certificate_names(emulator: RunningEmulator) -> None:
    context = emulator.ssl_context()
    for host in ("localhost", "127.0.0.1"):
        with httpx.Client(verify=context) as http:
            assert http.get(f"https://{host}:{emulator.port}/_emulator/health").status_code == 200
    assert isinstance(context, ssl.SSLContext)


def test_msal_public_client_auth_code_flow_and_silent_refresh(world: RunningEmulator) -> None:
    """The unmodified MSAL drives the emulator's authorize page, code redemption and refresh."""
    app = register_app(world, public=[CALLBACK])
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override session.verify
    session.verify = str(world.ca_cert_path)
    pca = msal.PublicClientApplication(
        app["appId"],
        authority=f"{world.authority}/{world.tenant.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )
    flow = pca.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK, response_mode="form_post")
    with client(world) as http:
        posted = sign_in(http, http.get(flow["auth_uri"]), user_upn(world, "user"))
    response_form = forms(posted.text)["response"]  # response_mode=form_post: a form aimed at the app
    assert response_form["action"] == CALLBACK
    result = pca.acquire_token_by_auth_code_flow(flow, response_form["fields"])
    assert "access_token" in result, result.get("error_description")
    assert result["id_token_claims"]["preferred_username"] == user_upn(world, "user")
    (account,) = pca.get_accounts()
    assert account["realm"] == world.tenant.tenant_id
    silent = pca.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert silent and silent["token_source"] == "identity_provider"
    claims = verify_access_token(world.ctx, silent["access_token"], audience="https://graph.microsoft.com")
    assert "User.Read" in claims["scp"].split()


@pytest.mark.parametrize("json_output", [False, True])
def test_serve_prints_connection_values_and_stops_on_sigterm(tmp_path: Path, json_output: bool) -> None:
    code = (
        "import sys; from provisioner.emulator.server import serve; "
        f"serve(state_path=sys.argv[1], json_output={json_output})"
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "emulator.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        if json_output:
            info = json.loads(process.stdout.readline())
            env = info["env"]
        else:
            env = {}
            for line in process.stdout:
                if line.startswith("export "):
                    name, _, value = line[len("export ") :].strip().partition("=")
                    env[name] = value.strip("'")
                if "PROVISIONER_CA_CERT" in env:
                    break
        elapsed = time.monotonic() - started
        assert elapsed < 10  # generous for loaded CI; the emulator itself starts in well under 2 s
        assert env["PROVISIONER_GRAPH_URL"] == env["PROVISIONER_EMULATOR_URL"] + "/v1.0"
        assert env["AZURE_AUTHORITY_HOST"] == env["PROVISIONER_EMULATOR_URL"]
        assert Path(env["PROVISIONER_CA_CERT"]).parent == tmp_path / "emulator-tls"
        context = ssl.create_default_context(cafile=env["PROVISIONER_CA_CERT"])
        with httpx.Client(verify=context) as http:
            token = http.post(
                f"{env['PROVISIONER_EMULATOR_URL']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                data=client_credentials_form(env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]),
            )
        assert token.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- fixes found by the authorize/verify work ------------------------------------------------------


def _admin_graph(emulator: RunningEmulator) -> httpx.Client:
    """httpx against the emulator's Graph with the bootstrap admin's client-credentials token."""
    with client(emulator) as http:
        form = client_credentials_form(emulator.tenant.admin_client_id, emulator.tenant.admin_client_secret)
        token = token_request(http, emulator, **form).json()["access_token"]
    return httpx.Client(
        verify=emulator.ssl_context(),
        base_url=emulator.graph_url + "/",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_revocation_through_graph_covers_a_sign_in_in_the_same_second(tmp_emulator: RunningEmulator) -> None:
    """Graph shows revocation time to the second; a sign-in just before it is revoked all the same."""
    emulator = tmp_emulator
    app = register_app(emulator, public=[CALLBACK])
    with client(emulator) as http, _admin_graph(emulator) as graph:
        refresh_token = interactive_tokens(emulator, http, app)["refresh_token"]
        user = graph.get(f"users/{user_upn(emulator, 'user')}").json()
        # No clock movement: the revocation lands in the same second as the sign-in.
        assert graph.post(f"users/{user['id']}/revokeSignInSessions").status_code == 200
        answer = refresh(http, emulator, app["appId"], refresh_token)
        assert aadsts(answer) == 50173, answer.text
        shown = graph.get(f"users/{user['id']}").json()
        assert not any(key.startswith("_") for key in shown)


def test_public_client_redemption_with_a_secret_is_aadsts700025(tmp_emulator: RunningEmulator) -> None:
    emulator = tmp_emulator
    app = register_app(emulator, public=[CALLBACK], secret="s3cret-value-for-a-public-client")
    with client(emulator) as http:
        verifier, challenge = pkce_pair()
        page = http.get(authorize_url(emulator, app, code_challenge=challenge, code_challenge_method="S256"))
        code = code_from(sign_in(http, page, user_upn(emulator, "user")))
        answer = redeem_code(
            http,
            emulator,
            app,
            code,
            client_secret="s3cret-value-for-a-public-client",
            code_verifier=verifier,
        )
        assert answer.status_code == 401 and aadsts(answer) == 700025, answer.text


def test_logout_redirects_only_to_registered_uris(emulator: RunningEmulator) -> None:
    app = register_app(emulator, web=["https://app.example.com/signed-out"])
    tenant = emulator.tenant.tenant_id
    with client(emulator) as http:
        ok = http.get(
            f"/{tenant}/oauth2/v2.0/logout",
            params={"post_logout_redirect_uri": app["web"]["redirectUris"][0]},
        )
        assert ok.status_code == 302 and ok.headers["location"] == "https://app.example.com/signed-out"
        evil = http.get(
            f"/{tenant}/oauth2/v2.0/logout", params={"post_logout_redirect_uri": "https://evil.example/"}
        )
        assert evil.status_code == 200 and "location" not in evil.headers
