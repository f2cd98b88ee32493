"""Batched, concurrent reconciliation: round-trip budget, convergence, and convergence under throttling.

Round trips are counted at the emulator (``ctx.counters``: HTTP requests under
/v1.0, and token requests), which is deterministic: these are tests, not
timing benchmarks (``make bench`` times things). The tool runs in-process
through :mod:`provisioner.engine.workflow`, pointed at a private emulator the way
``provisioner emulator serve`` users point it (environment variables).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import engine_support
import pytest
from cli_support import connection_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reliability_support import target_for

from bench.manifests import app_name, write_manifests

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@pytest.fixture
def tenant_env(tmp_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh tenant of the private emulator; the tool's target comes from the environment."""
    from provisioner.emulator.seed import ensure_tenant

    tenant = ensure_tenant(tmp_emulator.ctx, str(uuid.uuid4()))
    for name in ("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROVISIONER_GRAPH_URL", tmp_emulator.graph_url)
    monkeypatch.setenv("PROVISIONER_CA_CERT", str(tmp_emulator.ca_cert_path))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", tmp_emulator.authority)
    monkeypatch.setenv("AZURE_TENANT_ID", tenant.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", tenant.admin_client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", tenant.admin_client_secret)
    return tenant


def _apply(manifests: Path, workdir: Path) -> Any:
    return engine_support.apply(manifests, workdir / ".provisioner", workdir)


def _plan(manifests: Path, workdir: Path) -> Any:
    return engine_support.plan(manifests, workdir / ".provisioner", workdir).plan


def _counted(emulator: Any, run: Any) -> tuple[Any, dict[str, int]]:
    emulator.ctx.counters.clear()
    result = run()
    return result, dict(emulator.ctx.counters)


def _store_view(emulator: Any, tenant_id: str, kind: str) -> list[dict[str, Any]]:
    return emulator.ctx.store.list(tenant_id, kind)


def test_no_change_plan_of_30_apps_fits_the_round_trip_budget(
    tmp_emulator: Any, tenant_env: Any, tmp_path: Path
) -> None:
    """30 apps, nothing to change: at most 10 HTTP requests to Graph (token request not counted)."""
    manifests = write_manifests(tmp_path / "manifests", 30)
    _apply(manifests, tmp_path)

    plan, counts = _counted(tmp_emulator, lambda: _plan(manifests, tmp_path))
    assert plan.is_empty, [a.summary for a in plan.actions]
    assert counts.get("graph_requests", 0) <= 10, counts
    assert counts.get("token_requests", 0) <= 1, counts


def test_read_state_of_30_apps_is_two_batched_round_trips(
    tmp_emulator: Any, tenant_env: Any, tmp_path: Path
) -> None:
    """Round 1 (resources + applications) and round 2 (client SPs + consent per resource): 2 $batch requests."""
    import asyncio

    from provisioner.graph.connect import graph_client
    from provisioner.graph.state import read_state
    from provisioner.manifest.loader import load

    manifests = write_manifests(tmp_path / "manifests", 30)
    _apply(manifests, tmp_path)
    loaded = load([manifests])
    target = target_for(tmp_emulator, tenant_env)

    async def read() -> Any:
        async with graph_client(target, on_wait=None) as client:
            tmp_emulator.ctx.counters.clear()
            return await read_state(client, loaded, tenant_id=target.tenant_id)

    state = asyncio.run(read())
    assert state.requests == 2
    assert tmp_emulator.ctx.counters.get("graph_requests") == 2
    assert state.server_time is not None  # Graph's clock comes with the answers: no extra request
    for index in range(30):
        app = state.apps[app_name(index)]
        assert app is not None and app.service_principal is not None
        assert len(app.delegated_grants) == 1 and len(app.role_assignments) == 1
    assert GRAPH_APP_ID in state.resources


def test_plan_after_a_batched_apply_is_empty(tmp_emulator: Any, tenant_env: Any, tmp_path: Path) -> None:
    """A fresh apply of 30 apps in a few $batch waves leaves exactly the declared objects, secrets delivered."""
    manifests = write_manifests(tmp_path / "manifests", 30)
    outcome, counts = _counted(tmp_emulator, lambda: _apply(manifests, tmp_path))
    # 2 reads + 3 waves of writes (applications; service principals; consent + secrets), ~20 per batch
    assert counts.get("graph_requests", 0) <= 16, counts
    assert counts.get("graph_writes", 0) == 30 * 5, counts  # app, SP, grant, assignment, secret: no retry
    assert outcome.plan.counts() == {
        "create_app": 30,
        "create_service_principal": 30,
        "grant_delegated": 30,
        "assign_app_role": 30,
        "mint_secret": 30,
    }
    assert _plan(manifests, tmp_path).is_empty

    tenant = tenant_env.tenant_id
    apps = {
        a["uniqueName"]: a for a in _store_view(tmp_emulator, tenant, "applications") if a.get("uniqueName")
    }
    assert set(apps) == {app_name(i) for i in range(30)}
    sps = [
        s
        for s in _store_view(tmp_emulator, tenant, "servicePrincipals")
        if s["appId"] in {a["appId"] for a in apps.values()}
    ]
    assert len(sps) == 30
    for connection in outcome.connections:
        values = connection.values
        app = apps[connection.name]
        assert values["client_id"] == app["appId"]
        (credential,) = app["passwordCredentials"]
        assert values["client_secret_id"] == credential["keyId"]  # the minted value reached the sink
        saved = json.loads(connection_file(tmp_path / ".provisioner", connection.name).read_text())
        assert saved["client_secret"] == values["client_secret"]


