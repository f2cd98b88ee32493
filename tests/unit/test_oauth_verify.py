"""verify's logic against a scripted token endpoint: roles/scp gaps, invalidated token files, rotation."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt
import pytest

from provisioner.manifest import LoadedApp, load_text
from provisioner.oauth.client_config import ClientConfig, rebase
from provisioner.oauth.token_client import TokenClient
from provisioner.oauth.token_file import write_token_file
from provisioner.oauth.verify import VerifyReport, verify_app
from provisioner.views.verify import print_report

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
TENANT_ID = "22222222-2222-2222-2222-222222222222"
SECRET = "client-secret-value-never-shown"
TOKEN_URL = f"https://login.example.test/{TENANT_ID}/oauth2/v2.0/token"

MANIFEST = """version: 1
apps:
  - name: mail-app
    display_name: Mail app
    redirect_uris:
      web: [http://localhost:8400/callback]
    permissions:
      Microsoft Graph:
        delegated: [openid, offline_access, User.Read, Mail.Send]
        application: [Mail.Read, Mail.Send]
      Office 365 Exchange Online:
        delegated: [EWS.AccessAsUser.All]
"""


def loaded_app() -> LoadedApp:
    loaded, errors = load_text(MANIFEST, "inline.yaml")
    assert not errors, errors
    return loaded[0]


def config(client_id: str = CLIENT_ID) -> ClientConfig:
    return ClientConfig(
        app="mail-app",
        tenant_id=TENANT_ID,
        client_id=client_id,
        authorization_url=TOKEN_URL.replace("/token", "/authorize"),
        token_url=TOKEN_URL,
        client_secret=SECRET,
    )


def token(**claims: object) -> str:
    return jwt.encode(dict(claims), "k" * 32, algorithm="HS256")


class Endpoint:
    """Answers like the v2.0 endpoint: roles per .default, scp per refresh; records the forms."""

    def __init__(self, roles: list[str], scp: dict[str, str]) -> None:
        self.roles, self.scp = roles, scp
        self.forms: list[dict[str, str]] = []
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.forms.append(form)
        if form["grant_type"] == "client_credentials":
            return httpx.Response(
                200,
                json={"token_type": "Bearer", "expires_in": 3599, "access_token": token(roles=self.roles)},
            )
        resource = "exchange" if "outlook.office.com" in form["scope"] else "graph"
        self.issued += 1
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": 3599,
                "scope": form["scope"],
                "access_token": token(scp=self.scp[resource]),
                "refresh_token": f"1.R.rotated-{self.issued}",
            },
        )

    def factory(self, cfg: ClientConfig) -> TokenClient:
        return TokenClient(cfg.token_url, transport=httpx.MockTransport(self))


def stored_tokens(path: Path, client_id: str = CLIENT_ID) -> None:
    write_token_file(
        path,
        {
            "access_token": "eyJ.old",
            "refresh_token": "1.R.original",
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": "User.Read",
            "expires_at": 0,
            "client_id": client_id,
            "tenant_id": TENANT_ID,
            "token_url": TOKEN_URL,
        },
    )


def test_all_permissions_present_and_refresh_token_rotated(tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "mail-app.json"
    stored_tokens(path)
    endpoint = Endpoint(
        ["Mail.Read", "Mail.Send"],
        {"graph": "User.Read Mail.Send openid", "exchange": "EWS.AccessAsUser.All"},
    )
    report = verify_app(loaded_app(), config(), token_path=path, client_factory=endpoint.factory)
    assert report.ok, report.to_dict()
    assert [(c.kind, c.resource, c.status) for c in report.checks] == [
        ("application", "Microsoft Graph", "ok"),
        ("delegated", "Microsoft Graph", "ok"),
        ("delegated", "Office 365 Exchange Online", "ok"),
    ]
    grants = [(f["grant_type"], f["scope"]) for f in endpoint.forms]
    assert grants == [
        ("client_credentials", "https://graph.microsoft.com/.default"),
        ("refresh_token", "User.Read Mail.Send"),
        ("refresh_token", "https://outlook.office.com/EWS.AccessAsUser.All"),
    ]
    # The second refresh used the token the first one returned; the newest one is stored.
    assert endpoint.forms[1]["refresh_token"] == "1.R.original"
    assert endpoint.forms[2]["refresh_token"] == "1.R.rotated-1"
    assert endpoint.forms[1]["client_secret"] == SECRET  # web redirect: confidential refresh
    assert json.loads(path.read_text())["refresh_token"] == "1.R.rotated-2"


def test_gaps_are_reported_per_resource(tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "mail-app.json"
    stored_tokens(path)
    endpoint = Endpoint(["Mail.Read"], {"graph": "User.Read", "exchange": "EWS.AccessAsUser.All"})
    report = verify_app(loaded_app(), config(), token_path=path, client_factory=endpoint.factory)
    assert not report.ok
    gaps = {(c.kind, c.resource): c.missing for c in report.checks if c.status == "gap"}
    assert gaps == {
        ("application", "Microsoft Graph"): ["Mail.Send"],
        ("delegated", "Microsoft Graph"): ["Mail.Send"],
    }


def test_changed_client_id_invalidates_the_token_file_without_sending_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "mail-app.json"
    stored_tokens(path, client_id="33333333-3333-3333-3333-333333333333")
    endpoint = Endpoint(["Mail.Read", "Mail.Send"], {})
    report = verify_app(loaded_app(), config(), token_path=path, client_factory=endpoint.factory)
    delegated = [c for c in report.checks if c.kind == "delegated"]
    assert {c.error for c in delegated} == {"invalidated"}
    assert all(
        "invalidated" in c.message and "client ID changed; re-run provisioner authorize" in c.message
        for c in delegated
    )
    assert all(f["grant_type"] == "client_credentials" for f in endpoint.forms)


def test_without_token_file_delegated_checks_are_skipped(tmp_path: Path) -> None:
    endpoint = Endpoint(["Mail.Read", "Mail.Send"], {})
    report = verify_app(
        loaded_app(), config(), token_path=tmp_path / "none.json", client_factory=endpoint.factory
    )
    assert report.ok
    assert {c.status for c in report.checks if c.kind == "delegated"} == {"skipped"}


def test_report_never_shows_secret_or_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tokens" / "mail-app.json"
    stored_tokens(path)
    endpoint = Endpoint(["Mail.Read"], {"graph": "User.Read", "exchange": ""})
    report = VerifyReport(
        [verify_app(loaded_app(), config(), token_path=path, client_factory=endpoint.factory)]
    )
    print_report(report)
    text = capsys.readouterr().out + json.dumps(report.to_dict())
    assert "GAP" in text and "not working" in text
    for value in (SECRET, "1.R.original", "1.R.rotated", "eyJ"):
        assert value not in text


def test_rebase_keeps_the_tenant_path() -> None:
    assert (
        rebase("https://localhost:1111/organizations/oauth2/v2.0/token", "https://localhost:2222")
        == "https://localhost:2222/organizations/oauth2/v2.0/token"
    )
