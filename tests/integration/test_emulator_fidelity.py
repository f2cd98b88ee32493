"""Graph gaps the emulator closes: addKey/removeKey, soft-deleted service principals, $expand, OwnedBy reads.

In-process (Starlette TestClient against the emulator's ASGI app, one fresh tenant per
test), so each scenario starts clean and runs in milliseconds.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from graph_support import internal_keys
from starlette.testclient import TestClient

from provisioner.emulator.app import build_app
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity.tokens import mint_access_token
from provisioner.emulator.seed import GRAPH_APP_ID, ensure_tenant
from provisioner.emulator.store import Store

BASE = "https://localhost:8443"
GRAPH = "https://graph.microsoft.com"
ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"]
PROOF_AUD = "00000002-0000-0000-c000-000000000000"


class World:
    """One fresh tenant behind an in-process Graph + token endpoint."""

    def __init__(self) -> None:
        self.ctx = EmulatorContext(store=Store(None), base_url=BASE)
        self.tenant = ensure_tenant(self.ctx)
        self.tid = self.tenant.tenant_id
        self.client = TestClient(build_app(self.ctx), base_url=BASE)
        self.admin_sp = self.ctx.store.find(self.tid, "servicePrincipals", appId=self.tenant.admin_client_id)[
            0
        ]
        self.seen: list[Any] = []

    def token(
        self, roles: list[str] | None = None, *, oid: str | None = None, app_id: str | None = None
    ) -> str:
        return mint_access_token(
            self.ctx,
            self.tid,
            client_app_id=app_id or self.tenant.admin_client_id,
            oid=oid or self.admin_sp["id"],
            audience=GRAPH,
            roles=ADMIN_ROLES if roles is None else roles,
        )

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        response = self.client.request(method, BASE + "/v1.0" + path, headers=headers, **kwargs)
        if response.content and "json" in response.headers.get("content-type", ""):
            self.seen.append(response.json())
        return response

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def new_app(self, **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/applications", json={"displayName": "app", **body})

    def new_sp(self, app_id: str) -> dict[str, Any]:
        return self.ok("POST", "/servicePrincipals", json={"appId": app_id})


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    assert not internal_keys(w.seen)  # internal keys never leave the emulator


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --------------------------------------------------------------------------- addKey / removeKey


class Cert:
    """A self-signed certificate with its private key, as a rollover script would hold it."""

    def __init__(self, name: str, *, days: int = 30) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .sign(self.private_key, hashes.SHA256())
        )
        self.key = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.x5t = base64.urlsafe_b64encode(self.cert.fingerprint(hashes.SHA1())).decode().rstrip("=")

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"x5t": self.x5t})

    def proof(self, app_object_id: str, *, aud: str = PROOF_AUD, lifetime: int = 600) -> str:
        nbf = int(time.time())
        return self.sign({"aud": aud, "iss": app_object_id, "nbf": nbf, "exp": nbf + lifetime})

    def credential(self) -> dict[str, Any]:
        return {"type": "AsymmetricX509Cert", "usage": "Verify", "key": self.key}


def app_token(world: World, app: dict[str, Any], cert: Cert) -> Any:
    """The token endpoint's answer to a certificate client assertion for ``app``."""
    now = int(time.time())
    endpoint = f"{BASE}/{world.tid}/oauth2/v2.0/token"
    assertion = cert.sign(
        {
            "aud": endpoint,
            "iss": app["appId"],
            "sub": app["appId"],
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "exp": now + 300,
        }
    )
    return world.client.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": app["appId"],
            "scope": f"{GRAPH}/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_app_rolls_its_own_certificate_with_add_and_remove_key(world: World) -> None:
    old, new = Cert("old"), Cert("new")
    app = world.new_app(keyCredentials=[old.credential()])
    world.new_sp(app["appId"])
    issued = app_token(world, app, old)
    assert issued.status_code == 200, issued.text
    own = issued.json()["access_token"]  # no Graph permission at all: rolling own keys needs none

    body = {"keyCredential": new.credential(), "passwordCredential": None, "proof": old.proof(app["id"])}
    added = world.call("POST", f"/applications/{app['id']}/addKey", token=own, json=body)
    assert added.status_code == 200, added.text
    entry = added.json()
    assert entry["@odata.context"] == f"{BASE}/v1.0/$metadata#microsoft.graph.keyCredential"
    assert entry["type"] == "AsymmetricX509Cert" and entry["usage"] == "Verify" and entry["key"] is None
    assert entry["customKeyIdentifier"] == new.cert.fingerprint(hashes.SHA1()).hex().upper()
    assert app_token(world, app, new).status_code == 200  # the new key works for client assertions

    stored = world.ok("GET", f"/applications/{app['id']}?$select=keyCredentials")["keyCredentials"]
    old_id = next(c["keyId"] for c in stored if c["keyId"] != entry["keyId"])
    removed = world.call(
        "POST",
        f"/applications(appId='{app['appId']}')/removeKey",
        token=own,
        json={"keyId": old_id, "proof": new.proof(app["id"], aud=GRAPH_APP_ID)},
    )
    assert removed.status_code == 204, removed.text
    assert app_token(world, app, old).status_code in (400, 401)
    assert app_token(world, app, new).status_code == 200


