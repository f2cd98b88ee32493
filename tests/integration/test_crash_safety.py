"""SIGKILL `provisioner apply` between Graph writes, then re-run: the tenant converges, nothing is doubled.

The CLI runs as a subprocess against an emulator in this process; the emulator's
write counter decides when to kill (:class:`reliability_support.KillSwitch`), so
the kill points are exact and need no sleeps. After the kills, one more apply
must converge to exactly the manifests: one application and one service
principal per app, one AllPrincipals grant per client/resource pair, no
duplicate app role assignment, one live secret per declared secret, and no
orphan (a live secret whose value no sink holds: the killed run minted it and
died before delivering it; the rotation logic replaces and removes it).

A run killed after delivering an orphan's replacement but before removing the
orphan leaves an unheld secret older than the held one; the state dir's delivery
journal (``delivered.json``) shows it was never delivered, so the next run removes
it at once instead of treating it as a rotation's predecessor. The test asserts
that everything is settled after one more apply, without moving the clock.

The kill chain runs on one tenant (each kill leaves its debris for the next
run), which is stricter than independent kills. ``make chaos`` runs the heavy
variant: every kill point on its own tenant, with faults injected.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    SCENARIO_APPS,
    apply_killed_after,
    cli_env,
    copy_scenarios,
    fresh_tenant,
    install_kill_switch,
    inventory,
    lost_values,
    orphans,
    run_cli,
    write_requests,
)

pytestmark = pytest.mark.slow

# Writes after which each run of the chain is killed (relative to its start): the first run dies
# among the application upserts, the later ones among consent, secrets and orphan repair.
KILL_POINTS = (3, 9, 5)


def assert_converged(emulator: Any, tenant_id: str, state_dir: Path, manifests: Path) -> None:
    """One of everything; every declared secret's value in its connection file; no orphan secret."""
    inv = inventory(emulator, tenant_id)
    assert set(inv.apps) == SCENARIO_APPS, inv.apps
    duplicates = inv.duplicates()
    assert not duplicates, duplicates
    for app in SCENARIO_APPS:
        assert inv.sps[inv.app_ids[app]] == 1, f"{app}: service principal missing"
    assert not lost_values(emulator, tenant_id, state_dir, manifests), "a declared secret has no value"
    lost = orphans(emulator, tenant_id, state_dir)
    assert not lost, f"live secrets no sink holds: {lost}"


def test_apply_killed_at_write_points_then_rerun_converges(tmp_emulator: Any, tmp_path: Path) -> None:
    from provisioner.emulator.faults import FaultConfig

    tenant = fresh_tenant(tmp_emulator)
    env = cli_env(tmp_emulator, tenant)
    manifests = copy_scenarios(tmp_path)
    switch = install_kill_switch(tmp_emulator)
    tmp_emulator.ctx.faults = FaultConfig(latency_ms=2)  # keeps requests interleaving across apps

    for writes in KILL_POINTS:
        before = write_requests(tmp_emulator, tenant.tenant_id)
        proc = apply_killed_after(
            switch, writes, tenant_id=tenant.tenant_id, manifests=manifests, cwd=tmp_path, env=env
        )
        assert proc.returncode == -signal.SIGKILL, f"not killed after {writes} writes:\n{proc.stderr}"
        assert write_requests(tmp_emulator, tenant.tenant_id) - before >= writes

    final = run_cli("apply", str(manifests), "--yes", cwd=tmp_path, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    again = run_cli("plan", str(manifests), "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    state_dir = tmp_path / ".provisioner"
    assert_converged(tmp_emulator, tenant.tenant_id, state_dir, manifests)

    tmp_emulator.ctx.clock.advance(8 * 86400)  # past every declared overlap
    settled = run_cli("apply", str(manifests), "--yes", cwd=tmp_path, env=env)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert_converged(tmp_emulator, tenant.tenant_id, state_dir, manifests)
