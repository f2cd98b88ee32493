"""Random sequences of apply / rotate / destroy / restore over two tenants sharing one folder.

Hypothesis draws the steps, with sinks that break and heal and runs killed between Graph
writes; after every step the two promises are checked against what Graph lists:

* every secret a sink holds is valid in Entra (nothing delivered was removed early);
* every valid secret in Entra is held by a sink, or is a delivered predecessor inside its
  overlap (nothing minted is left unheld).

The second promise is the tool's to keep when it runs, so it is checked for a tenant right
after a run of the tool in that tenant completed: a run killed after ``addPassword`` leaves
a secret nobody holds until the next run repairs it, and time passing with no run leaves a
predecessor past its overlap until the next run retires it. An app whose sink is broken keeps
every secret (an unreadable sink might hold one), so it is exempt from the second promise
while broken. ``destroy`` leaves its apps' values in place (restore brings them back): until
an apply completes, a recreated app's sinks still hold the deleted app's secrets, so it is
exempt from the first promise meanwhile.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import apply_killed_after, cli_env, fresh_tenant, install_kill_switch

pytestmark = pytest.mark.slow

APPS = ("alpha", "beta")
OVERLAP = timedelta(days=7)
MANIFEST = """\
version: 1
apps:
""" + "".join(
    f"""  - name: {name}
    display_name: {name.title()}
    audience: single-tenant
    secrets:
      - name: main
        expires_in: 90d
        rotate_before: 20d
        overlap: 7d
    sinks:
      - type: json
        path: out/{name}.json
"""
    for name in APPS
)

STEP = st.one_of(
    st.tuples(st.just("apply"), st.integers(0, 1)),
    st.tuples(st.just("rotate"), st.integers(0, 1)),
    st.tuples(st.just("destroy"), st.integers(0, 1)),
    st.tuples(st.just("restore"), st.integers(0, 1)),
    st.tuples(st.just("kill"), st.integers(0, 1), st.integers(1, 6)),
    st.tuples(st.just("break"), st.sampled_from(APPS)),
    st.tuples(st.just("heal"), st.sampled_from(APPS)),
    st.tuples(st.just("wait"), st.integers(1, 10)),
)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass
class World:
    emulator: Any
    folder: Path
    tenants: list[Any]
    envs: list[dict[str, str]]
    switch: Any
    destroyed: list[set[str]] = field(default_factory=lambda: [set(), set()])
    #: Apps whose sinks still hold a deleted registration's values (destroyed, not yet re-applied).
    stale: list[set[str]] = field(default_factory=lambda: [set(), set()])

    def run(self, *args: str, tenant: int) -> Any:
        return run_cli(*args, cwd=self.folder, env=self.envs[tenant], timeout=300)

    def held(self, tenant: int) -> dict[str, set[str]]:
        """keyIds (lower case) each app's sinks hold in this tenant: its connection file and its json sink."""
        tid = self.tenants[tenant].tenant_id.lower()
        out: dict[str, set[str]] = {}
        for app in APPS:
            keys: set[str] = set()
            for path in [*self.folder.glob(f".provisioner/tenants/*/{tid}/connections/{app}.json")]:
                keys |= _held(path)
            sink = self.folder / "out" / f"{app}.json"
            if sink.is_file():
                values = _values(sink)
                if values and str(values.get("tenant_id", "")).lower() == tid:
                    keys |= _held(sink)
            out[app] = keys
        return out

    def secrets(self, tenant: int) -> dict[str, list[dict[str, Any]]]:
        """Live password credentials per existing (not deleted) app."""
        now = self.emulator.ctx.clock.now().astimezone(UTC)
        out: dict[str, list[dict[str, Any]]] = {}
        for app in self.emulator.ctx.store.list(self.tenants[tenant].tenant_id, "applications"):
            name = app.get("uniqueName")
            if name not in APPS:
                continue
            creds = [
                c for c in app.get("passwordCredentials") or [] if (_time(c.get("endDateTime")) or now) > now
            ]
            out[name] = creds
        return out

    def broken(self, app: str) -> bool:
        sink = self.folder / "out" / f"{app}.json"
        return sink.exists() and _values(sink) is None

    def check(self, ran: set[int]) -> None:
        """Both promises; the second only for tenants in ``ran`` (a run of the tool completed there)."""
        now = self.emulator.ctx.clock.now().astimezone(UTC)
        for tenant in (0, 1):
            held, live = self.held(tenant), self.secrets(tenant)
            for app in APPS:
                live_ids = {str(c["keyId"]).lower() for c in live.get(app, [])}
                if app in live and app not in self.stale[tenant]:  # what a sink holds is valid in Entra
                    assert held[app] <= live_ids, (tenant, app, held[app], live_ids)
                if tenant not in ran or app not in live or self.broken(app):
                    continue
                current = [c for c in live[app] if str(c["keyId"]).lower() in held[app]]
                newest = max((_time(c["startDateTime"]) for c in current), default=None)
                for cred in live[app]:
                    key = str(cred["keyId"]).lower()
                    if key in held[app]:
                        continue
                    start = _time(cred["startDateTime"])
                    assert newest is not None and start is not None and start <= newest, (
                        f"tenant {tenant} app {app}: live secret {key} nobody holds"
                    )
                    assert now < newest + OVERLAP, f"tenant {tenant} app {app}: {key} kept past its overlap"