def test_add_key_checks_the_proof(world: World) -> None:
    old, new, stranger = Cert("old"), Cert("new"), Cert("stranger")
    app = world.new_app(keyCredentials=[old.credential()])
    path = f"/applications/{app['id']}/addKey"

    def attempt(proof: str, **extra: Any) -> Any:
        return world.call("POST", path, json={"keyCredential": new.credential(), "proof": proof, **extra})

    assert error_of(attempt(stranger.proof(app["id"]))) == (400, "Request_BadRequest")  # not the app's key
    assert error_of(attempt(old.proof(app["appId"]))) == (400, "Request_BadRequest")  # iss must be object id
    assert error_of(attempt(old.proof(app["id"], aud=GRAPH))) == (400, "Request_BadRequest")
    assert error_of(attempt(old.proof(app["id"], lifetime=3600))) == (400, "Request_BadRequest")
    assert error_of(attempt("not-a-jwt")) == (400, "Request_BadRequest")
    password = {"secretText": "x"}
    assert error_of(attempt(old.proof(app["id"]), passwordCredential=password)) == (400, "Request_BadRequest")
    assert attempt(old.proof(app["id"])).status_code == 200

    bare = world.new_app()  # no certificate yet: addKey is refused, PATCH keyCredentials is the way
    response = world.call(
        "POST",
        f"/applications/{bare['id']}/addKey",
        json={"keyCredential": new.credential(), "proof": "a.b.c"},
    )
    assert error_of(response) == (400, "Request_BadRequest")

    other = world.new_app(displayName="other")
    outsider = world.token([], oid=str(uuid.uuid4()), app_id=other["appId"])
    body = {"keyCredential": new.credential(), "proof": old.proof(app["id"])}
    assert error_of(world.call("POST", path, token=outsider, json=body)) == (
        403,
        "Authorization_RequestDenied",
    )


# --------------------------------------------------------------------------- soft-deleted service principals


