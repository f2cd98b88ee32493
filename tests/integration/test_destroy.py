"""destroy / restore / --prune through the real CLI: only owned apps go, connection files follow them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import connections_dir
from direct_graph import DirectGraph, cli_env, ok, run_cli

pytestmark = pytest.mark.slow


def manifest(name: str) -> str:
    return (
        "apps:\n"
        f"  - name: {name}\n"
        f"    display_name: {name.title()} service\n"
        "    permissions:\n"
        "      Microsoft Graph:\n"
        "        application: [User.Read.All]\n"
        "    admin_consent: true\n"
        "    secrets:\n"
        "      - name: default\n"
    )


def test_prune_destroy_restore(tmp_emulator: Any, tmp_path: Path) -> None:
    graph = DirectGraph(tmp_emulator, tmp_emulator.tenant)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    (tmp_path / "m").mkdir()
    for name in ("alpha", "beta"):
        (tmp_path / "m" / f"{name}.yaml").write_text(manifest(name))
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    connections = connections_dir(tmp_path / ".provisioner")
    assert {p.name for p in connections.glob("*.json")} == {"alpha.json", "beta.json"}
    # Same uniqueName as a manifest entry, made by someone else (no ownership tag): never destroyed.
    foreign = graph.ok("POST", "/applications", {"displayName": "Gamma", "uniqueName": "gamma"})
    (tmp_path / "foreign.yaml").write_text(manifest("gamma"))

    # -- prune: beta is managed but only alpha is declared now
    (tmp_path / "m" / "beta.yaml").unlink()
    planned = json.loads(ok(run_cli("plan", "m", "--prune", "--json", cwd=tmp_path, env=env)).stdout)
    deletes = [a for a in planned["actions"] if a["kind"] == "delete_app"]
    assert [a["app"] for a in deletes] == ["beta"], planned  # not gamma (untagged), not the bootstrap app
    text = ok(run_cli("apply", "m", "--prune", "--yes", cwd=tmp_path, env=env)).stdout
    assert "- delete application beta" in text and "1 to remove" in text
    assert graph.apps_named("Beta service") == []
    assert (connections / "beta.json").exists(), (
        "soft-deleted: its secret is restorable, so its value is kept"
    )
    assert (connections / "alpha.json").exists()

    # -- destroy skips what it does not own
    skipped = json.loads(
        ok(run_cli("destroy", "foreign.yaml", "--yes", "--json", cwd=tmp_path, env=env)).stdout
    )
    assert skipped["destroyed"] == [] and skipped["skipped"][0]["app"] == "gamma"
    assert "not tagged provisioner:managed" in skipped["skipped"][0]["reason"]
    assert graph.call("GET", f"/applications/{foreign['id']}").status_code == 200

    # -- destroy (soft): app and service principal go; the connection file stays (restore brings the secret back)
    (alpha,) = graph.apps_named("Alpha service")
    done = json.loads(ok(run_cli("destroy", "m", "--yes", "--json", cwd=tmp_path, env=env)).stdout)
    assert [d["app"] for d in done["destroyed"]] == ["alpha"] and not done["destroyed"][0]["purged"]
    assert done["connection_files_removed"] == []
    kept = json.loads((connections / "alpha.json").read_text())
    sps = graph.ok("GET", f"/servicePrincipals?$filter=appId eq '{alpha['appId']}'")["value"]
    assert sps == [], "Entra deletes the service principal with the application"
    assert alpha["id"] in graph.deleted_ids()

    # -- restore by name, then apply recreates the service principal, consent and a held secret
    ok(run_cli("restore", "--name", "alpha", cwd=tmp_path, env=env))
    applied = json.loads(ok(run_cli("apply", "m", "--yes", "--json", cwd=tmp_path, env=env)).stdout)
    kinds = {a["kind"] for a in applied["changes"]["actions"]}
    assert {"create_service_principal", "assign_app_role"} <= kinds and "mint_secret" not in kinds, kinds
    (again,) = graph.apps_named("Alpha service")
    assert again["appId"] == alpha["appId"], "the restored registration, not a new one"
    assert json.loads((connections / "alpha.json").read_text())["client_secret"] == kept["client_secret"]
    assert ok(run_cli("plan", "m", "--detailed-exitcode", cwd=tmp_path, env=env)).returncode == 0

    # -- destroy --purge --app: gone for good
    ok(run_cli("destroy", "m", "--app", "alpha", "--purge", "--yes", cwd=tmp_path, env=env))
    assert alpha["id"] not in graph.deleted_ids()
    assert not (connections / "alpha.json").exists(), "purged: the connection file goes too"
    unknown = run_cli("destroy", "m", "--app", "nope", "--yes", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "--app nope" in unknown.stderr