def _values(path: Path) -> dict[str, Any] | None:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None


def _held(path: Path) -> set[str]:
    values = _values(path) or {}
    keys = {str(s.get("key_id")).lower() for s in values.get("secrets") or [] if s.get("value")}
    if values.get("client_secret") and values.get("client_secret_id"):
        keys.add(str(values["client_secret_id"]).lower())
    return keys


def step(world: World, action: tuple[Any, ...]) -> set[int]:
    """Run one drawn step; the tenants in which a run of the tool completed."""
    kind = action[0]
    if kind == "apply":
        tenant = action[1]
        world.destroyed[tenant].clear()
        if world.run("apply", "m", "--yes", tenant=tenant).returncode in (0, 1):
            world.stale[tenant] = {app for app in world.stale[tenant] if world.broken(app)}
            return {tenant}
    elif kind == "rotate":
        if world.run("rotate", "m", "--yes", "--force", tenant=action[1]).returncode in (0, 1, 3):
            return {action[1]}
    elif kind == "destroy":
        if world.run("destroy", "m", "--yes", tenant=action[1]).returncode == 0:
            world.destroyed[action[1]] = set(APPS)
            world.stale[action[1]] = set(APPS)
    elif kind == "restore":
        for app in sorted(world.destroyed[action[1]]):
            world.run("restore", "--name", app, tenant=action[1])
            world.stale[action[1]].discard(app)
        world.destroyed[action[1]].clear()
    elif kind == "kill":
        _, tenant, writes = action
        apply_killed_after(
            world.switch,
            writes,
            tenant_id=world.tenants[tenant].tenant_id,
            manifests=world.folder / "m",
            cwd=world.folder,
            env=world.envs[tenant],
        )
        world.destroyed[tenant].clear()  # a killed apply may have created the apps anew
    elif kind == "break":
        sink = world.folder / "out" / f"{action[1]}.json"
        if sink.is_file():
            sink.write_text("{ not json")
    elif kind == "heal":
        sink = world.folder / "out" / f"{action[1]}.json"
        if sink.is_file() and _values(sink) is None:
            sink.unlink()
    elif kind == "wait":
        world.emulator.ctx.clock.advance(action[1] * 86400)
    return set()


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=3, max_size=7))
def test_random_runs_over_two_tenants_keep_both_promises(
    tmp_emulator: Any, steps: list[tuple[Any, ...]]
) -> None:
    switch = install_kill_switch(tmp_emulator)
    folder = Path(tempfile.mkdtemp(prefix="invariants-"))
    try:
        (folder / "m").mkdir()
        (folder / "m" / "apps.yaml").write_text(MANIFEST)
        tenants = [fresh_tenant(tmp_emulator), fresh_tenant(tmp_emulator)]
        world = World(tmp_emulator, folder, tenants, [cli_env(tmp_emulator, t) for t in tenants], switch)
        for action in [("apply", 0), ("apply", 1), *steps, ("apply", 0), ("apply", 1)]:
            world.check(step(world, action))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
