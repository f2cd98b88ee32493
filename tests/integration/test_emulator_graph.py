"""The emulator's Graph v1.0 surface: shapes, status codes, error bodies and permission rules.

Most tests drive the ASGI app in-process (Starlette's TestClient, tokens minted by
the emulator's own token module) so each gets a fresh tenant; the last one drives
the unmodified msgraph-sdk + azure-identity against the running HTTPS emulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from graph_support import internal_keys
from starlette.testclient import TestClient

from provisioner.emulator import RunningEmulator
from provisioner.emulator.app import build_app
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.faults import FaultConfig
from provisioner.emulator.identity.tokens import mint_access_token
from provisioner.emulator.seed import GRAPH_APP_ID, TenantInfo, catalog, ensure_tenant
from provisioner.emulator.store import Store

BASE = "https://localhost:8443"
GRAPH = "https://graph.microsoft.com"
ADMIN_ROLES = [
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "User.Read.All",
    "Policy.Read.All",
    "Policy.ReadWrite.ApplicationConfiguration",
]
MAIL_READ_ROLE = next(r["id"] for r in catalog("graph")["appRoles"] if r["value"] == "Mail.Read")


class World:
    """One fresh tenant behind an in-process Graph endpoint."""

    def __init__(self) -> None:
        self.ctx = EmulatorContext(store=Store(None), base_url=BASE)
        self.tenant: TenantInfo = ensure_tenant(self.ctx)
        self.client = TestClient(build_app(self.ctx), base_url=BASE)
        self.admin_sp = self.sp_by_app_id(self.tenant.admin_client_id)
        self.graph_sp = self.sp_by_app_id(GRAPH_APP_ID)
        self.seen: list[Any] = []

    def sp_by_app_id(self, app_id: str) -> dict[str, Any]:
        return self.ctx.store.find(self.tenant.tenant_id, "servicePrincipals", appId=app_id)[0]

    def user(self, prefix: str) -> dict[str, Any]:
        return next(u for u in self.tenant.users if u["userPrincipalName"].startswith(prefix + "@"))

    def token(
        self,
        roles: list[str] | None = None,
        *,
        scp: str | None = None,
        oid: str | None = None,
        lifetime: int = 3600,
        audience: str = GRAPH,
    ) -> str:
        return mint_access_token(
            self.ctx,
            self.tenant.tenant_id,
            client_app_id=self.tenant.admin_client_id,
            oid=oid or self.admin_sp["id"],
            audience=audience,
            roles=ADMIN_ROLES if roles is None and scp is None else roles,
            scp=scp,
            lifetime_seconds=lifetime,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        all_headers = {"Authorization": f"Bearer {token or self.token()}", **(headers or {})}
        response = self.client.request(method, BASE + "/v1.0" + path, headers=all_headers, **kwargs)
        if response.content:
            self.seen.append(response.json() if "json" in response.headers.get("content-type", "") else None)
        return response

    def new_app(self, **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/applications", json={"displayName": "app", **body})
        assert response.status_code == 201, response.text
        return response.json()

    def new_sp(self, app_id: str) -> dict[str, Any]:
        response = self.call("POST", "/servicePrincipals", json={"appId": app_id})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    # Internal keys (secret hashes, owners, mailbox links) never leave the emulator. Keys, not
    # values: ids and change keys are base64url and may well start with "_".
    assert not internal_keys(w.seen)


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    assert set(body["innerError"]) == {"date", "request-id", "client-request-id"}
    return response.status_code, body["code"], body["message"]


# --------------------------------------------------------------------------- applications


def test_create_application_has_graph_defaults(world: World) -> None:
    app = world.new_app(displayName="Display name")
    assert app["@odata.context"] == f"{BASE}/v1.0/$metadata#applications/$entity"
    assert uuid.UUID(app["id"]).version == 4 and uuid.UUID(app["appId"]).version == 4
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["web"]["redirectUris"] == [] and app["web"]["homePageUrl"] is None
    assert app["web"]["implicitGrantSettings"] == {
        "enableAccessTokenIssuance": False,
        "enableIdTokenIssuance": False,
    }
    assert app["spa"] == {"redirectUris": []} and app["publicClient"] == {"redirectUris": []}
    assert app["isFallbackPublicClient"] is None and app["api"]["requestedAccessTokenVersion"] is None
    for key in ("requiredResourceAccess", "passwordCredentials", "keyCredentials", "tags", "identifierUris"):
        assert app[key] == []
    assert app["notes"] is None and app["uniqueName"] is None
    assert app["publisherDomain"] == world.tenant.domain
    assert app["createdDateTime"].endswith("Z")

    missing = world.call("POST", "/applications", json={"signInAudience": "AzureADMyOrg"})
    assert error_of(missing)[:2] == (400, "Request_BadRequest")
    unknown = world.call("POST", "/applications", json={"displayName": "x", "colour": "red"})
    assert error_of(unknown)[0] == 400 and "'colour' does not exist" in error_of(unknown)[2]


def test_get_application_by_id_and_app_id(world: World) -> None:
    app = world.new_app()
    by_id = world.call("GET", f"/applications/{app['id']}").json()
    by_app_id = world.call(
        "GET", f"/applications(appId='{app['appId']}')?$select=id,appId,displayName"
    ).json()
    assert by_id["appId"] == app["appId"]
    assert by_app_id == {
        "@odata.context": f"{BASE}/v1.0/$metadata#applications(id,appId,displayName)/$entity",
        "id": app["id"],
        "appId": app["appId"],
        "displayName": "app",
    }
    missing = str(uuid.uuid4())
    assert error_of(world.call("GET", f"/applications/{missing}")) == (
        404,
        "Request_ResourceNotFound",
        f"Resource '{missing}' does not exist or one of its queried reference-property objects are not present.",
    )
    assert error_of(world.call("GET", "/applications/not-a-guid"))[:2] == (400, "Request_BadRequest")
    assert error_of(world.call("GET", f"/applications/{app['id']}?$select=nope"))[0] == 400


def test_upsert_by_unique_name(world: World) -> None:
    path = "/applications(uniqueName='app-65278')"
    assert world.call("PATCH", path, json={"displayName": "Display name"}).status_code == 404
    prefer = {"Prefer": "create-if-missing"}
    created = world.call("PATCH", path, json={"displayName": "Display name"}, headers=prefer)
    assert created.status_code == 201
    assert created.json()["uniqueName"] == "app-65278"
    assert created.json()["@odata.context"].endswith("#applications/$entity")
    updated = world.call("PATCH", path, json={"displayName": "Renamed"}, headers=prefer)
    assert updated.status_code == 204 and not updated.content
    assert world.call("GET", path).json()["displayName"] == "Renamed"
    assert world.call("PATCH", path, json={"uniqueName": "other"}).status_code == 400
    no_name = world.call("PATCH", "/applications(uniqueName='fresh')", json={"notes": "x"}, headers=prefer)
    assert error_of(no_name)[:2] == (400, "Request_BadRequest")


def test_patch_merges_complex_properties_and_validates_redirects(world: World) -> None:
    app = world.new_app(web={"implicitGrantSettings": {"enableIdTokenIssuance": True}})
    path = f"/applications/{app['id']}"
    ok = world.call(
        "PATCH", path, json={"web": {"redirectUris": ["https://localhost", "http://localhost:9999/cb"]}}
    )
    assert ok.status_code == 204
    web = world.call("GET", path).json()["web"]
    assert web["redirectUris"] == ["https://localhost/", "http://localhost:9999/cb"]
    assert web["implicitGrantSettings"]["enableIdTokenIssuance"] is True  # not reset by the PATCH
    for bad in (
        "http://example.com/cb",
        "https://example.com/a,b",
        "https://[::1]/x",
        "ftp://x",
        "no-scheme",
    ):
        response = world.call("PATCH", path, json={"web": {"redirectUris": [bad]}})
        assert error_of(response) == (
            400,
            "Request_BadRequest",
            "Invalid value specified for property 'web' of resource 'Application'.",
        ), bad
    assert (
        world.call("PATCH", path, json={"publicClient": {"redirectUris": ["myapp://auth"]}}).status_code
        == 204
    )
    assert world.call("PATCH", path, json={"spa": {"redirectUris": ["myapp://auth"]}}).status_code == 400
    too_many = [f"https://app.example.com/{i}" for i in range(257)]
    assert world.call("PATCH", path, json={"web": {"redirectUris": too_many}}).status_code == 400


def test_personal_accounts_need_token_version_2(world: World) -> None:
    app = world.new_app()
    path = f"/applications/{app['id']}"
    personal = {"signInAudience": "AzureADandPersonalMicrosoftAccount"}
    assert (
        error_of(world.call("PATCH", path, json=personal))[2]
        == "Property api.requestedAccessTokenVersion is invalid."
    )
    both = {**personal, "api": {"requestedAccessTokenVersion": 2}}
    assert world.call("PATCH", path, json=both).status_code == 204
    assert world.call("GET", path).json()["signInAudience"] == "AzureADandPersonalMicrosoftAccount"


def test_required_resource_access_limits(world: World) -> None:
    app = world.new_app()
    path = f"/applications/{app['id']}"
    resources = [
        {"resourceAppId": str(uuid.uuid4()), "resourceAccess": [{"id": str(uuid.uuid4()), "type": "Scope"}]}
        for _ in range(51)
    ]
    assert world.call("PATCH", path, json={"requiredResourceAccess": resources}).status_code == 400
    many = [
        {
            "resourceAppId": GRAPH_APP_ID,
            "resourceAccess": [{"id": str(uuid.uuid4()), "type": "Role"} for _ in range(401)],
        }
    ]
    assert world.call("PATCH", path, json={"requiredResourceAccess": many}).status_code == 400
    assert world.call("PATCH", path, json={"requiredResourceAccess": resources[:50]}).status_code == 204


def test_enabled_scopes_must_be_disabled_before_removal(world: World) -> None:
    scope = {
        "id": str(uuid.uuid4()),
        "value": "Files.Read",
        "type": "User",
        "isEnabled": True,
        "adminConsentDisplayName": "Read",
        "adminConsentDescription": "Read files",
    }
    app = world.new_app(api={"oauth2PermissionScopes": [scope]}, identifierUris=["api://files"])
    path = f"/applications/{app['id']}"
    removal = world.call("PATCH", path, json={"api": {"oauth2PermissionScopes": []}})
    assert error_of(removal)[1] == "CannotDeleteOrUpdateEnabledEntitlement"
    disabled = {**scope, "isEnabled": False}
    assert world.call("PATCH", path, json={"api": {"oauth2PermissionScopes": [disabled]}}).status_code == 204
    assert world.call("PATCH", path, json={"api": {"oauth2PermissionScopes": []}}).status_code == 204
    foreign = world.call("PATCH", path, json={"identifierUris": ["https://contoso.com/api"]})
    assert error_of(foreign)[1] == "HostNameNotOnVerifiedDomain"


def test_passwords_are_returned_once_and_stored_hashed(world: World) -> None:
    app = world.new_app()
    added = world.call(
        "POST", f"/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "ci"}}
    )
    assert added.status_code == 200
    cred = added.json()
    assert cred["@odata.context"].endswith("#microsoft.graph.passwordCredential")
    assert len(cred["secretText"]) == 40 and cred["hint"] == cred["secretText"][:3]
    assert cred["displayName"] == "ci" and cred["customKeyIdentifier"] is None
    start, end = cred["startDateTime"], cred["endDateTime"]
    assert int(end[:4]) - int(start[:4]) == 2 and end[4:] == start[4:]
    stored = world.ctx.store.get(world.tenant.tenant_id, "applications", app["id"])
    assert stored["_secretHashes"][cred["keyId"]] == hashlib.sha256(cred["secretText"].encode()).hexdigest()
    listed = world.call("GET", f"/applications/{app['id']}").json()["passwordCredentials"]
    assert listed[0]["secretText"] is None and cred["secretText"] not in json.dumps(listed)

    remove = f"/applications/{app['id']}/removePassword"
    assert world.call("POST", remove, json={"keyId": cred["keyId"]}).status_code == 204
    again = world.call("POST", remove, json={"keyId": cred["keyId"]})
    assert error_of(again)[:2] == (400, "Request_BadRequest")
    assert world.ctx.store.get(world.tenant.tenant_id, "applications", app["id"])["_secretHashes"] == {}

    inline = world.new_app(passwordCredentials=[{"displayName": "on create"}])
    assert len(inline["passwordCredentials"][0]["secretText"]) == 40


def test_list_filter_select_paging_and_count(world: World) -> None:
    for i in range(5):
        world.new_app(displayName=f"paged-{i}", tags=["paging"])
    query = "$filter=tags/any(t:t eq 'paging')&$select=id,displayName&$top=2"
    first = world.call("GET", f"/applications?{query}").json()
    assert first["@odata.context"] == f"{BASE}/v1.0/$metadata#applications(id,displayName)"
    names = [a["displayName"] for a in first["value"]]
    link = first["@odata.nextLink"]
    assert link.startswith(f"{BASE}/v1.0/applications?") and "$skiptoken=" in link
    while link:
        page = world.client.get(link, headers={"Authorization": f"Bearer {world.token()}"}).json()
        assert all(set(a) == {"id", "displayName"} for a in page["value"])
        names += [a["displayName"] for a in page["value"]]
        link = page.get("@odata.nextLink")
    assert names == [f"paged-{i}" for i in range(5)]

    ne = "/applications?$filter=displayName ne 'paged-0'"
    assert error_of(world.call("GET", ne))[1] == "Request_UnsupportedQuery"
    counted = world.call("GET", ne + "&$count=true", headers={"ConsistencyLevel": "eventual"}).json()
    assert counted["@odata.count"] == len(counted["value"]) == 5  # 4 paged apps + the bootstrap app
    assert world.call("GET", "/applications?$top=1000").status_code == 400
    unknown = world.call("GET", "/applications?$filter=colour eq 'red'")
    assert error_of(unknown) == (
        400,
        "Request_UnsupportedQuery",
        "Unsupported or invalid query filter clause specified for property 'colour' of resource 'Application'.",
    )
    plain_count = world.call("GET", "/applications/$count", headers={"ConsistencyLevel": "eventual"})
    assert plain_count.text == "6"
    assert error_of(world.call("GET", "/applications/$count"))[2] == "$count is not currently supported."


# --------------------------------------------------------------------------- service principals


def test_service_principal_lifecycle(world: World) -> None:
    scope_id = str(uuid.uuid4())
    app = world.new_app(
        displayName="API",
        identifierUris=["api://my-api"],
        api={
            "oauth2PermissionScopes": [
                {"id": scope_id, "value": "Data.Read", "type": "User", "isEnabled": True}
            ]
        },
    )
    sp = world.new_sp(app["appId"])
    assert sp["@odata.context"].endswith("#servicePrincipals/$entity")
    assert sp["appDisplayName"] == "API" and sp["displayName"] == "API"
    assert sp["servicePrincipalNames"] == [app["appId"], "api://my-api"]
    assert [s["value"] for s in sp["oauth2PermissionScopes"]] == ["Data.Read"]
    assert sp["appOwnerOrganizationId"] == world.tenant.tenant_id

    duplicate = world.call("POST", "/servicePrincipals", json={"appId": app["appId"]})
    assert error_of(duplicate) == (
        409,
        "Request_MultipleObjectsWithSameKeyValue",
        "The service principal cannot be created, updated, or restored because the service principal name"
        f" {app['appId']} is already in use.",
    )
    ghost = str(uuid.uuid4())
    assert error_of(world.call("POST", "/servicePrincipals", json={"appId": ghost})) == (
        400,
        "Request_BadRequest",
        f"The appId '{ghost}' of the service principal does not reference a valid application object.",
    )
    # The SP follows its application.
    world.call("PATCH", f"/applications/{app['id']}", json={"displayName": "API v2"})
    assert world.call("GET", f"/servicePrincipals/{sp['id']}").json()["appDisplayName"] == "API v2"

    found = world.call(
        "GET", "/servicePrincipals?$filter=servicePrincipalNames/any(n:n eq 'api://my-api')"
    ).json()
    assert [s["id"] for s in found["value"]] == [sp["id"]]
    graph = world.call(
        "GET", f"/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'&$select=id,appId,displayName"
    ).json()
    assert graph["value"] == [
        {"id": world.graph_sp["id"], "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph"}
    ]
    full_graph = world.call("GET", f"/servicePrincipals(appId='{GRAPH_APP_ID}')").json()
    assert "privilegeLevel" not in json.dumps(full_graph)
    assert {r["origin"] for r in full_graph["appRoles"]} == {"Application"}


def test_service_principal_upsert_by_app_id(world: World) -> None:
    app = world.new_app()
    path = f"/servicePrincipals(appId='{app['appId']}')"
    assert world.call("PATCH", path, json={"displayName": "instance"}).status_code == 404
    prefer = {"Prefer": "create-if-missing"}
    created = world.call("PATCH", path, json={"displayName": "instance"}, headers=prefer)
    assert created.status_code == 201 and created.json()["displayName"] == "instance"
    assert world.call("PATCH", path, json={"tags": ["x"]}, headers=prefer).status_code == 204
    assert world.call("GET", path).json()["tags"] == ["x"]


# --------------------------------------------------------------------------- grants and assignments


def test_oauth2_permission_grants(world: World) -> None:
    client = world.new_sp(world.new_app()["appId"])
    body = {
        "clientId": client["id"],
        "consentType": "AllPrincipals",
        "resourceId": world.graph_sp["id"],
        "scope": "User.Read Mail.Read",
    }
    created = world.call("POST", "/oauth2PermissionGrants", json=body)
    assert created.status_code == 201
    grant = created.json()
    assert grant["@odata.context"].endswith("#oauth2PermissionGrants/$entity")
    assert len(grant["id"]) == 43 and grant["principalId"] is None
    assert error_of(world.call("POST", "/oauth2PermissionGrants", json=body)) == (
        409,
        "Request_MultipleObjectsWithSameKeyValue",
        "Permission entry already exists.",
    )
    typo = world.call(
        "POST",
        "/oauth2PermissionGrants",
        json={
            **body,
            "scope": "Mail.Raed",
            "consentType": "Principal",
            "principalId": world.user("user")["id"],
        },
    )
    assert error_of(typo)[0] == 400 and "Mail.Raed" in error_of(typo)[2]
    listed = world.call(
        "GET",
        f"/oauth2PermissionGrants?$filter=clientId eq '{client['id']}' and consentType eq 'AllPrincipals'",
    ).json()["value"]
    assert [g["id"] for g in listed] == [grant["id"]]
    path = f"/oauth2PermissionGrants/{grant['id']}"
    assert world.call("PATCH", path, json={"scope": "User.Read"}).status_code == 204
    assert world.call("GET", path).json()["scope"] == "User.Read"
    assert world.call("DELETE", path).status_code == 204
    assert world.call("GET", path).status_code == 404


def test_app_role_assignments_both_sides(world: World) -> None:
    client = world.new_sp(world.new_app()["appId"])
    graph_id = world.graph_sp["id"]
    body = {"principalId": client["id"], "resourceId": graph_id, "appRoleId": MAIL_READ_ROLE}
    created = world.call("POST", f"/servicePrincipals/{graph_id}/appRoleAssignedTo", json=body)
    assert created.status_code == 201
    assignment = created.json()
    assert assignment["@odata.context"].endswith(
        f"#servicePrincipals('{graph_id}')/appRoleAssignedTo/$entity"
    )
    assert (
        assignment["principalType"] == "ServicePrincipal"
        and assignment["resourceDisplayName"] == "Microsoft Graph"
    )
    again = world.call("POST", f"/servicePrincipals/{client['id']}/appRoleAssignments", json=body)
    assert error_of(again) == (
        400,
        "Request_BadRequest",
        "Permission being assigned already exists on the object.",
    )
    bogus = world.call(
        "POST",
        f"/servicePrincipals/{graph_id}/appRoleAssignedTo",
        json={**body, "appRoleId": str(uuid.uuid4())},
    )
    assert error_of(bogus)[:2] == (400, "Request_BadRequest")
    assert "was not found on application" in error_of(bogus)[2]

    principal_side = world.call("GET", f"/servicePrincipals/{client['id']}/appRoleAssignments").json()[
        "value"
    ]
    assert [a["id"] for a in principal_side] == [assignment["id"]]
    filtered = world.call(
        "GET", f"/servicePrincipals/{graph_id}/appRoleAssignedTo?$filter=principalId eq {client['id']}"
    ).json()["value"]
    assert [a["id"] for a in filtered] == [assignment["id"]]
    path = f"/servicePrincipals/{graph_id}/appRoleAssignedTo/{assignment['id']}"
    assert world.call("DELETE", path).status_code == 204
    assert world.call("DELETE", path).status_code == 404


def test_deleting_an_application_cascades_and_can_be_restored(world: World) -> None:
    app = world.new_app()
    sp = world.new_sp(app["appId"])
    graph_id = world.graph_sp["id"]
    world.call(
        "POST",
        f"/servicePrincipals/{graph_id}/appRoleAssignedTo",
        json={"principalId": sp["id"], "resourceId": graph_id, "appRoleId": MAIL_READ_ROLE},
    )
    world.call(
        "POST",
        "/oauth2PermissionGrants",
        json={
            "clientId": sp["id"],
            "consentType": "AllPrincipals",
            "resourceId": graph_id,
            "scope": "User.Read",
        },
    )
    assert world.call("DELETE", f"/applications/{app['id']}").status_code == 204
    assert world.call("GET", f"/applications/{app['id']}").status_code == 404
    assert world.call("GET", f"/servicePrincipals/{sp['id']}").status_code == 404
    tenant = world.tenant.tenant_id
    assert not world.ctx.store.find(tenant, "appRoleAssignments", principalId=sp["id"])
    assert not world.ctx.store.find(tenant, "oauth2PermissionGrants", clientId=sp["id"])

    deleted = world.call("GET", "/directory/deletedItems/microsoft.graph.application").json()["value"]
    assert [d["id"] for d in deleted] == [app["id"]] and deleted[0]["deletedDateTime"]
    item = world.call("GET", f"/directory/deletedItems/{app['id']}").json()
    assert item["@odata.type"] == "#microsoft.graph.application"
    restored = world.call("POST", f"/directory/deletedItems/{app['id']}/restore")
    assert restored.status_code == 200 and restored.json()["deletedDateTime"] is None
    assert world.call("GET", f"/applications/{app['id']}").status_code == 200
    assert world.call("DELETE", f"/applications/{app['id']}").status_code == 204
    assert world.call("DELETE", f"/directory/deletedItems/{app['id']}").status_code == 204
    assert world.call("POST", f"/directory/deletedItems/{app['id']}/restore").status_code == 404


def test_owners_and_federated_credentials(world: World) -> None:
    app = world.new_app()
    base = f"/applications/{app['id']}"
    owners = world.call("GET", base + "/owners").json()
    assert [(o["@odata.type"], o["id"]) for o in owners["value"]] == [
        ("#microsoft.graph.servicePrincipal", world.admin_sp["id"])
    ]
    user = world.user("user")
    ref = {"@odata.id": f"{BASE}/v1.0/directoryObjects/{user['id']}"}
    assert world.call("POST", base + "/owners/$ref", json=ref).status_code == 204
    assert error_of(world.call("POST", base + "/owners/$ref", json=ref))[0] == 400
    assert world.call("DELETE", base + f"/owners/{user['id']}/$ref").status_code == 204

    fic = {
        "name": "github-main",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:org/repo:ref:refs/heads/main",
        "audiences": ["api://AzureADTokenExchange"],
    }
    created = world.call("POST", base + "/federatedIdentityCredentials/", json=fic)
    assert created.status_code == 201 and created.json()["description"] is None
    assert world.call("POST", base + "/federatedIdentityCredentials", json=fic).status_code == 409
    listed = world.call("GET", base + "/federatedIdentityCredentials").json()["value"]
    assert [f["name"] for f in listed] == ["github-main"]
    assert world.call("DELETE", base + f"/federatedIdentityCredentials/{listed[0]['id']}").status_code == 204


def test_federated_credential_patch_is_validated_like_create(world: World) -> None:
    app = world.new_app()
    base = f"/applications/{app['id']}/federatedIdentityCredentials"
    issuer = "https://token.actions.githubusercontent.com"
    first = {"name": "one", "issuer": issuer, "subject": "repo:o/r:environment:a", "audiences": ["api://x"]}
    second = {**first, "name": "two", "subject": "repo:o/r:environment:b"}
    assert world.call("POST", base, json=first).status_code == 201
    two = world.call("POST", base, json=second).json()
    url = f"{base}/{two['id']}"
    bad = [
        {"audiences": "notalist"},
        {"audiences": ["api://x", "api://y"]},
        {"audiences": []},
        {"issuer": "https://" + "i" * 600},
        {"subject": ""},
        {"description": "d" * 601},
        {"name": "renamed"},
        {"unknown": 1},
    ]
    for body in bad:
        status, code, _ = error_of(world.call("PATCH", url, json=body))
        assert (status, code) == (400, "Request_BadRequest"), body
    status, code, _ = error_of(world.call("PATCH", url, json={"subject": first["subject"]}))
    assert (status, code) == (409, "Request_MultipleObjectsWithSameKeyValue")
    stored = world.call("GET", url).json()
    assert stored["audiences"] == ["api://x"] and stored["subject"] == second["subject"]
    assert world.call("PATCH", url, json={"subject": "repo:o/r:environment:c"}).status_code == 204
    assert world.call("PATCH", url, json={"name": "two", "description": "kept"}).status_code == 204
    assert world.call("GET", url).json()["subject"] == "repo:o/r:environment:c"
    for body in (
        {**first, "name": "x", "audiences": ["a", "b"]},
        {**first, "name": "y", "issuer": "i" * 601},
    ):
        assert error_of(world.call("POST", base, json=body))[0] == 400
    for i in range(18):
        made = world.call("POST", base, json={**first, "name": f"n{i}", "subject": f"s{i}"})
        assert made.status_code == 201
    full = world.call("POST", base, json={**first, "name": "n21", "subject": "s21"})
    assert error_of(full)[0] == 400


# --------------------------------------------------------------------------- auth and permissions


def test_authentication_errors(world: World) -> None:
    missing = world.client.get(BASE + "/v1.0/applications")
    assert error_of(missing) == (401, "InvalidAuthenticationToken", "Access token is empty.")
    expired = world.call("GET", "/applications", token=world.token(lifetime=-10))
    assert error_of(expired)[:2] == (401, "InvalidAuthenticationToken")
    assert "expired" in error_of(expired)[2]
    wrong_audience = world.call(
        "GET", "/applications", token=world.token(audience="https://outlook.office365.com")
    )
    assert error_of(wrong_audience)[0] == 401
    garbage = world.call("GET", "/applications", token="not.a.jwt")
    assert error_of(garbage)[0] == 401


def test_permissions_are_enforced(world: World) -> None:
    no_roles = world.token(roles=["User.Read.All"])
    assert error_of(world.call("GET", "/applications", token=no_roles)) == (
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    reader = world.token(roles=["Application.Read.All"])
    assert world.call("GET", "/applications", token=reader).status_code == 200
    assert world.call("POST", "/applications", token=reader, json={"displayName": "x"}).status_code == 403

    owned_by_oid = str(uuid.uuid4())
    owned_by = world.token(roles=["Application.ReadWrite.OwnedBy"], oid=owned_by_oid)
    mine = world.call("POST", "/applications", token=owned_by, json={"displayName": "mine"}).json()
    assert (
        world.call("PATCH", f"/applications/{mine['id']}", token=owned_by, json={"notes": "n"}).status_code
        == 204
    )
    theirs = world.new_app()
    assert (
        world.call("PATCH", f"/applications/{theirs['id']}", token=owned_by, json={"notes": "n"}).status_code
        == 403
    )
    grant_without_role = world.call("POST", "/oauth2PermissionGrants", token=reader, json={})
    assert grant_without_role.status_code == 403
    assert (
        world.call("GET", "/organization").status_code == 403
    )  # the bootstrap app lacks Organization.Read.All
    org = world.call("GET", "/organization", token=world.token(roles=["Organization.Read.All"])).json()[
        "value"
    ][0]
    assert org["id"] == world.tenant.tenant_id and org["verifiedDomains"][0]["name"] == world.tenant.domain


def test_mail_permissions(world: World) -> None:
    user = world.user("user")
    with_mail = world.token(roles=["Mail.Read"])
    listed = world.call("GET", f"/users/{user['id']}/messages?$top=2&$select=subject", token=with_mail)
    assert listed.status_code == 200
    body = listed.json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users('{user['id']}')/messages(subject)"
    assert len(body["value"]) == 2 and "$skip=2" in body["@odata.nextLink"]
    assert (
        world.call("GET", f"/users/{user['userPrincipalName']}/messages", token=with_mail).status_code == 200
    )
    denied = world.call("GET", f"/users/{user['id']}/messages", token=world.token(roles=["User.Read.All"]))
    assert error_of(denied) == (
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )

    delegated = world.token(scp="Mail.Read User.Read", oid=user["id"])
    mine = world.call("GET", "/me/messages", token=delegated).json()["value"]
    assert len(mine) == 3 and all(
        m["toRecipients"][0]["emailAddress"]["address"] == user["mail"] for m in mine
    )
    other = world.user("admin")
    assert world.call("GET", f"/users/{other['id']}/messages", token=delegated).status_code == 403
    me = world.call("GET", "/me", token=delegated).json()
    assert me["id"] == user["id"] and "signInSessionsValidFromDateTime" not in me
    app_me = world.call("GET", "/me")
    assert error_of(app_me)[2] == "/me request is only valid with delegated authentication flow."


def test_revoke_sign_in_sessions(world: World) -> None:
    user = world.user("user")
    before = world.call("GET", f"/users/{user['id']}?$select=signInSessionsValidFromDateTime").json()
    world.ctx.clock.advance(120)
    revoker = world.token(roles=["User.RevokeSessions.All"])
    revoked = world.call("POST", f"/users/{user['id']}/revokeSignInSessions", token=revoker)
    assert revoked.status_code == 200 and revoked.json()["value"] is True
    after = world.call("GET", f"/users/{user['id']}?$select=signInSessionsValidFromDateTime").json()
    assert after["signInSessionsValidFromDateTime"] > before["signInSessionsValidFromDateTime"]
    assert world.call("POST", f"/users/{user['id']}/revokeSignInSessions").status_code == 403


# --------------------------------------------------------------------------- batch and replication


def test_batch_dispatches_in_process(world: World) -> None:
    app = world.new_app()
    requests = [
        {
            "id": "1",
            "method": "POST",
            "url": "/applications",
            "body": {"displayName": "batched"},
            "headers": {"Content-Type": "application/json"},
        },
        {
            "id": "2",
            "method": "GET",
            "url": f"/applications/{app['id']}?$select=displayName",
            "dependsOn": ["1"],
        },
        {"id": "3", "method": "GET", "url": f"applications/{uuid.uuid4()}"},
        {"id": "4", "method": "DELETE", "url": f"/applications/{app['id']}", "dependsOn": ["3"]},
    ]
    result = world.call("POST", "/$batch", json={"requests": requests})
    assert result.status_code == 200
    by_id = {r["id"]: r for r in result.json()["responses"]}
    assert by_id["1"]["status"] == 201 and by_id["1"]["body"]["displayName"] == "batched"
    assert by_id["2"]["status"] == 200 and by_id["2"]["body"]["displayName"] == "app"
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["4"]["status"] == 424
    assert world.call("GET", f"/applications/{app['id']}").status_code == 200  # 4 never ran

    too_many = [{"id": str(i), "method": "GET", "url": "/applications"} for i in range(21)]
    assert world.call("POST", "/$batch", json={"requests": too_many}).status_code == 400
    duplicate = [{"id": "a", "method": "GET", "url": "/me"}, {"id": "A", "method": "GET", "url": "/me"}]
    assert world.call("POST", "/$batch", json={"requests": duplicate}).status_code == 400


def test_replication_lag_hides_new_objects(world: World) -> None:
    world.ctx.faults = FaultConfig(replication_lag_ms=60_000)
    app = world.new_app()
    assert world.call("GET", f"/applications/{app['id']}").status_code == 404
    lagging = world.call("POST", "/servicePrincipals", json={"appId": app["appId"]})
    assert "does not reference a valid application object" in error_of(lagging)[2]
    world.ctx.clock.advance(61)
    assert world.call("GET", f"/applications/{app['id']}").status_code == 200
    assert world.call("POST", "/servicePrincipals", json={"appId": app["appId"]}).status_code == 201


# --------------------------------------------------------------------------- the real SDK


def test_msgraph_sdk_against_running_emulator(emulator: RunningEmulator) -> None:
    asyncio.run(_drive_sdk(emulator))


async def _drive_sdk(emulator: RunningEmulator) -> None:
    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody,
    )
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_credential import PasswordCredential
    from msgraph.generated.models.service_principal import ServicePrincipal
    from msgraph.generated.models.web_application import WebApplication
    from msgraph.generated.service_principals.service_principals_request_builder import (
        ServicePrincipalsRequestBuilder,
    )
    from msgraph_core import GraphClientFactory

    ca = str(emulator.ca_cert_path)
    credential = ClientSecretCredential(
        emulator.tenant.tenant_id,
        emulator.tenant.admin_client_id,
        emulator.tenant.admin_client_secret,
        authority=emulator.authority,
        disable_instance_discovery=True,
        connection_verify=ca,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"], allowed_hosts=["localhost"]
    )
    http_client = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=ca))
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = emulator.graph_url
    graph = GraphServiceClient(request_adapter=adapter)
    unique = f"sdk-{uuid.uuid4().hex[:8]}"
    try:
        app = await graph.applications.post(
            Application(display_name="sdk app", web=WebApplication(redirect_uris=["https://localhost/cb"]))
        )
        assert app is not None and app.id and app.app_id
        assert app.sign_in_audience == "AzureADMyOrg" and app.web.redirect_uris == ["https://localhost/cb"]

        upsert_config = RequestConfiguration()
        upsert_config.headers.add("Prefer", "create-if-missing")
        upserted = await graph.applications_with_unique_name(unique).patch(
            Application(display_name="upserted"), request_configuration=upsert_config
        )
        assert upserted is not None and upserted.unique_name == unique
        again = await graph.applications_with_unique_name(unique).patch(
            Application(display_name="upserted twice"), request_configuration=upsert_config
        )
        assert again is None  # 204 No Content

        secret = await graph.applications.by_application_id(app.id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="ci"))
        )
        assert secret is not None and secret.secret_text and secret.hint == secret.secret_text[:3]

        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert sp is not None and sp.app_id == app.app_id
        with pytest.raises(ODataError) as duplicate:
            await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert duplicate.value.response_status_code == 409
        assert duplicate.value.error.code == "Request_MultipleObjectsWithSameKeyValue"

        query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
            filter=f"appId eq '{GRAPH_APP_ID}'", select=["id", "appId", "appRoles"]
        )
        found = await graph.service_principals.get(
            request_configuration=RequestConfiguration(query_parameters=query)
        )
        assert found is not None and len(found.value) == 1
        graph_sp = found.value[0]
        mail_read = next(r for r in graph_sp.app_roles if r.value == "Mail.Read")

        grant = await graph.oauth2_permission_grants.post(
            OAuth2PermissionGrant(
                client_id=sp.id,
                consent_type="AllPrincipals",
                resource_id=graph_sp.id,
                scope="User.Read Mail.Read",
            )
        )
        assert grant is not None and grant.scope == "User.Read Mail.Read"
        assignment = await graph.service_principals.by_service_principal_id(
            graph_sp.id
        ).app_role_assigned_to.post(
            AppRoleAssignment(
                principal_id=uuid.UUID(sp.id), resource_id=uuid.UUID(graph_sp.id), app_role_id=mail_read.id
            )
        )
        assert assignment is not None and str(assignment.app_role_id) == str(mail_read.id)

        await graph.applications.by_application_id(app.id).delete()
        with pytest.raises(ODataError) as gone:
            await graph.applications.by_application_id(app.id).get()
        assert gone.value.response_status_code == 404 and gone.value.error.code == "Request_ResourceNotFound"
        upserted_app = await graph.applications_with_unique_name(unique).get()
        assert upserted_app is not None
        await graph.applications.by_application_id(upserted_app.id).delete()
    finally:
        await credential.close()
        await http_client.aclose()


# --------------------------------------------------------------------------- app management policies


def _self_signed(days: int) -> str:
    import base64
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "policy test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_app_management_policies_limit_new_credentials(world: World) -> None:
    app = world.new_app()
    base = f"/applications/{app['id']}"
    default = world.call("GET", "/policies/defaultAppManagementPolicy").json()
    assert default["id"] == "00000000-0000-0000-0000-000000000000" and default["isEnabled"] is False
    reader = world.token(roles=["Application.ReadWrite.All"])
    assert error_of(world.call("GET", "/policies/defaultAppManagementPolicy", token=reader))[0] == 403
    bad = {"applicationRestrictions": {"passwordCredentials": [{"restrictionType": "passwordLifetime"}]}}
    assert error_of(world.call("PATCH", "/policies/defaultAppManagementPolicy", json=bad))[0] == 400

    cap = {
        "isEnabled": True,
        "applicationRestrictions": {
            "passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P90D"}],
            "keyCredentials": [{"restrictionType": "asymmetricKeyLifetime", "maxLifetime": "P30D"}],
        },
    }
    assert world.call("PATCH", "/policies/defaultAppManagementPolicy", json=cap).status_code == 204
    long = {"passwordCredential": {"displayName": "x", "endDateTime": "2099-01-01T00:00:00Z"}}
    status, code, message = error_of(world.call("POST", base + "/addPassword", json=long))
    assert (status, code) == (400, "CredentialInvalidLifetimeAsPerAppPolicy")
    assert message == (
        "Credential lifetime exceeds the max value allowed as per assigned policy "
        "00000000-0000-0000-0000-000000000000."
    )
    assert error_of(world.call("POST", base + "/addPassword", json={}))[1] == (
        "CredentialInvalidLifetimeAsPerAppPolicy"  # Graph's default of 2 years is above the cap too
    )
    assert world.call("GET", base).json()["passwordCredentials"] == []
    from datetime import UTC, datetime, timedelta

    ok_end = (datetime.now(UTC) + timedelta(days=89)).strftime("%Y-%m-%dT%H:%M:%SZ")
    short = {"passwordCredential": {"displayName": "ok", "endDateTime": ok_end}}
    assert world.call("POST", base + "/addPassword", json=short).status_code == 200
    key = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": _self_signed(365)}
    assert error_of(world.call("PATCH", base, json={"keyCredentials": [key]}))[1] == (
        "CredentialInvalidLifetimeAsPerAppPolicy"
    )
    small = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": _self_signed(20)}
    assert world.call("PATCH", base, json={"keyCredentials": [small]}).status_code == 204

    # -- a policy applied to the app takes precedence: passwords blocked there
    blocked = world.call(
        "POST",
        "/policies/appManagementPolicies",
        json={
            "displayName": "no secrets",
            "isEnabled": True,
            "restrictions": {"passwordCredentials": [{"restrictionType": "passwordAddition"}]},
        },
    ).json()
    ref = {"@odata.id": f"{BASE}/v1.0/policies/appManagementPolicies/{blocked['id']}"}
    assert world.call("POST", base + "/appManagementPolicies/$ref", json=ref).status_code == 204
    applied = world.call("GET", base + "/appManagementPolicies").json()["value"]
    assert [p["id"] for p in applied] == [blocked["id"]]
    applies = world.call("GET", f"/policies/appManagementPolicies/{blocked['id']}/appliesTo").json()["value"]
    assert [a["id"] for a in applies] == [app["id"]]
    status, code, message = error_of(world.call("POST", base + "/addPassword", json=short))
    assert (status, code) == (400, "CredentialTypeNotAllowedAsPerAppPolicy") and blocked["id"] in message
    other = world.new_app()  # not under the app policy: the tenant default still applies
    assert world.call("POST", f"/applications/{other['id']}/addPassword", json=short).status_code == 200
    path = base + f"/appManagementPolicies/{blocked['id']}/$ref"
    assert world.call("DELETE", path).status_code == 204
    assert world.call("POST", base + "/addPassword", json=short).status_code == 200


def test_service_principal_credentials(world: World) -> None:
    app = world.new_app()
    sp = world.new_sp(app["appId"])
    base = f"/servicePrincipals/{sp['id']}"
    added = world.call("POST", base + "/addPassword", json={"passwordCredential": {"displayName": "sp"}})
    assert added.status_code == 200, added.text
    body = added.json()
    assert len(body["secretText"]) == 40 and body["hint"] == body["secretText"][:3]
    listed = world.call("GET", base + "?$select=passwordCredentials").json()["passwordCredentials"]
    assert [(c["keyId"], c["secretText"]) for c in listed] == [(body["keyId"], None)]
    assert world.call("GET", f"/applications/{app['id']}").json()["passwordCredentials"] == []
    assert world.call("POST", base + "/removePassword", json={"keyId": body["keyId"]}).status_code == 204
    assert error_of(world.call("POST", base + "/removePassword", json={"keyId": body["keyId"]}))[0] == 400
    no_proof = {"keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": _self_signed(30)}}
    assert error_of(world.call("POST", base + "/addKey", json=no_proof))[0] == 400
    limited = world.token(roles=["Application.Read.All"])
    assert error_of(world.call("POST", base + "/addPassword", json={}, token=limited))[0] == 403

    # the tenant default's servicePrincipalRestrictions judge principals, not applicationRestrictions
    block = {
        "isEnabled": True,
        "servicePrincipalRestrictions": {"passwordCredentials": [{"restrictionType": "passwordAddition"}]},
    }
    assert world.call("PATCH", "/policies/defaultAppManagementPolicy", json=block).status_code == 204
    assert error_of(world.call("POST", base + "/addPassword", json={}))[1] == (
        "CredentialTypeNotAllowedAsPerAppPolicy"
    )
    assert world.call("POST", f"/applications/{app['id']}/addPassword", json={}).status_code == 200


def test_policy_applied_to_a_service_principal_judges_its_credentials(world: World) -> None:
    """appliesTo a service principal: that policy, not the tenant default, judges the principal's secrets."""
    app = world.new_app()
    sp = world.new_sp(app["appId"])
    base = f"/servicePrincipals/{sp['id']}"
    capped = world.call(
        "POST",
        "/policies/appManagementPolicies",
        json={
            "displayName": "30-day principal secrets",
            "isEnabled": True,
            "restrictions": {
                "passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P30D"}]
            },
        },
    ).json()
    ref = {"@odata.id": f"{BASE}/v1.0/policies/appManagementPolicies/{capped['id']}"}
    assert world.call("POST", base + "/appManagementPolicies/$ref", json=ref).status_code == 204
    assert error_of(world.call("POST", base + "/appManagementPolicies/$ref", json=ref))[0] == 400  # one only
    assert [p["id"] for p in world.call("GET", base + "/appManagementPolicies").json()["value"]] == [
        capped["id"]
    ]
    applies = world.call("GET", f"/policies/appManagementPolicies/{capped['id']}/appliesTo").json()["value"]
    assert [(a["@odata.type"], a["id"]) for a in applies] == [("#microsoft.graph.servicePrincipal", sp["id"])]
    status, code, message = error_of(world.call("POST", base + "/addPassword", json={}))  # 2 years by default
    assert (status, code) == (400, "CredentialInvalidLifetimeAsPerAppPolicy") and capped["id"] in message
    # the application is not under the principal's policy
    assert world.call("POST", f"/applications/{app['id']}/addPassword", json={}).status_code == 200
    assert error_of(world.call("DELETE", f"/policies/appManagementPolicies/{capped['id']}"))[0] == 400
    assert world.call("DELETE", base + f"/appManagementPolicies/{capped['id']}/$ref").status_code == 204
    assert world.call("POST", base + "/addPassword", json={}).status_code == 200
