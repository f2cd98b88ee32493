"""Changes made behind the tool's back (portal, scripts) show up as drift in `plan` and `apply` undoes them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from direct_graph import DirectGraph, cli_env, ok, run_cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_drift_is_planned_and_converged(tmp_emulator: Any, tmp_path: Path) -> None:
    graph = DirectGraph(tmp_emulator, tmp_emulator.tenant)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    shutil.copy(REPO / "manifests" / "01-exchange-connector.yaml", tmp_path / "m.yaml")
    ok(run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env))

    app = graph.ok("GET", "/applications(uniqueName='exchange-connector')")
    extra = "https://attacker.example.com/steal"
    graph.ok(
        "PATCH", f"/applications/{app['id']}", {"web": {"redirectUris": [*app["web"]["redirectUris"], extra]}}
    )
    sp = graph.ok("GET", f"/servicePrincipals(appId='{app['appId']}')")
    grant = graph.ok("GET", f"/oauth2PermissionGrants?$filter=clientId eq '{sp['id']}'")["value"][0]
    graph.ok("PATCH", f"/oauth2PermissionGrants/{grant['id']}", {"scope": "User.Read"})  # consent narrowed

    drift = run_cli("plan", "m.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert f"-{extra}" in drift.stdout.replace(" ", "")
    assert "Mail.Send" in drift.stdout  # the grant is widened back to the manifest's scopes
    assert "create application" not in drift.stdout and "mint secret" not in drift.stdout

    ok(run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env))
    converged = graph.ok("GET", f"/applications/{app['id']}")
    assert extra not in converged["web"]["redirectUris"]
    scopes = set(graph.ok("GET", f"/oauth2PermissionGrants/{grant['id']}")["scope"].split())
    assert {"Mail.Send", "Mail.ReadWrite", "offline_access", "User.Read"} <= scopes
    again = run_cli("plan", "m.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
