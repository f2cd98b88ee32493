"""The emulator's Entra directory throttling (``FaultConfig(entra_limits=True)``), as Microsoft documents it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from provisioner.emulator.faults import ENTRA_LIMITS, FaultConfig, inner_fault, request_cost

APP, OTHER_APP = "app-1", "app-2"
TENANT, OTHER_TENANT = "tenant-1", "tenant-2"


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


class Ctx:
    """The two things ``inner_fault`` uses of the emulator's context: its faults and counters."""

    def __init__(self, config: FaultConfig) -> None:
        self.faults = config
        self.clock = Clock()
        self.counters: Counter[str] = Counter()

    def count(self, name: str) -> None:
        self.counters[name] += 1


def test_request_costs_follow_the_documented_table() -> None:
    assert request_cost("GET", "/applications", {}) == (2, 0)
    assert request_cost("GET", "/applications", {"$select": "id"}) == (1, 0)
    assert request_cost("GET", "/applications", {"$expand": "owners"}) == (3, 0)
    assert request_cost("GET", "/servicePrincipals/abc/appRoleAssignments", {}) == (2, 0)
    assert request_cost("GET", "/oauth2PermissionGrants", {"$top": "5"}) == (1, 0)
    assert request_cost("GET", "/servicePrincipals", {"$select": "id", "$top": "5"}) == (
        1,
        0,
    )  # never below 1
    assert request_cost("POST", "/applications", {}) == (1, 1)
    assert request_cost("DELETE", "/applications/abc", {}) == (1, 1)


def _write(ctx: Ctx, app: str = APP, tenant: str = TENANT) -> Any:
    return inner_fault(ctx, app, tenant=tenant, method="POST", path="/applications", query={})  # type: ignore[arg-type]


def test_write_quota_per_app_and_tenant_counts_inner_requests_one_by_one(monkeypatch: Any) -> None:
    now = [1000.0]
    monkeypatch.setattr("provisioner.emulator.faults.time.monotonic", lambda: now[0])
    ctx = Ctx(FaultConfig(entra_limits=True))
    quota, _ = ENTRA_LIMITS["Tenant_Application", "Write"]
    assert all(_write(ctx) is None for _ in range(int(quota)))
    throttled = _write(ctx)
    assert throttled is not None
    status, body, headers = throttled
    assert status == 429 and body["error"]["code"] == "TooManyRequests"
    assert headers["x-ms-throttle-scope"] == f"Tenant_Application/Write/{APP}/{TENANT}"
    assert headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert int(headers["Retry-After"]) >= 1
    assert ctx.counters["faults_429"] == 1
    # Another tenant of the same app has its own pair quota; another app is not affected at all.
    assert _write(ctx, tenant=OTHER_TENANT) is None
    assert _write(ctx, app=OTHER_APP) is None
    # The bucket refills at quota/window per second: after Retry-After the write passes again.
    now[0] += float(headers["Retry-After"])
    assert _write(ctx) is None


def test_reads_spend_resource_units_of_the_pair(monkeypatch: Any) -> None:
    monkeypatch.setattr("provisioner.emulator.faults.time.monotonic", lambda: 5.0)
    ctx = Ctx(FaultConfig(entra_limits=True))
    units, _ = ENTRA_LIMITS["Tenant_Application", "ReadWrite"]
    passed = 0
    while inner_fault(ctx, APP, tenant=TENANT, method="GET", path="/applications", query={}) is None:  # type: ignore[arg-type]
        passed += 1
    assert passed == int(units) // 2  # GET applications costs 2 resource units


def test_limits_are_off_by_default() -> None:
    ctx = Ctx(FaultConfig())
    assert all(_write(ctx) is None for _ in range(5000))
