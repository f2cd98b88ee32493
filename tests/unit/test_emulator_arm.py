"""The Azure Resource Manager calls ``az login`` makes, in-process: tenants, (no) subscriptions, errors.

Tokens come from the emulator's own token endpoint for the management resource
(``https://management.core.windows.net//.default``, what az asks for), whose service
principal every emulated tenant has, also one saved before the emulator served ARM.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from provisioner.emulator.app import build_app
from provisioner.emulator.arm.models import ARM_APP_ID
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.seed import TenantInfo, ensure_tenant
from provisioner.emulator.store import Store

BASE = "https://localhost:8443"
ARM_SCOPE = "https://management.core.windows.net//.default"
API = {"api-version": "2022-12-01"}


def token_for(client: TestClient, tenant: TenantInfo, scope: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant.admin_client_id,
        "client_secret": tenant.admin_client_secret,
        "scope": scope,
    }
    answer = client.post(f"{BASE}/{tenant.tenant_id}/oauth2/v2.0/token", data=form)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def arm(
    client: TestClient, path: str, token: str | None, params: dict[str, str] | None = API
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"{BASE}/arm{path}", params=params, headers=headers)


@pytest.fixture
def world() -> tuple[EmulatorContext, TenantInfo, TestClient]:
    ctx = EmulatorContext(store=Store(None), base_url=BASE)
    tenant = ensure_tenant(ctx)
    return ctx, tenant, TestClient(build_app(ctx), base_url=BASE)


def test_tenants_and_an_empty_subscription_list(
    world: tuple[EmulatorContext, TenantInfo, TestClient],
) -> None:
    _, tenant, client = world
    token = token_for(client, tenant, ARM_SCOPE)
    tenants = arm(client, "/tenants", token)
    assert tenants.status_code == 200
    [entry] = tenants.json()["value"]
    assert entry["id"] == f"/tenants/{tenant.tenant_id}" and entry["tenantId"] == tenant.tenant_id
    assert entry["defaultDomain"] == tenant.domain and entry["domains"] == [tenant.domain]
    assert (entry["tenantCategory"], entry["tenantType"]) == ("Home", "AAD")
    assert arm(client, "/subscriptions", token).json() == {"value": []}
    missing = arm(client, "/subscriptions/00000000-0000-0000-0000-000000000001", token)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "SubscriptionNotFound")


def test_arm_errors(world: tuple[EmulatorContext, TenantInfo, TestClient]) -> None:
    _, tenant, client = world
    token = token_for(client, tenant, ARM_SCOPE)
    no_version = arm(client, "/subscriptions", token, params=None)
    assert (no_version.status_code, no_version.json()["error"]["code"]) == (400, "MissingApiVersionParameter")
    anonymous = arm(client, "/subscriptions", None)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "AuthenticationFailed")
    assert anonymous.headers["www-authenticate"].startswith(f'Bearer authorization_uri="{BASE}/"')
    graph_token = token_for(client, tenant, "https://graph.microsoft.com/.default")
    wrong = arm(client, "/tenants", graph_token)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "InvalidAuthenticationTokenAudience")
    forged = arm(client, "/tenants", token[:-4] + "AAAA")
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    # ...and an ARM token is no Graph token.
    on_graph = client.get(f"{BASE}/v1.0/applications", headers={"Authorization": f"Bearer {token}"})
    assert (on_graph.status_code, on_graph.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")


def test_state_saved_before_arm_gains_the_management_resource(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    ctx = EmulatorContext(store=Store(path), base_url=BASE)
    tenant = ensure_tenant(ctx)
    sp = ctx.store.find(tenant.tenant_id, "servicePrincipals", appId=ARM_APP_ID)[0]
    assert sp["displayName"] == "Windows Azure Service Management API"
    assert "https://management.core.windows.net/" in sp["servicePrincipalNames"]
    ctx.store.delete(tenant.tenant_id, "servicePrincipals", sp["id"])  # as saved by an older emulator
    ctx.store.close()
    reopened = EmulatorContext(store=Store(path), base_url=BASE)
    ensure_tenant(reopened, tenant.tenant_id)
    assert len(reopened.store.find(tenant.tenant_id, "servicePrincipals", appId=ARM_APP_ID)) == 1
    token_for(TestClient(build_app(reopened), base_url=BASE), tenant, ARM_SCOPE)
    reopened.store.close()