def test_service_principals_are_soft_deleted_restored_and_purged(world: World) -> None:
    app = world.new_app()
    sp = world.new_sp(app["appId"])
    assert world.call("DELETE", f"/servicePrincipals/{sp['id']}").status_code == 204
    assert world.call("GET", f"/servicePrincipals/{sp['id']}").status_code == 404

    listed = world.ok("GET", "/directory/deletedItems/microsoft.graph.servicePrincipal")
    assert listed["@odata.context"].endswith("directory/deletedItems/microsoft.graph.servicePrincipal")
    assert [(d["id"], bool(d["deletedDateTime"])) for d in listed["value"]] == [(sp["id"], True)]
    assert world.ok("GET", "/directory/deletedItems/graph.application")["value"] == []
    item = world.ok("GET", f"/directory/deletedItems/{sp['id']}")
    assert item["@odata.type"] == "#microsoft.graph.servicePrincipal" and item["appId"] == app["appId"]

    restored = world.ok("POST", f"/directory/deletedItems/{sp['id']}/restore")
    assert (
        restored["@odata.type"] == "#microsoft.graph.servicePrincipal" and restored["deletedDateTime"] is None
    )
    assert world.ok("GET", f"/servicePrincipals/{sp['id']}")["id"] == sp["id"]

    # A new service principal took the appId meanwhile: restoring the old one clashes (409).
    assert world.call("DELETE", f"/servicePrincipals/{sp['id']}").status_code == 204
    replacement = world.new_sp(app["appId"])
    clash = world.call("POST", f"/directory/deletedItems/{sp['id']}/restore")
    assert error_of(clash) == (409, "Request_MultipleObjectsWithSameKeyValue")
    assert world.call("DELETE", f"/directory/deletedItems/{sp['id']}").status_code == 204
    assert world.call("GET", f"/directory/deletedItems/{sp['id']}").status_code == 404
    assert world.ok("GET", f"/servicePrincipals/{replacement['id']}")["id"] == replacement["id"]


def test_deleting_an_application_soft_deletes_its_service_principal(world: World) -> None:
    app = world.new_app()
    sp = world.new_sp(app["appId"])
    assert world.call("DELETE", f"/applications/{app['id']}").status_code == 204
    deleted_sps = world.ok("GET", "/directory/deletedItems/microsoft.graph.servicePrincipal")["value"]
    assert [d["id"] for d in deleted_sps] == [sp["id"]]
    # The service principal cannot come back while its application is in the recycle bin.
    early = world.call("POST", f"/directory/deletedItems/{sp['id']}/restore")
    assert error_of(early) == (400, "Request_BadRequest")
    # Restoring the application does not restore its service principal (an explicit restore does).
    world.ok("POST", f"/directory/deletedItems/{app['id']}/restore")
    assert world.call("GET", f"/servicePrincipals/{sp['id']}").status_code == 404
    world.ok("POST", f"/directory/deletedItems/{sp['id']}/restore")
    assert world.ok("GET", f"/servicePrincipals(appId='{app['appId']}')")["id"] == sp["id"]


# --------------------------------------------------------------------------- $expand


def test_expand_owners_and_app_role_assignments(world: World) -> None:
    app = world.new_app()
    user = next(u for u in world.tenant.users if u["userPrincipalName"].startswith("user@"))
    ref = {"@odata.id": f"{BASE}/v1.0/directoryObjects/{user['id']}"}
    assert world.call("POST", f"/applications/{app['id']}/owners/$ref", json=ref).status_code == 204

    got = world.ok("GET", f"/applications/{app['id']}?$expand=owners")
    assert [(o["@odata.type"], o["id"]) for o in got["owners"]] == [
        ("#microsoft.graph.servicePrincipal", world.admin_sp["id"]),
        ("#microsoft.graph.user", user["id"]),
    ]
    narrowed = world.ok(
        "GET", f"/applications?$filter=id eq '{app['id']}'&$select=id&$expand=owners($select=id)"
    )
    assert narrowed["value"] == [
        {
            "id": app["id"],
            "owners": [
                {"@odata.type": "#microsoft.graph.servicePrincipal", "id": world.admin_sp["id"]},
                {"@odata.type": "#microsoft.graph.user", "id": user["id"]},
            ],
        }
    ]
    assert "owners" not in world.ok("GET", f"/applications/{app['id']}")
    unknown = world.call("GET", f"/applications/{app['id']}?$expand=nope")
    assert error_of(unknown) == (400, "Request_BadRequest")
    users = world.call("GET", "/users?$expand=manager", token=world.token(["User.Read.All"]))
    assert error_of(users)[0] == 400  # not offered everywhere

    sp = world.ok("GET", f"/servicePrincipals/{world.admin_sp['id']}?$expand=appRoleAssignments,owners")
    assert sp["appRoleAssignments"] and all(a["principalId"] == sp["id"] for a in sp["appRoleAssignments"])
    assert all(o["@odata.type"].startswith("#microsoft.graph.") for o in sp["owners"])
