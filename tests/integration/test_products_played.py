"""Issue 17, "done when": each seed product configured from its manifest, then played with the emitted values.

Per product: ``apply`` the shipped manifest (written from the product's procedure) to a fresh
emulator tenant, read only the connection values the tool emitted (or the file it rendered),
and do what the product does with them: client credentials; authorization code + token +
refresh with the product's own redirect URI; PKCE as a public client on
``http://localhost:9999/Callback``; an Exchange Online token for EWS whose audience and scopes
are checked. The sign-in is the emulator's page, submitted as its admin user would.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, ok, run_cli, tenant_env
from oauth_support import forms, pkce_pair
from reliability_support import fresh_tenant

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class Product:
    """One product's view: the emitted values and HTTPS to the emulator (loopback only)."""

    def __init__(self, emulator: Any, tmp_path: Path, manifest: str, app: str) -> None:
        self.emulator = emulator
        tenant = fresh_tenant(emulator)
        (tmp_path / "manifests").mkdir()
        shutil.copy(MANIFESTS / manifest, tmp_path / "manifests" / manifest)
        env = {**base_env(), **tenant_env(emulator, tenant), "NO_PROXY": "localhost,127.0.0.1"}
        ok(run_cli("apply", "manifests", "--yes", "--state-dir", "state", cwd=tmp_path, env=env))
        again = ok(
            run_cli("plan", "manifests", "--detailed-exitcode", "--state-dir", "state", cwd=tmp_path, env=env)
        )
        assert "No changes" in again.stdout
        self.values: dict[str, Any] = json.loads(connection_file(tmp_path / "state", app).read_text())
        self.http = httpx.Client(verify=str(emulator.ca_cert_path), trust_env=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    def sign_in(self, authorize_url: str, params: dict[str, str]) -> dict[str, str]:
        """Browser part: open the authorize URL, sign in, return the redirect's query (not followed)."""
        url = str(httpx.URL(authorize_url, params=params))
        page = self.http.get(url)
        assert page.status_code == 200, page.text[:500]
        signin = forms(page.text)["signin"]
        button = next(
            b for b in signin["buttons"] if b.get("name") == "user" and b["data-upn"].startswith("admin@")
        )
        answer = self.http.post(
            httpx.URL(url).join(signin["action"]), data={**signin["fields"], "user": button["value"]}
        )
        consent = forms(answer.text).get("consent") if answer.status_code == 200 else None
        if consent is not None:
            answer = self.http.post(
                httpx.URL(url).join(consent["action"]), data={**consent["fields"], "decision": "accept"}
            )
        assert answer.status_code == 302, answer.text[:500]
        location = httpx.URL(answer.headers["location"])
        assert str(location).startswith(params["redirect_uri"]), location
        return dict(location.params)

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        answer = self.http.post(self.values["token_url"], data=form)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def code_flow(self, redirect_uri: str, *, secret: bool = True, pkce: bool = False) -> dict[str, Any]:
        """Authorization code -> token -> refresh, as the product's procedure spells it."""
        v = self.values
        state = secrets.token_urlsafe(8)
        params = {
            "client_id": v["client_id"],
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": v["scopes"],
            "state": state,
        }
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        back = self.sign_in(v["authorization_url"], params)
        assert back["state"] == state and back.get("code"), back
        form = {
            "client_id": v["client_id"],
            "scope": v["scopes"],
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": redirect_uri,
        }
        if secret:
            form["client_secret"] = v["client_secret"]
        if verifier:
            form["code_verifier"] = verifier
        first = self.token(form)
        assert first["access_token"] and first["refresh_token"], "offline_access gives a refresh token"
        refresh = {
            "client_id": v["client_id"],
            "scope": v["scopes"],
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
        }
        if secret:
            refresh["client_secret"] = v["client_secret"]
        second = self.token(refresh)
        assert second["access_token"] and second["refresh_token"] != first["refresh_token"]
        return second


@pytest.fixture
def product(emulator: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    made: list[Product] = []

    def make(manifest: str, app: str) -> Product:
        made.append(Product(emulator, tmp_path, manifest, app))
        return made[-1]

    yield make
    for item in made:
        item.close()


def test_exchange_connector_authorization_code_with_its_own_redirect_uri(product: Any) -> None:
    p = product("01-exchange-connector.yaml", "exchange-connector")
    assert "/organizations/oauth2/v2.0/" in p.values["authorization_url"]  # any organisational directory
    tokens = p.code_flow("http://localhost/myapps/")
    access = claims(tokens["access_token"])
    assert access["aud"] == "https://graph.microsoft.com" and access["appid"] == p.values["client_id"]
    assert {"Calendars.ReadWrite", "Contacts.ReadWrite", "Mail.ReadWrite", "Mail.Send", "User.Read"} <= set(
        access["scp"].split()
    )


def test_outlook_etl_code_flow_on_the_products_return_url_and_its_scope_string(product: Any) -> None:
    p = product("02-outlook-etl.yaml", "outlook-etl")
    assert f"/{p.values['tenant_id']}/oauth2/v2.0/token" in p.values["token_url"]  # single-tenant URLs
    tokens = p.code_flow("https://zappysys.com/oauth")
    access = claims(tokens["access_token"])
    assert {"Mail.Read", "Mail.Read.Shared", "Mail.Send.Shared", "User.ReadBasic.All"} <= set(
        access["scp"].split()
    )
    # the refresh-token file the product reads
    token_file = {k: tokens[k] for k in ("access_token", "refresh_token", "expires_in")}
    assert token_file["expires_in"] > 3000


def test_logistics_app_client_credentials_with_secret_value_and_id(product: Any) -> None:
    p = product("03-logistics-app.yaml", "logistics-ops")
    v = p.values
    assert v["client_secret_id"] and v["client_secret"] and v["mailbox"] == "ops@example.com"
    assert f"/{v['tenant_id']}/oauth2/v2.0/token" in v["tenant_token_url"]
    (scope,) = v["app_scopes"].split()
    answer = p.http.post(
        v["tenant_token_url"],
        data={
            "client_id": v["client_id"],
            "client_secret": v["client_secret"],
            "scope": scope,
            "grant_type": "client_credentials",
        },
    )
    assert answer.status_code == 200, answer.text
    access = claims(answer.json()["access_token"])
    assert set(access["roles"]) == {"Mail.Read", "Mail.Send"} and "scp" not in access
    users = p.http.get(
        f"{v['graph_endpoint']}/v1.0/users",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
    )
    assert users.status_code in (200, 403)  # the token is accepted by Graph (roles decide the rest)


def test_automation_platform_pkce_public_client_on_port_9999(product: Any) -> None:
    p = product("04-automation-pkce.yaml", "automation-pkce")
    assert "client_secret" not in p.values  # a public client has none
    tokens = p.code_flow("http://localhost:9999/Callback", secret=False, pkce=True)
    access = claims(tokens["access_token"])
    assert access["tid"] == p.values["tenant_id"] and access["appid"] == p.values["client_id"]
    assert {"Mail.ReadWrite", "Mail.Send", "User.Read"} <= set(access["scp"].split())


def test_ews_test_tool_gets_an_exchange_online_token(product: Any) -> None:
    p = product("05-ews-test-tool.yaml", "ews-test-tool")
    v = p.values
    assert v["ews_url"] == "https://outlook.office365.com/EWS/Exchange.asmx"
    assert "https://outlook.office.com/EWS.AccessAsUser.All" in v["scopes"].split()
    tokens = p.code_flow("https://integrations.example.com/ews-test/callback")
    access = claims(tokens["access_token"])
    # Exchange Online, as named in the requested scope (both of its identifier URIs reach EWS); not Graph
    assert access["aud"] in ("https://outlook.office.com", "https://outlook.office365.com")
    assert access["scp"].split() == ["EWS.AccessAsUser.All"] and access["appid"] == v["client_id"]
