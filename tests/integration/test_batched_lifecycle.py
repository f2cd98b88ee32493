"""Secret removals and deletions are batched: round trips counted at the emulator, not timed.

A rotation that retires 30 secrets, or a destroy of 30 apps, used to cost one
Graph request per secret or app; through :class:`provisioner.graph.batch.Batcher`
they cost one ``$batch`` per 20. The counters (``ctx.counters``) are exact, so
the budgets below are deterministic.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import engine_support
import pytest
from cli_support import connections_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.manifests import app_name, write_manifests
from provisioner.emulator.clock import Clock

DAY = 86400
APPS = 30


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


def _rotate(manifests: Path, workdir: Path, *, force: bool = False) -> Any:
    return engine_support.rotate(manifests, workdir / ".provisioner", workdir, force=force)


def _counted(emulator: Any, run: Any) -> tuple[Any, dict[str, int]]:
    emulator.ctx.counters.clear()
    result = run()
    return result, dict(emulator.ctx.counters)


def _secrets(emulator: Any, tenant_id: str) -> dict[str, list[str]]:
    return {
        str(app.get("uniqueName")): sorted(str(s["keyId"]) for s in app.get("passwordCredentials") or [])
        for app in emulator.ctx.store.list(tenant_id, "applications")
        if str(app.get("uniqueName") or "").startswith("bench-app-")
    }


def test_forced_rotation_then_retirement_of_30_apps_is_a_few_round_trips(
    tmp_emulator: Any, tenant_env: Any, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "manifests", APPS)
    _apply(manifests, tmp_path)
    before = _secrets(tmp_emulator, tenant_env.tenant_id)
    assert all(len(keys) == 1 for keys in before.values())

    rotated, counts = _counted(tmp_emulator, lambda: _rotate(manifests, tmp_path, force=True))
    assert rotated.status == "rotated", [str(e) for e in rotated.errors]
    assert [s.status for s in rotated.secrets] == ["rotated"] * APPS
    # reads (2) + 30 addPassword in 2 batches (20 + 10); one call each would be 32
    assert counts.get("graph_requests", 0) <= 4, counts
    middle = _secrets(tmp_emulator, tenant_env.tenant_id)
    assert all(len(keys) == 2 for keys in middle.values())

    tmp_emulator.ctx.clock.advance(8 * DAY)  # past the 7-day overlap: the old secrets are due to go
    retired, counts = _counted(tmp_emulator, lambda: _rotate(manifests, tmp_path))
    assert retired.status == "rotated", [str(e) for e in retired.errors]
    assert [s.status for s in retired.secrets] == ["retired"] * APPS
    # reads (2) + 30 removePassword in 2 batches; one call each would be 32
    assert counts.get("graph_requests", 0) <= 4, counts
    assert counts.get("graph_writes", 0) == APPS, counts
    after = _secrets(tmp_emulator, tenant_env.tenant_id)
    for name, keys in after.items():
        assert len(keys) == 1 and keys[0] not in before[name], name
    for outcome in retired.secrets:
        assert [r["key_id"] for r in outcome.removed] == before[outcome.app]


class FrozenClock(Clock):
    """The emulator's clock standing still (it moves only by ``advance``): every mint lands in one second."""

    def __init__(self) -> None:
        super().__init__()
        self._base = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        with self._lock:
            return self._base + self._offset