def test_batched_apply_converges_under_throttling(tmp_emulator: Any, tenant_env: Any, tmp_path: Path) -> None:
    """Graph throttles inner requests of $batch (429 + Retry-After): retried after the wait, nothing doubled."""
    from provisioner.emulator.faults import FaultConfig

    manifests = write_manifests(tmp_path / "manifests", 12)
    tmp_emulator.ctx.faults = FaultConfig(
        throttle_rate_per_s=40, throttle_burst=15, retry_after_s=0.2, seed=11
    )
    outcome, counts = _counted(tmp_emulator, lambda: _apply(manifests, tmp_path))
    assert counts.get("faults_429", 0) > 0, counts  # throttling really happened
    assert len(outcome.connections) == 12
    tmp_emulator.ctx.faults = FaultConfig()

    assert _plan(manifests, tmp_path).is_empty
    tenant = tenant_env.tenant_id
    grants = _store_view(tmp_emulator, tenant, "oauth2PermissionGrants")
    assignments = _store_view(tmp_emulator, tenant, "appRoleAssignments")
    apps = [a for a in _store_view(tmp_emulator, tenant, "applications") if a.get("uniqueName")]
    assert len(apps) == 12
    assert all(len(a["passwordCredentials"]) == 1 for a in apps)  # no secret minted twice
    assert len({(g["clientId"], g["resourceId"]) for g in grants}) == len(grants)
    assert len({(a["principalId"], a["appRoleId"]) for a in assignments}) == len(assignments)


def test_grant_created_by_another_run_mid_apply_mints_exactly_once(
    tmp_emulator: Any, tenant_env: Any
) -> None:
    """A 409 on the grant (another run won) is repaired (find it, PATCH it) without minting a second secret.

    After the 409 the next wave sends [find grant, assign role, mint secret] as one chain: all of
    them run, the found grant adds a PATCH; the minted value must be kept, not minted again.
    """
    import asyncio

    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

    from provisioner.engine.apply import apply_plan
    from provisioner.engine.planner import make_plan
    from provisioner.graph.connect import graph_client
    from provisioner.graph.state import read_state
    from provisioner.manifest.loader import load_text
    from provisioner.model.desired import build_desired

    loaded, errors = load_text(
        "version: 1\napps:\n  - name: raced\n    display_name: Raced\n    permissions:\n"
        "      Microsoft Graph:\n        delegated: [User.Read]\n        application: [Mail.Read]\n"
        "    admin_consent: true\n    secrets:\n      - name: raced secret\n",
        "inline.yaml",
    )
    assert not errors
    target = target_for(tmp_emulator, tenant_env)

    async def run() -> Any:
        async with graph_client(target, on_wait=None) as client:
            first = await read_state(client, loaded, tenant_id=target.tenant_id)
            desired = build_desired(loaded, first)
            created = await apply_plan(client, make_plan(desired, first), desired, first)  # everything
            created.raise_for_errors()
            # Rewind: revoke consent and drop the secret, plan against that state, then let "another
            # run" grant a different scope before this apply sends its grant.
            state = await read_state(client, loaded, tenant_id=target.tenant_id)
            app = state.apps["raced"]
            assert app is not None and app.service_principal is not None
            for grant in app.delegated_grants:
                await client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant.id).delete()
            from provisioner.graph.passwords import remove_password

            for secret in app.secrets:
                await remove_password(client, app.object_id, secret.key_id)
            stale = await read_state(client, loaded, tenant_id=target.tenant_id)
            plan = make_plan(desired, stale)
            assert [a.kind for a in plan.actions] == ["grant_delegated", "mint_secret"]
            graph = stale.resources[GRAPH_APP_ID]
            await client.oauth2_permission_grants.post(
                OAuth2PermissionGrant(
                    client_id=app.service_principal.object_id,
                    consent_type="AllPrincipals",
                    resource_id=graph.id,
                    scope="openid",
                )
            )
            result = await apply_plan(client, plan, desired, stale)
            after = await read_state(client, loaded, tenant_id=target.tenant_id)
            return result, after

    result, after = asyncio.run(run())
    result.raise_for_errors()
    assert len(result.minted["raced"]) == 1
    app = after.apps["raced"]
    assert app is not None and [s.key_id for s in app.secrets] == [result.minted["raced"][0].key_id]
    (grant,) = app.delegated_grants
    assert grant.scopes == {"User.Read"}  # the PATCH set the declared scope on the found grant
