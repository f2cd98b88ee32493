"""Two `apply` runs of the same manifests at once: one object per app, consistent grants, no lost secret.

Both runs are released only once *both* have planned against the same (empty)
tenant state (a barrier in the approval callback), so every create races for
real. Two cases:

* same state directory (two jobs on one runner): the apply lock serialises
  them; the second waits, re-plans and finds nothing to do, so exactly one
  secret is minted per declared secret;
* different state directories (two machines): nothing serialises them. Graph's
  uniqueName upsert keeps one application and one service principal per app,
  the consent helpers resolve "already exists", and each run holds the secret
  it minted. A follow-up run from one directory removes the secret it does
  not hold (the rotation logic's orphan/predecessor handling) once allowed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import engine_support
import pytest
from reliability_support import cli_env, copy_scenarios, fresh_tenant, held_key_ids, inventory, orphans

SUBSET = ("02-outlook-etl", "03-logistics-app")  # one delegated + one application-permission app
APPS = {"outlook-etl", "logistics-ops"}


def _apply(manifests: Path, state_dir: Path, base_dir: Path, approve: Any) -> Any:
    return engine_support.apply(manifests, state_dir, base_dir, approve=approve)


def _race(manifests: Path, dirs: list[tuple[Path, Path]], *, barrier: bool) -> list[Any]:
    """Run one apply per (state_dir, base_dir) in threads; return outcomes or exceptions."""
    gate = threading.Barrier(len(dirs), timeout=120)
    planned: list[int] = []

    def approve(plan: Any) -> bool:
        planned.append(len(plan.actions))
        if barrier:
            gate.wait()
        return True

    results: list[Any] = [None] * len(dirs)

    def run(index: int) -> None:
        state_dir, base_dir = dirs[index]
        try:
            results[index] = _apply(manifests, state_dir, base_dir, approve)
        except Exception as exc:  # reported by the assertions below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(dirs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return results


def tenant_in_environment(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh tenant whose admin credentials the in-process workflow reads from the environment."""
    tenant = fresh_tenant(emulator)
    for key, value in cli_env(emulator, tenant).items():
        monkeypatch.setenv(key, value)
    return tenant


def test_same_state_dir_runs_are_serialised(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = tenant_in_environment(emulator, monkeypatch)
    manifests = copy_scenarios(tmp_path, SUBSET)
    state_dir = tmp_path / ".provisioner"

    results = _race(manifests, [(state_dir, tmp_path), (state_dir, tmp_path)], barrier=False)
    assert not [r for r in results if isinstance(r, BaseException)], results
    done = sorted(r.actions_done for r in results)
    assert done[0] == 0, f"the second run should find nothing to do, did {done}"

    inv = inventory(emulator, tenant.tenant_id)
    assert set(inv.apps) == APPS and not inv.duplicates(), inv.duplicates()
    assert not orphans(emulator, tenant.tenant_id, state_dir)


def test_different_state_dirs_race_on_graph_and_converge(
    tmp_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    tenant = tenant_in_environment(tmp_emulator, monkeypatch)
    manifests = copy_scenarios(tmp_path, SUBSET)
    machines = [(tmp_path / f"m{i}" / ".provisioner", tmp_path / f"m{i}") for i in (1, 2)]

    results = _race(manifests, machines, barrier=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(r.actions_done > 0 for r in results), "both runs planned and applied the full manifest"

    inv = inventory(tmp_emulator, tenant.tenant_id)
    assert set(inv.apps) == APPS
    others = [d for d in inv.duplicates() if not d.startswith("secret ")]
    assert not others, others  # one application, service principal, grant, assignment each
    for app in APPS:
        for state_dir, _ in machines:  # each machine holds a live secret it minted: nothing lost
            assert held_key_ids(state_dir, app) & inv.secret_ids[app], (app, state_dir)

    # Machine 1 carries on alone. A secret it does not hold is removed once no longer protected
    # (an orphan at once, a possible predecessor after its overlap): move time past the overlap.
    state_dir, base_dir = machines[0]
    tmp_emulator.ctx.clock.advance(8 * 86400)
    for _ in range(2):
        engine_support.apply(manifests, state_dir, base_dir)
    final = inventory(tmp_emulator, tenant.tenant_id)
    assert not final.duplicates(), final.duplicates()
    assert not orphans(tmp_emulator, tenant.tenant_id, state_dir)
    again = engine_support.plan(manifests, state_dir)
    assert again.plan.is_empty, [a.summary for a in again.plan.actions]