def test_replacements_minted_in_the_same_second_are_predecessors_not_orphans(
    tmp_emulator: Any, tenant_env: Any, tmp_path: Path
) -> None:
    """Entra's startDateTime has whole seconds: apply and a forced rotation inside one second give the old
    and the new secret equal start and end. The old one is still the replaced predecessor (kept for the
    overlap, then retired before the mint), never an orphan removed at once. This used to depend on the
    random keyIds: some old secrets became orphans, removed inside their overlap after delivery in an
    extra $batch (the retirement run above then cost 5 requests instead of 4, now and then)."""
    tmp_emulator.ctx.clock = FrozenClock()
    manifests = write_manifests(tmp_path / "manifests", APPS)
    _apply(manifests, tmp_path)
    before = _secrets(tmp_emulator, tenant_env.tenant_id)
    assert _rotate(manifests, tmp_path, force=True).status == "rotated"
    starts = {
        s["startDateTime"]
        for app in tmp_emulator.ctx.store.list(tenant_env.tenant_id, "applications")
        for s in app.get("passwordCredentials") or []
    }
    assert len(starts) == 1, starts  # the condition under test: old and new secrets tie

    # Still in the same second, inside the overlap: both secrets stay, nothing is removed.
    inside, counts = _counted(tmp_emulator, lambda: _rotate(manifests, tmp_path))
    assert not inside.errors, [str(e) for e in inside.errors]
    assert {s.status for s in inside.secrets} == {"unchanged"}, [(s.app, s.removed) for s in inside.secrets]
    assert all(len(keys) == 2 for keys in _secrets(tmp_emulator, tenant_env.tenant_id).values())
    assert counts.get("graph_writes", 0) == 0, counts

    tmp_emulator.ctx.clock.advance(8 * DAY)
    retired, counts = _counted(tmp_emulator, lambda: _rotate(manifests, tmp_path))
    assert [s.status for s in retired.secrets] == ["retired"] * APPS
    reasons = {r["reason"].split(" ended ")[0] for s in retired.secrets for r in s.removed}
    assert reasons == {"overlap 7d"}, reasons
    assert counts.get("graph_requests", 0) == 4, counts  # reads (2) + 30 removals in 2 batches
    for outcome in retired.secrets:
        assert [r["key_id"] for r in outcome.removed] == before[outcome.app]


def test_destroy_of_30_apps_is_a_few_round_trips(tmp_emulator: Any, tenant_env: Any, tmp_path: Path) -> None:
    from provisioner.engine.destroy import destroy

    manifests = write_manifests(tmp_path / "manifests", APPS)
    _apply(manifests, tmp_path)
    connections = connections_dir(tmp_path / ".provisioner")
    assert len(list(connections.glob("*.json"))) == APPS

    outcome, counts = _counted(
        tmp_emulator,
        lambda: destroy(
            engine_support.options(manifests, tmp_path / ".provisioner", tmp_path),
            purge=True,
            approve=lambda plan: True,
        ),
    )
    assert not outcome.errors, [str(e) for e in outcome.errors]
    assert sorted(d["app"] for d in outcome.destroyed) == [app_name(i) for i in range(APPS)]
    assert all(d["purged"] for d in outcome.destroyed)
    assert _secrets(tmp_emulator, tenant_env.tenant_id) == {}
    assert not list(connections.glob("*.json"))
    # lookups (1 $batch) + deleted items (1) + deletes (2) + purges (2); one call each would be 60+
    assert counts.get("graph_requests", 0) <= 6, counts
    assert counts.get("graph_writes", 0) == 2 * APPS, counts


def test_batched_retirement_converges_under_throttling(
    tmp_emulator: Any, tenant_env: Any, tmp_path: Path
) -> None:
    """Throttled removePassword steps (429: not executed) are re-sent after Retry-After; each app's old
    secret is removed exactly once and no app reports an error."""
    from provisioner.emulator.faults import FaultConfig

    manifests = write_manifests(tmp_path / "manifests", 12)
    _apply(manifests, tmp_path)
    before = _secrets(tmp_emulator, tenant_env.tenant_id)
    assert _rotate(manifests, tmp_path, force=True).status == "rotated"
    tmp_emulator.ctx.clock.advance(8 * DAY)

    tmp_emulator.ctx.faults = FaultConfig(throttle_rate_per_s=30, throttle_burst=6, retry_after_s=0.2, seed=5)
    retired, counts = _counted(tmp_emulator, lambda: _rotate(manifests, tmp_path))
    tmp_emulator.ctx.faults = FaultConfig()
    assert counts.get("faults_429", 0) > 0, counts  # throttling really happened
    assert not retired.errors, [str(e) for e in retired.errors]
    assert [s.status for s in retired.secrets] == ["retired"] * 12
    for name, keys in _secrets(tmp_emulator, tenant_env.tenant_id).items():
        assert len(keys) == 1 and keys[0] not in before[name], name
