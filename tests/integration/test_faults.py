"""Fault injection in the emulator, and the tool riding it out: throttling, 5xx, replication lag, resets.

Raw HTTP checks pin the emulator's answers to Graph's shapes (429 + Retry-After
+ error envelope, per caller, per ``$batch`` inner request); the rest drive the
real SDK through :func:`provisioner.graph.connect.graph_client` and check that
the tool retries within its bounds and says what it waited for.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_support import (
    admin_http,
    copy_scenarios,
    fresh_tenant,
    inventory,
    make_caller,
    target_for,
    token,
)

from provisioner.emulator.faults import FaultConfig

GRAPH_SP_FILTER = {"$filter": "appId eq '00000003-0000-0000-c000-000000000000'", "$select": "id"}


def test_seeding_bypasses_replication_lag(tmp_path: Path) -> None:
    """Regression: ensure_tenant created the bootstrap app's service principal through the lag and failed."""
    from provisioner.emulator import start_emulator

    with start_emulator(faults=FaultConfig(replication_lag_ms=5000)) as running:
        tenant = running.tenant
        assert token(running, tenant.tenant_id, tenant.admin_client_id, tenant.admin_client_secret)
        other = fresh_tenant(running)  # a second tenant, seeded while the lag is on
        with admin_http(running, other) as http:
            assert http.get("/servicePrincipals", params=GRAPH_SP_FILTER).status_code == 200


