"""Tenant credential policies: plan refuses, before any write, the secrets Entra would refuse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from direct_graph import DirectGraph, cli_env, ok, run_cli

pytestmark = pytest.mark.slow

DEFAULT_POLICY = "00000000-0000-0000-0000-000000000000"


def _manifest(expires_in: str, name: str = "capped") -> str:
    return (
        "version: 1\napps:\n"
        f"  - name: {name}\n    display_name: {name}\n"
        f"    secrets:\n      - name: main\n        expires_in: {expires_in}\n"
    )


def test_secret_lifetime_cap_and_blocked_passwords(tmp_emulator: Any, tmp_path: Path) -> None:
    from datetime import datetime

    emulator = tmp_emulator  # private: the tenant-wide policy must not reach other tests
    tenant = emulator.tenant
    graph = DirectGraph(emulator, tenant)
    env = cli_env(emulator, tenant)
    cap = {
        "isEnabled": True,
        "applicationRestrictions": {
            "passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P90D"}]
        },
    }
    graph.ok("PATCH", "/policies/defaultAppManagementPolicy", cap)
    try:
        (tmp_path / "long.yaml").write_text(_manifest("180d"))
        refused = run_cli("plan", "long.yaml", cwd=tmp_path, env=env)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        lines = [line for line in refused.stderr.splitlines() if "P90D" in line]
        assert len(lines) == 1, refused.stderr
        assert DEFAULT_POLICY in lines[0] and "expires_in: 90d" in lines[0] and "certificate" in lines[0]
        assert "Traceback" not in refused.stderr
        applied = run_cli("apply", "long.yaml", "--yes", cwd=tmp_path, env=env)
        assert applied.returncode != 0
        assert graph.call("GET", "/applications(uniqueName='capped')").status_code == 404  # nothing written

        (tmp_path / "max.yaml").write_text(_manifest("max"))
        ok(run_cli("apply", "max.yaml", "--yes", cwd=tmp_path, env=env))
        app = graph.ok("GET", "/applications(uniqueName='capped')")
        (secret,) = app["passwordCredentials"]
        start = datetime.fromisoformat(secret["startDateTime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(secret["endDateTime"].replace("Z", "+00:00"))
        assert timedelta(days=89) < end - start <= timedelta(days=90)
        quiet = run_cli("plan", "max.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
        assert quiet.returncode == 0, quiet.stdout + quiet.stderr

        # -- a policy applied to the app blocks passwords: a new secret is refused, naming the policy
        policy = graph.ok(
            "POST",
            "/policies/appManagementPolicies",
            {
                "displayName": "certificates only",
                "isEnabled": True,
                "restrictions": {"passwordCredentials": [{"restrictionType": "passwordAddition"}]},
            },
        )
        ref = {"@odata.id": f"{emulator.graph_url}/policies/appManagementPolicies/{policy['id']}"}
        graph.ok("POST", f"/applications/{app['id']}/appManagementPolicies/$ref", ref)
        (tmp_path / "two.yaml").write_text(
            _manifest("max") + "      - name: second\n        expires_in: 60d\n"
        )
        blocked = run_cli("plan", "two.yaml", cwd=tmp_path, env=env)
        assert blocked.returncode == 1, blocked.stderr
        (line,) = [x for x in blocked.stderr.splitlines() if "passwordAddition" in x] or [blocked.stderr]
        assert "'certificates only'" in line and "'second'" in line
        graph.ok("DELETE", f"/applications/{app['id']}/appManagementPolicies/{policy['id']}/$ref")
        ok(run_cli("destroy", "max.yaml", "--yes", cwd=tmp_path, env=env))
    finally:
        graph.ok("PATCH", "/policies/defaultAppManagementPolicy", {"isEnabled": False})
