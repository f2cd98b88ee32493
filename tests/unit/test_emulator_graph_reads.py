"""Graph read paths and shapes clients such as the Azure CLI rely on, in-process against a fresh tenant.

Unknown segments named in the 400, ``/users/$count``, ``/directoryObjects`` (one object,
``getByIds``), ``/me/ownedObjects`` with limited information for types the caller may
not read, delta queries, extension properties, service principal secrets, certificates,
``publisherName`` and ``endpoints``, ``$search`` tokenisation and ``owners/$count``, and
tokens for the emulator's own URL (a custom cloud's Graph resource id).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from provisioner.emulator.app import build_app
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.odata.evaluate import search_tokens
from provisioner.emulator.identity.tokens import mint_access_token
from provisioner.emulator.seed import GRAPH_APP_ID, ensure_tenant
from provisioner.emulator.store import Store

BASE = "https://localhost:8443"
ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.Read.All"]
EVENTUAL = {"ConsistencyLevel": "eventual"}


class World:
    def __init__(self) -> None:
        self.ctx = EmulatorContext(store=Store(None), base_url=BASE)
        self.tenant = ensure_tenant(self.ctx)
        self.tid = self.tenant.tenant_id
        self.client = TestClient(build_app(self.ctx), base_url=BASE)
        self.admin_sp = self.ctx.store.find(self.tid, "servicePrincipals", appId=self.tenant.admin_client_id)[
            0
        ]
        self.admin_user = next(u for u in self.tenant.users if u["userPrincipalName"].startswith("admin@"))

    def token(self, roles: list[str] | None = None, *, scp: str | None = None) -> str:
        return mint_access_token(
            self.ctx,
            self.tid,
            client_app_id=self.tenant.admin_client_id,
            oid=self.admin_user["id"] if scp is not None else self.admin_sp["id"],
            audience="https://graph.microsoft.com",
            roles=ADMIN_ROLES if roles is None and scp is None else roles,
            scp=scp,
        )

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        return self.client.request(method, f"{BASE}/v1.0{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def new_app(self, name: str = "reads", **body: Any) -> dict[str, Any]:
        app: dict[str, Any] = self.ok("POST", "/applications", json={"displayName": name, **body})
        return app


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


# --------------------------------------------------------------------------- routing


def test_the_400_names_the_segment_that_was_not_found(world: World) -> None:
    app = world.new_app()
    cases = {
        f"/applications/{app['id']}/fooAction": "fooAction",
        f"/applications(appId='{app['appId']}')/owners/x/y": "x",
        "/noSuchCollection/abc": "noSuchCollection",
        f"/servicePrincipals/{world.admin_sp['id']}/nope": "nope",
    }
    for path, segment in cases.items():
        assert error(world.call("GET", path)) == (
            400,
            "BadRequest",
            f"Resource not found for the segment '{segment}'.",
        ), path


def test_users_count_needs_the_consistency_header(world: World) -> None:
    assert error(world.call("GET", "/users/$count")) == (
        400,
        "Request_BadRequest",
        "$count is not currently supported.",
    )
    counted = world.call("GET", "/users/$count", headers=EVENTUAL)
    assert (counted.status_code, counted.text) == (200, str(len(world.tenant.users)))
    assert counted.headers["content-type"].startswith("text/plain")


# --------------------------------------------------------------------------- directoryObjects


def test_directory_object_by_id_is_typed_and_needs_directory_read(world: World) -> None:
    app = world.new_app()
    reader = world.token(["Directory.Read.All"])
    assert error(world.call("GET", f"/directoryObjects/{app['id']}"))[:2] == (
        403,
        "Authorization_RequestDenied",
    )
    got = world.ok("GET", f"/directoryObjects/{app['id']}", token=reader)
    assert got["@odata.type"] == "#microsoft.graph.application" and got["appId"] == app["appId"]
    assert got["@odata.context"].endswith("/$metadata#directoryObjects/$entity")
    user = world.ok("GET", f"/directoryObjects/{world.admin_user['id']}", token=reader)
    assert user["@odata.type"] == "#microsoft.graph.user" and "signInSessionsValidFromDateTime" not in user
    sp = world.ok("GET", f"/directoryObjects/{world.admin_sp['id']}", token=reader)
    assert sp["@odata.type"] == "#microsoft.graph.servicePrincipal"
    missing = "5b31c38c-2584-42f0-aa47-657fb3a84230"
    assert error(world.call("GET", f"/directoryObjects/{missing}", token=reader))[:2] == (
        404,
        "Request_ResourceNotFound",
    )
    assert error(world.call("GET", "/directoryObjects/not-a-guid", token=reader))[0] == 400


def test_get_by_ids_filters_by_type_and_skips_unknown_ids(world: World) -> None:
    app = world.new_app()
    reader = world.token(["Directory.Read.All"])
    ids = [app["id"], world.admin_user["id"], world.admin_sp["id"], "5b31c38c-2584-42f0-aa47-657fb3a84230"]
    every = world.ok("POST", "/directoryObjects/getByIds", json={"ids": ids}, token=reader)["value"]
    assert [o["id"] for o in every] == ids[:3]
    users_and_sps = world.ok(
        "POST",
        "/directoryObjects/getByIds",
        json={"ids": ids, "types": ["user", "servicePrincipal"]},
        token=reader,
    )["value"]
    assert {o["@odata.type"] for o in users_and_sps} == {
        "#microsoft.graph.user",
        "#microsoft.graph.servicePrincipal",
    }
    groups = world.ok(
        "POST", "/directoryObjects/getByIds", json={"ids": ids, "types": ["group"]}, token=reader
    )
    assert groups["value"] == []
    assert (
        error(world.call("POST", "/directoryObjects/getByIds", json={"types": ["user"]}, token=reader))[0]
        == 400
    )
    too_many = {"ids": [app["id"]] * 1001}
    assert error(world.call("POST", "/directoryObjects/getByIds", json=too_many, token=reader))[0] == 400


def test_my_owned_objects_show_less_of_what_the_user_may_not_read(world: World) -> None:
    # The admin owns the bootstrap application and its service principal (seeded).
    full = world.ok("GET", "/me/ownedObjects", token=world.token(scp="User.Read Application.Read.All"))[
        "value"
    ]
    types = {o["@odata.type"]: o for o in full}
    assert set(types) == {"#microsoft.graph.application", "#microsoft.graph.servicePrincipal"}
    assert types["#microsoft.graph.application"]["appId"] == world.tenant.admin_client_id
    limited = world.ok("GET", "/me/ownedObjects", token=world.token(scp="User.Read"))["value"]
    app = next(o for o in limited if o["@odata.type"] == "#microsoft.graph.application")
    assert app["id"] == types["#microsoft.graph.application"]["id"]
    assert app["displayName"] is None and app["appId"] is None  # "other properties are indicated as null"
    app_only = world.call("GET", "/me/ownedObjects")
    assert error(app_only)[:2] == (400, "BadRequest")
    other = world.call("GET", f"/users/{world.admin_user['id']}/ownedObjects")
    assert error(other)[:2] == (403, "Authorization_RequestDenied")  # application permissions: not supported


# --------------------------------------------------------------------------- delta


def test_application_delta_reports_changes_since_the_token(world: World) -> None:
    first = world.ok("GET", "/applications/delta?$select=displayName")
    assert {a["displayName"] for a in first["value"]} == {"provisioner bootstrap"}
    assert set(first["value"][0]) == {"id", "displayName"}
    link = first["@odata.deltaLink"]
    assert "$deltatoken=" in link and "@odata.nextLink" not in first
    kept, changed, deleted = world.new_app("kept"), world.new_app("changed"), world.new_app("deleted")
    second = world.ok("GET", link.removeprefix(f"{BASE}/v1.0"))
    assert {a["displayName"] for a in second["value"]} == {"kept", "changed", "deleted"}
    assert set(second["value"][0]) == {"id", "displayName"}  # the $select of the round is kept
    world.ok("PATCH", f"/applications/{changed['id']}", json={"displayName": "changed again"})
    world.ok("DELETE", f"/applications/{deleted['id']}")
    third = world.ok("GET", second["@odata.deltaLink"].removeprefix(f"{BASE}/v1.0"))
    by_id = {a["id"]: a for a in third["value"]}
    assert by_id[changed["id"]]["displayName"] == "changed again"
    assert by_id[deleted["id"]]["@removed"] == {"reason": "changed"}  # soft-deleted: restorable
    assert kept["id"] not in by_id
    world.ok("DELETE", f"/directory/deletedItems/{deleted['id']}")
    fourth = world.ok("GET", third["@odata.deltaLink"].removeprefix(f"{BASE}/v1.0"))
    assert fourth["value"] == [{"id": deleted["id"], "@removed": {"reason": "deleted"}}]
    assert error(world.call("GET", "/applications/delta?$deltatoken=forged"))[0] == 400
    assert error(world.call("GET", "/applications/delta?$filter=displayName eq 'x'"))[0] == 400
    assert world.ok("GET", "/servicePrincipals/delta()")["value"]  # the SDK's spelling, and SPs too


# --------------------------------------------------------------------------- extension properties


def test_extension_properties(world: World) -> None:
    app = world.new_app()
    path = f"/applications/{app['id']}/extensionProperties"
    created = world.call(
        "POST", path, json={"name": "jobGroup", "dataType": "String", "targetObjects": ["User"]}
    )
    assert created.status_code == 201, created.text
    prop = created.json()
    assert prop["name"] == f"extension_{app['appId'].replace('-', '')}_jobGroup"
    assert (prop["isMultiValued"], prop["isSyncedFromOnPremises"], prop["appDisplayName"]) == (
        False,
        False,
        "reads",
    )
    assert prop["@odata.context"].endswith(f"applications('{app['id']}')/extensionProperties/$entity")
    assert [p["id"] for p in world.ok("GET", path)["value"]] == [prop["id"]]
    assert world.ok("GET", f"{path}/{prop['id']}")["dataType"] == "String"
    duplicate = world.call(
        "POST", path, json={"name": "jobGroup", "dataType": "String", "targetObjects": ["User"]}
    )
    assert error(duplicate)[:2] == (400, "Request_BadRequest")
    for bad in (
        {"name": "x", "dataType": "Text", "targetObjects": ["User"]},
        {"name": "x", "dataType": "String", "targetObjects": ["Planet"]},
    ):
        assert error(world.call("POST", path, json=bad))[0] == 400
    assert world.call("DELETE", f"{path}/{prop['id']}").status_code == 204
    assert error(world.call("GET", f"{path}/{prop['id']}"))[:2] == (404, "Request_ResourceNotFound")


# --------------------------------------------------------------------------- service principals


def _certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sp cert")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_service_principal_secrets_certificates_publisher_and_endpoints(world: World) -> None:
    app = world.new_app()
    sp = world.ok("POST", "/servicePrincipals", json={"appId": app["appId"]})
    assert sp["publisherName"] == f"Emulated tenant {world.tid[:8]}"
    for key in ("errorUrl", "samlMetadataUrl", "preferredTokenSigningKeyEndDateTime"):
        assert key in sp and sp[key] is None
    graph = world.ok("GET", f"/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=publisherName")
    assert graph["publisherName"] == "Microsoft Services"
    added = world.call(
        "POST",
        f"/servicePrincipals/{sp['id']}/addPassword",
        json={"passwordCredential": {"displayName": "ci"}},
    )
    assert added.status_code == 200, added.text
    secret = added.json()
    assert secret["@odata.context"].endswith("#microsoft.graph.passwordCredential")
    assert secret["hint"] == secret["secretText"][:3] and secret["displayName"] == "ci"
    listed = world.ok("GET", f"/servicePrincipals/{sp['id']}")["passwordCredentials"]
    assert [(c["keyId"], c["secretText"]) for c in listed] == [(secret["keyId"], None)]
    assert (
        world.call(
            "POST", f"/servicePrincipals/{sp['id']}/removePassword", json={"keyId": secret["keyId"]}
        ).status_code
        == 204
    )
    assert world.ok("GET", f"/servicePrincipals/{sp['id']}")["passwordCredentials"] == []
    gone = world.call(
        "POST", f"/servicePrincipals/{sp['id']}/removePassword", json={"keyId": secret["keyId"]}
    )
    assert error(gone)[0] == 400
    key = _certificate()
    cred = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": key, "displayName": "cert"}
    assert (
        world.call("PATCH", f"/servicePrincipals/{sp['id']}", json={"keyCredentials": [cred]}).status_code
        == 204
    )
    stored = world.ok("GET", f"/servicePrincipals/{sp['id']}")["keyCredentials"][0]
    assert (
        len(stored["customKeyIdentifier"]) == 40 and stored["key"] is None
    )  # thumbprint; key only on $select
    selected = world.ok("GET", f"/servicePrincipals/{sp['id']}?$select=keyCredentials")["keyCredentials"][0]
    assert selected["key"] == key
    bad = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": "bm90IGEgY2VydA=="}
    assert (
        error(world.call("PATCH", f"/servicePrincipals/{sp['id']}", json={"keyCredentials": [bad]}))[0] == 400
    )
    endpoints = world.ok("GET", f"/servicePrincipals/{sp['id']}/endpoints")
    assert endpoints["value"] == [] and endpoints["@odata.context"].endswith(
        f"servicePrincipals('{sp['id']}')/endpoints"
    )
    assert world.ok("GET", f"/servicePrincipals/{sp['id']}?$expand=endpoints")["endpoints"] == []


# --------------------------------------------------------------------------- $search and $count filters


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("hello world", ["hello", "world"]),
        ("HelloWorld", ["hello", "world"]),
        ("helloWORLD", ["hello", "world"]),
        ("HELLOworld", ["helloworld"]),  # only lower-to-upper changes split
        ("HelloWORld", ["hello", "world"]),
        ("hello.world", [".", "hello", "world", "helloworld"]),
        ("hello123world", ["hello", "123", "world"]),
    ],
)
def test_search_tokens_follow_the_documented_examples(text: str, tokens: list[str]) -> None:
    assert search_tokens(text) == tokens


def test_search_matches_tokens_in_any_order_and_prefixes_elsewhere(world: World) -> None:
    for name in ("HelloWorld", "hello-world", "hello123world", "HELLOworld", "Contoso Mail Sync"):
        world.new_app(name, description=f"{name} description")

    def found(term: str, prop: str = "displayName") -> set[str]:
        query = f'/applications?$search="{prop}:{term}"&$select=displayName'
        return {a["displayName"] for a in world.ok("GET", query, headers=EVENTUAL)["value"]}

    assert found("world") == {"HelloWorld", "hello-world", "hello123world"}
    assert found("helloworld") == {"hello-world", "HELLOworld"}  # symbols join words; HELLOworld is one token
    assert found("123") == {"hello123world"}
    assert found("sync mail") == {"Contoso Mail Sync"}  # any order
    assert found("WorldHello") == {"HelloWorld", "hello-world", "hello123world"}  # the term is tokenised too
    assert found("syn", "description") == {"Contoso Mail Sync"}
    assert found("Contoso", "notes") == set()  # not tokenised: whole-value prefix


def test_owners_count_filter_is_an_advanced_query(world: World) -> None:
    orphan = world.new_app("orphan")
    owned = world.new_app("owned")
    world.ok("DELETE", f"/applications/{orphan['id']}/owners/{world.admin_sp['id']}/$ref")
    query = "/applications?$filter=owners/$count eq 0&$count=true&$select=displayName"
    body = world.ok("GET", query, headers=EVENTUAL)
    assert {a["displayName"] for a in body["value"]} == {"orphan"} and body["@odata.count"] == 1
    assert owned["displayName"] not in {a["displayName"] for a in body["value"]}
    some = world.ok(
        "GET", "/applications?$filter=owners/$count gt 0&$count=true&$select=displayName", headers=EVENTUAL
    )
    assert "owned" in {a["displayName"] for a in some["value"]}
    plain = world.call("GET", "/applications?$filter=owners/$count eq 0")
    assert error(plain)[:2] == (400, "Request_UnsupportedQuery")
    unknown = world.call("GET", "/applications?$filter=fans/$count eq 0&$count=true", headers=EVENTUAL)
    assert error(unknown)[:2] == (400, "Request_UnsupportedQuery")


# --------------------------------------------------------------------------- the emulator's own URL as Graph


def test_tokens_for_the_emulators_own_url_are_graph_tokens(world: World) -> None:
    """A custom cloud's Graph resource id is the emulator's URL (az derives {id}/v1.0 from it)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": world.tenant.admin_client_id,
        "client_secret": world.tenant.admin_client_secret,
        "scope": f"{BASE}//.default",
    }
    answer = world.client.post(f"{BASE}/{world.tid}/oauth2/v2.0/token", data=form)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    apps = world.call("GET", "/applications?$select=appId", token=token)
    assert apps.status_code == 200 and world.tenant.admin_client_id in {
        a["appId"] for a in apps.json()["value"]
    }
    other = {**form, "scope": "https://localhost:9999//.default"}  # another URL is no resource here
    refused = world.client.post(f"{BASE}/{world.tid}/oauth2/v2.0/token", data=other)
    assert refused.status_code == 400 and refused.json()["error_codes"] == [500011]