def test_throttling_is_per_caller_with_retry_after_and_graph_error_body(tmp_emulator: Any) -> None:
    tenant = tmp_emulator.tenant
    caller = make_caller(tmp_emulator, tenant, ["Application.Read.All"])
    tmp_emulator.ctx.faults = FaultConfig(throttle_rate_per_s=0.5, throttle_burst=2)
    with admin_http(tmp_emulator, tenant) as admin:
        statuses = [admin.get("/servicePrincipals", params=GRAPH_SP_FILTER) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    throttled = statuses[2]
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["x-ms-throttle-information"]
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests" and error["message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    # another application has its own bucket
    bearer = token(tmp_emulator, tenant.tenant_id, caller.client_id, caller.secret)
    with httpx.Client(verify=str(tmp_emulator.ca_cert_path)) as http:
        other = http.get(
            f"{tmp_emulator.graph_url}/servicePrincipals",
            params=GRAPH_SP_FILTER,
            headers={"Authorization": f"Bearer {bearer}"},
        )
    assert other.status_code == 200
    assert tmp_emulator.ctx.counters["faults_429"] == 1


def test_batch_throttles_each_inner_request(tmp_emulator: Any) -> None:
    tmp_emulator.ctx.faults = FaultConfig(throttle_probability=1.0, retry_after_s=0.5)
    with admin_http(tmp_emulator, tmp_emulator.tenant) as admin:
        answer = admin.post(
            "/$batch",
            json={
                "requests": [
                    {"id": "1", "method": "GET", "url": "/organization"},
                    {"id": "2", "method": "GET", "url": "/applications?$top=1"},
                ]
            },
        )
    assert answer.status_code == 200  # the envelope itself is never throttled
    inner = {r["id"]: r for r in answer.json()["responses"]}
    assert {r["status"] for r in inner.values()} == {429}
    for response in inner.values():
        assert float(response["headers"]["Retry-After"]) == pytest.approx(0.5)
        assert response["body"]["error"]["code"] == "TooManyRequests"


def test_5xx_are_retried_within_bounds_and_reported(
    tmp_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.core.errors import GraphError
    from provisioner.graph.connect import graph_client
    from provisioner.graph.failures import graph_errors
    from provisioner.graph.retry import RetryStats

    target = target_for(tmp_emulator, tmp_emulator.tenant)
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "2")
    tmp_emulator.ctx.faults = FaultConfig(error_rate=1.0, retry_after_s=0.01, seed=7)
    waits: list[str] = []
    stats = RetryStats()

    async def read() -> None:
        async with (
            graph_client(target, on_wait=waits.append, stats=stats) as client,
            graph_errors("read organization"),
        ):
            await client.organization.get()

    with pytest.raises(GraphError) as failure:
        asyncio.run(read())
    assert tmp_emulator.ctx.counters["faults_503"] == 3  # first try + PROVISIONER_MAX_RETRIES
    assert "Graph 503 ServiceUnavailable" in str(failure.value)
    assert "PROVISIONER_MAX_RETRIES" in str(failure.value) and "\n" not in str(failure.value)
    assert stats.retries == 2 and stats.gave_up == 1
    assert waits == [waits[0]] and waits[0].startswith("waited ")
    assert "Graph unavailable (503) x2 on read organization" in waits[0]


def test_retry_after_above_the_cap_is_not_waited_for(
    tmp_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.core.errors import GraphError
    from provisioner.graph.connect import graph_client
    from provisioner.graph.failures import graph_errors

    target = target_for(tmp_emulator, tmp_emulator.tenant)
    monkeypatch.setenv("PROVISIONER_RETRY_MAX_WAIT", "5")
    tmp_emulator.ctx.faults = FaultConfig(throttle_probability=1.0, retry_after_s=120)

    async def read() -> None:
        async with graph_client(target, on_wait=None) as client, graph_errors("read organization"):
            await client.organization.get()

    with pytest.raises(GraphError, match="Graph 429 TooManyRequests"):
        asyncio.run(read())
    assert tmp_emulator.ctx.counters["faults_429"] == 1


def test_gateway_timeout_never_replays_add_password(tmp_emulator: Any) -> None:
    """504 may mean "executed, answer lost": a second addPassword would mint a secret nobody holds."""
    from provisioner.core.errors import GraphError
    from provisioner.graph.connect import graph_client
    from provisioner.graph.failures import graph_errors
    from provisioner.graph.passwords import add_password

    target = target_for(tmp_emulator, tmp_emulator.tenant)
    with admin_http(tmp_emulator, tmp_emulator.tenant) as admin:
        app = admin.post("/applications", json={"displayName": "timeout"}).json()
    tmp_emulator.ctx.faults = FaultConfig(timeout_rate=1.0, retry_after_s=0.01)

    async def mint_then_read() -> None:
        from datetime import UTC, datetime, timedelta

        async with graph_client(target, on_wait=None) as client:
            with pytest.raises(GraphError, match="504"):
                async with graph_errors("mint"):
                    await add_password(
                        client, app["id"], name="s", expires=datetime.now(UTC) + timedelta(days=1)
                    )
            assert tmp_emulator.ctx.counters["faults_504"] == 1  # not replayed
            tmp_emulator.ctx.faults = FaultConfig(timeout_rate=0.5, seed=3, retry_after_s=0.01)
            await client.applications.by_application_id(app["id"]).get()  # reads are

    asyncio.run(mint_then_read())


def test_connection_failures_are_retried_then_reported(
    tmp_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.core.errors import GraphError
    from provisioner.graph.connect import graph_client
    from provisioner.graph.failures import graph_errors

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = target_for(tmp_emulator, tmp_emulator.tenant)
    target.graph_url = f"https://127.0.0.1:{port}/v1.0"
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "1")
    waits: list[str] = []

    async def read() -> None:
        async with graph_client(target, on_wait=waits.append) as client, graph_errors("read organization"):
            await client.organization.get()

    with pytest.raises(GraphError, match=f"cannot reach Graph at 127.0.0.1:{port}: connection refused"):
        asyncio.run(read())
    assert len(waits) == 1 and "connection failure on read organization" in waits[0]


@pytest.mark.slow
def test_scenarios_apply_under_throttling_errors_and_lag(tmp_emulator: Any, tmp_path: Path) -> None:
    """20% 429, 5% 503, replication lag: apply converges in one run, re-plan is empty, waits are reported."""
    from provisioner.engine.loading import load_manifests
    from provisioner.engine.options import RunOptions
    from provisioner.engine.workflow import apply_in, plan_in

    tenant = fresh_tenant(tmp_emulator)
    target = target_for(tmp_emulator, tenant)
    manifests = copy_scenarios(tmp_path)
    tmp_emulator.ctx.faults = FaultConfig(
        latency_ms=2,
        throttle_probability=0.2,
        error_rate=0.05,
        retry_after_s=0.05,
        replication_lag_ms=400,
        seed=11,
    )
    messages: list[str] = []
    loaded, _ = load_manifests([str(manifests)])
    options = RunOptions(state_dir=tmp_path / ".provisioner", base_dir=tmp_path)

    async def apply() -> Any:
        return await apply_in(target, loaded, options, lambda plan: True, messages.append)

    outcome = asyncio.run(apply())
    assert outcome.actions_done > 0
    assert any("waited" in m and "Graph throttling (429)" in m for m in messages), messages
    counters = tmp_emulator.ctx.counters
    assert counters.get("faults_429", 0) > 0 and counters.get("replication_hidden", 0) > 0
    assert not inventory(tmp_emulator, tenant.tenant_id).duplicates()

    tmp_emulator.ctx.clock.advance(5)  # everything replicated; faults stay on for the re-plan
    again = asyncio.run(plan_in(target, loaded, options, []))
    assert again.is_empty, [a.summary for a in again.actions]


def test_emulator_serve_takes_fault_options(tmp_path: Path) -> None:
    """`provisioner emulator serve --... ` switches faults on from the start; seeding still works."""
    import json
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", "--json",
            "--latency-ms", "1", "--throttle-rate", "50", "--throttle-burst", "100", "--error-rate", "0.01",
            "--timeout-rate", "0.01", "--replication-lag-ms", "1500", "--fault-seed", "5",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())  # printed once serving (and seeded)
        with httpx.Client(verify=info["ca_cert"]) as http:
            admin = {"Authorization": f"Bearer {info['admin_token']}"}
            faults = http.get(f"{info['url']}/_emulator/faults", headers=admin).json()
            bearer = http.post(
                f"{info['url']}/{info['tenant_id']}/oauth2/v2.0/token",
                data={
                    "client_id": info["client_id"],
                    "client_secret": info["client_secret"],
                    "grant_type": "client_credentials",
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
    finally:
        proc.terminate()
        proc.wait(10)
    assert bearer.status_code == 200
    assert faults | {"seed": 5} == faults
    assert (faults["replication_lag_ms"], faults["throttle_rate_per_s"], faults["timeout_rate"]) == (
        1500,
        50,
        0.01,
    )


def test_invalid_fault_option_is_one_error_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from provisioner.cli import app

    result = CliRunner().invoke(app, ["emulator", "serve", "--error-rate", "2"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: invalid fault option: error_rate must be between 0 and 1"
