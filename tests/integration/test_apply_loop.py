"""connect -> read state -> plan -> apply: the REAL msgraph-sdk + azure-identity over HTTPS to the emulator.

Every test works in its own emulator tenant (seeded on demand), so tests stay
independent even when the emulator fixture is shared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from reliability_support import target_for

from provisioner.engine.apply import ApplyResult, apply_plan
from provisioner.engine.planner import Plan, make_plan
from provisioner.graph.connect import graph_client
from provisioner.graph.state import in_filter, read_state
from provisioner.graph.target import Target
from provisioner.manifest.loader import load, load_text
from provisioner.model.desired import build_desired
from provisioner.model.manifest import App
from provisioner.model.tenant import TenantState

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "manifests"


def fresh_target(emulator: Any) -> Target:
    """A brand-new tenant in the running emulator, authenticated as its bootstrap admin."""
    from provisioner.emulator.seed import ensure_tenant

    target: Target = target_for(emulator, ensure_tenant(emulator.ctx, str(uuid.uuid4())))
    return target


def apps_from(text: str) -> list[App]:
    loaded, errors = load_text(text, "inline.yaml")
    assert not errors, errors
    return [item.app for item in loaded]


async def plan_for(
    client: Any, apps: Sequence[Any], tenant_id: str, **kw: Any
) -> tuple[Plan, Any, TenantState]:
    state = await read_state(client, apps, tenant_id=tenant_id, **kw)
    desired = build_desired(apps, state)
    return make_plan(desired, state), desired, state


async def converge(target: Target, apps: Sequence[Any]) -> tuple[Plan, ApplyResult, Plan]:
    """plan -> apply -> plan again; returns (first plan, apply result, second plan)."""
    async with graph_client(target) as client:
        plan, desired, state = await plan_for(client, apps, target.tenant_id or "")
        result = await apply_plan(client, plan, desired, state)
        result.raise_for_errors()
        again, _, _ = await plan_for(client, apps, target.tenant_id or "")
    return plan, result, again


def summaries(plan: Plan) -> list[str]:
    return [f"{a.app}: {a.summary}" for a in plan.actions]


# ---------------------------------------------------------------- the five scenarios


@pytest.mark.skipif(not SCENARIOS.is_dir(), reason="scenario manifests not present")
def test_scenarios_apply_then_plan_is_empty(emulator: Any) -> None:
    target = fresh_target(emulator)
    loaded = load([SCENARIOS])
    plan, result, again = asyncio.run(converge(target, loaded))

    names = {item.app.name for item in loaded}
    assert {a.app for a in plan.actions if a.kind == "create_app"} == names
    assert again.is_empty, summaries(again)
    assert set(result.apps) == names
    with_secrets = {item.app.name for item in loaded if item.app.secrets}
    assert set(result.minted) == with_secrets
    for name in with_secrets:
        (secret,) = result.minted[name]
        assert secret.value and secret.value not in repr(secret)
    # nothing secret ever lands in the plan's JSON
    text = str(plan.to_dict())
    assert not any(s.value in text for minted in result.minted.values() for s in minted)

    # Application permissions + admin consent: the minted secret gets an app-only token with those roles.
    logistics = next(
        item.app
        for item in loaded
        if item.app.permissions.get("Microsoft Graph") and item.app.permissions["Microsoft Graph"].application
    )
    claims = client_credentials_claims(target, emulator, result, logistics.name)
    assert set(logistics.permissions["Microsoft Graph"].application) <= set(claims.get("roles", []))


def client_credentials_claims(
    target: Target, emulator: Any, result: ApplyResult, name: str
) -> dict[str, Any]:
    secret = result.minted[name][0]
    response = httpx.post(
        f"{emulator.authority}/{target.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": result.apps[name].app_id,
            "client_secret": secret.value,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=str(emulator.ca_cert_path),
    )
    assert response.status_code == 200, response.text
    return jwt.decode(response.json()["access_token"], options={"verify_signature": False})


# ---------------------------------------------------------------- changing a manifest

BASE = """
version: 1
apps:
  - name: loop-app
    display_name: Loop app
    audience: multi-tenant
    redirect_uris:
      web: [https://loop.example.com/callback]
    permissions:
      Microsoft Graph:
        delegated: [User.Read, Mail.Send, offline_access]
        application: [Mail.Read]
    admin_consent: true
    secrets:
      - name: loop secret
        expires_in: 90d
        rotate_before: 10d
"""


def test_change_manifest_plans_exactly_the_change(emulator: Any) -> None:
    target = fresh_target(emulator)
    first, _, again = asyncio.run(converge(target, apps_from(BASE)))
    assert [a.kind for a in first.actions] == [
        "create_app",
        "create_service_principal",
        "grant_delegated",
        "assign_app_role",
        "mint_secret",
    ]
    assert again.is_empty, summaries(again)

    changed = BASE.replace(
        "web: [https://loop.example.com/callback]",
        "web: [https://loop.example.com/callback, https://loop.example.com]",
    ).replace("delegated: [User.Read, Mail.Send, offline_access]", "delegated: [User.Read, offline_access]")
    plan, result, after = asyncio.run(converge(target, apps_from(changed)))
    assert [a.kind for a in plan.actions] == ["update_app", "update_delegated_grant"], summaries(plan)
    update, grant = plan.actions
    assert [c.field for c in update.changes] == ["web.redirectUris", "requiredResourceAccess"]
    assert "web.redirectUris [+https://loop.example.com/]" in update.summary
    assert "[-Microsoft Graph Mail.Send (delegated)]" in update.summary
    assert grant.details["removed"] == ["Mail.Send"] and grant.details["added"] == []
    assert result.actions_done == 2 and not result.minted
    assert after.is_empty, summaries(after)

    # drop the application permission and the whole delegated set: revoked, not just un-requested
    bare = changed.replace("        application: [Mail.Read]\n", "").replace(
        "delegated: [User.Read, offline_access]", "delegated: []"
    )
    plan, _, after = asyncio.run(converge(target, apps_from(bare)))
    assert [a.kind for a in plan.actions] == ["update_app", "revoke_delegated", "revoke_app_role"], summaries(
        plan
    )
    assert after.is_empty, summaries(after)


def test_both_read_strategies_see_the_same_state(emulator: Any) -> None:
    """Per-client and per-resource grant/assignment reads must agree (and stay cheap)."""
    target = fresh_target(emulator)
    apps = apps_from(BASE)
    asyncio.run(converge(target, apps))

    async def both() -> tuple[TenantState, TenantState]:
        async with graph_client(target) as client:
            per_client = await read_state(client, apps, tenant_id=target.tenant_id, per_client_threshold=1000)
            per_resource = await read_state(client, apps, tenant_id=target.tenant_id, per_client_threshold=0)
        return per_client, per_resource

    per_client, per_resource = asyncio.run(both())
    a, b = per_client.apps["loop-app"], per_resource.apps["loop-app"]
    assert a is not None and b is not None
    assert a.delegated_grants == b.delegated_grants and len(a.delegated_grants) == 1
    assert a.role_assignments == b.role_assignments and len(a.role_assignments) == 1
    # HTTP requests ($batch): [resources + applications], [client SPs (+ consent per resource)],
    # [consent per client SP]: per resource saves the third round
    assert per_client.requests == 3 and per_resource.requests == 2


# ---------------------------------------------------------------- concurrency


def test_concurrent_double_apply_creates_one_application(emulator: Any) -> None:
    target = fresh_target(emulator)
    apps = apps_from(BASE)

    async def one_run() -> ApplyResult:
        async with graph_client(target) as client:
            plan, desired, state = await plan_for(client, apps, target.tenant_id or "")
            return await apply_plan(client, plan, desired, state)

    async def race() -> list[ApplyResult]:
        return list(await asyncio.gather(one_run(), one_run()))

    results = asyncio.run(race())
    for result in results:
        result.raise_for_errors()
    assert results[0].apps["loop-app"] == results[1].apps["loop-app"]

    async def count() -> tuple[int, int, Plan]:
        async with graph_client(target) as client:
            found = await client.applications.get(
                _query(client.applications, in_filter("uniqueName", ["loop-app"]))
            )
            app_id = found.value[0].app_id
            sps = await client.service_principals.get(
                _query(client.service_principals, in_filter("appId", [app_id]))
            )
            plan, _, _ = await plan_for(client, apps, target.tenant_id or "")
        return len(found.value), len(sps.value), plan

    n_apps, n_sps, plan = asyncio.run(count())
    assert (n_apps, n_sps) == (1, 1)
    assert plan.is_empty, summaries(plan)


def _query(builder: Any, flt: str) -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    qp = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
    return RequestConfiguration(query_parameters=qp(filter=flt))


# ---------------------------------------------------------------- credential errors


def test_wrong_secret_is_one_line_credential_error(emulator: Any) -> None:
    from provisioner.core.errors import CredentialError

    target = fresh_target(emulator)
    bad = Target(
        tenant_id=target.tenant_id,
        graph_url=target.graph_url,
        authority_host=target.authority_host,
        ca_cert_path=target.ca_cert_path,
        client_id=target.client_id,
        client_secret="not-the-secret-value",
    )

    async def attempt() -> None:
        async with graph_client(bad):
            pass

    with pytest.raises(CredentialError) as info:
        asyncio.run(attempt())
    message = str(info.value)
    assert "AADSTS7000215" in message and "\n" not in message
    assert "not-the-secret-value" not in message


# ---------------------------------------------------------------- eventual consistency


def test_replication_lag_is_retried_and_reported(tmp_emulator: Any) -> None:
    """New objects invisible for a while (400/404 right after create): bounded retries, reported waits."""
    from provisioner.emulator.faults import FaultConfig

    target = fresh_target(tmp_emulator)  # seed first: seeding itself trips over the lag
    tmp_emulator.ctx.faults = FaultConfig(replication_lag_ms=600)
    apps = apps_from(BASE)
    messages: list[str] = []

    async def run() -> ApplyResult:
        async with graph_client(target) as client:
            plan, desired, state = await plan_for(client, apps, target.tenant_id or "")
            return await apply_plan(client, plan, desired, state, progress=messages.append)

    result = asyncio.run(run())
    result.raise_for_errors()
    assert result.actions_done == 5 and result.minted["loop-app"]
    assert any(m.startswith("loop-app: waited ") for m in messages), messages

    tmp_emulator.ctx.faults = FaultConfig()
    tmp_emulator.ctx.clock.advance(5)  # let everything replicate, without sleeping

    async def replan() -> Plan:
        async with graph_client(target) as client:
            plan, _, _ = await plan_for(client, apps, target.tenant_id or "")
        return plan

    again = asyncio.run(replan())
    assert again.is_empty, summaries(again)


def test_default_azure_credential_from_environment(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without client id/secret on the target, DefaultAzureCredential (environment variables) is used."""
    admin = fresh_target(emulator)
    monkeypatch.setenv("AZURE_CLIENT_ID", admin.client_id or "")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", admin.client_secret or "")
    monkeypatch.setenv("AZURE_TENANT_ID", admin.tenant_id or "")
    target = Target(
        tenant_id=None,  # no --tenant: learned from the credential's token
        graph_url=admin.graph_url,
        authority_host=admin.authority_host,
        ca_cert_path=admin.ca_cert_path,
    )

    async def read() -> TenantState:
        async with graph_client(target) as client:
            return await read_state(client, apps_from(BASE), tenant_id=target.tenant_id)

    state = asyncio.run(read())
    assert target.tenant_id == admin.tenant_id and state.tenant_id == admin.tenant_id
    assert state.apps == {"loop-app": None}
    assert "00000003-0000-0000-c000-000000000000" in state.resources


# ---------------------------------------------------------------- adoption and undeclared secrets

LEGACY = """
version: 1
apps:
  - name: legacy-mail
    display_name: Legacy mail app
    adopt: true
    permissions:
      Microsoft Graph:
        delegated: [User.Read]
    secrets:
      - name: legacy secret
"""


def test_adopt_by_display_name_then_manage_secrets(emulator: Any) -> None:
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody,
    )
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.password_credential import PasswordCredential

    target = fresh_target(emulator)
    apps = apps_from(LEGACY)

    async def hand_made() -> str:
        async with graph_client(target) as client:
            app = await client.applications.post(Application(display_name="Legacy mail app"))
            body = AddPasswordPostRequestBody(
                password_credential=PasswordCredential(display_name="hand made")
            )
            await client.applications.by_application_id(app.id).add_password.post(body)
            return str(app.app_id)

    app_id = asyncio.run(hand_made())
    first, result, again = asyncio.run(converge(target, apps))
    assert [a.kind for a in first.actions] == ["update_app", "create_service_principal", "mint_secret"]
    assert result.apps["legacy-mail"].app_id == app_id  # adopted, not re-created
    # adopted, not owned (provisioner.model.adoption): the hand-made secret's value lives elsewhere, it stays
    assert again.is_empty, summaries(again)

    # listing the ownership marker hands the registration over: undeclared secrets are now the tool's
    owned = apps_from(LEGACY + "    tags: [provisioner:managed]\n")
    tagged, _, again = asyncio.run(converge(target, owned))
    assert [a.kind for a in tagged.actions] == ["update_app"], summaries(tagged)
    assert [a.kind for a in again.actions] == ["remove_secret"], summaries(again)
    assert again.actions[0].details["name"] == "hand made"

    removed, _, final = asyncio.run(converge(target, owned))
    assert [a.kind for a in removed.actions] == ["remove_secret"]
    assert final.is_empty, summaries(final)
