"""Adopt what exists: a registration made directly through Graph is exported, re-planned with no changes,
adopted, changed through the manifest, destroyed, restored and purged - all through the real CLI.

The emulator runs in the test process (``tmp_emulator``); each CLI subprocess reaches it through the
environment ``provisioner emulator serve`` prints, so test and CLI see one tenant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from direct_graph import DirectGraph, cli_env, ok, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture()
def graph(tmp_emulator: Any) -> DirectGraph:
    return DirectGraph(tmp_emulator, tmp_emulator.tenant)


@pytest.fixture()
def env(tmp_emulator: Any) -> dict[str, str]:
    return cli_env(tmp_emulator, tmp_emulator.tenant)


def test_export_plan_adopt_change_destroy_restore_purge(
    graph: DirectGraph, env: dict[str, str], tmp_path: Path
) -> None:
    legacy = graph.create_legacy_app(
        "Legacy Portal", delegated=["User.Read", "Mail.Send"], application=["User.Read.All"]
    )
    secret_before = legacy["passwordCredentials"][0]["keyId"]

    # -- export: valid manifest, adopts by appId, never a secret value
    exported = ok(run_cli("export", "--app-id", legacy["appId"], "--out", "manifests", cwd=tmp_path, env=env))
    path = tmp_path / "manifests" / "legacy-portal.yaml"
    assert "wrote manifests/legacy-portal.yaml" in exported.stderr
    text = path.read_text()
    data = yaml.safe_load(text)
    (app,) = data["apps"]
    assert app["name"] == "legacy-portal" and app["app_id"] == legacy["appId"]
    assert app["redirect_uris"] == {
        "web": ["https://legacy.example.com/signin-oidc"],
        "spa": ["https://legacy.example.com/spa"],
        "public_client": ["http://localhost/"],  # as Graph stores it
    }
    assert app["implicit_grant"] == {"id_tokens": True}
    assert app["allow_public_client_flows"] is True
    assert app["permissions"] == {
        "Microsoft Graph": {"delegated": ["Mail.Send", "User.Read"], "application": ["User.Read.All"]}
    }
    assert app["admin_consent"] is True
    assert app["tags"] == ["team:legacy"]
    assert "secrets" not in app, "an adopted app's secrets are comments: declaring them would mint"
    assert "'ops'" in text and secret_before in text  # metadata as a comment
    ok(run_cli("validate", "manifests", cwd=tmp_path, env=env))

    # -- round trip: nothing to change
    again = run_cli("plan", "manifests", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout

    # -- adopted and changed through the manifest: same registration, PATCHed, not tagged as owned
    path.write_text(
        text.replace(
            "- https://legacy.example.com/spa",
            "- https://legacy.example.com/spa\n        - https://legacy.example.com/spa2",
        )
    )
    plan = json.loads(ok(run_cli("plan", "manifests", "--json", cwd=tmp_path, env=env)).stdout)
    assert [a["kind"] for a in plan["actions"]] == ["update_app"], plan
    ok(run_cli("apply", "manifests", "--yes", cwd=tmp_path, env=env))
    (after,) = graph.apps_named("Legacy Portal")
    assert after["id"] == legacy["id"]
    assert sorted(after["spa"]["redirectUris"]) == [
        "https://legacy.example.com/spa",
        "https://legacy.example.com/spa2",
    ]
    assert "provisioner:managed" not in after["tags"]
    assert [c["keyId"] for c in after["passwordCredentials"]] == [secret_before], "pre-existing secret kept"
    assert ok(run_cli("plan", "manifests", "--detailed-exitcode", cwd=tmp_path, env=env)).returncode == 0

    # -- destroy (soft), restore, destroy --purge
    destroyed = json.loads(
        ok(run_cli("destroy", "manifests", "--yes", "--json", cwd=tmp_path, env=env)).stdout
    )
    assert [d["app_id"] for d in destroyed["destroyed"]] == [legacy["appId"]]
    assert graph.call("GET", f"/applications/{legacy['id']}").status_code == 404
    assert legacy["id"] in graph.deleted_ids()

    restored = ok(run_cli("restore", "--app-id", legacy["appId"], cwd=tmp_path, env=env))
    assert "restored" in restored.stdout
    assert graph.ok("GET", f"/applications/{legacy['id']}")["appId"] == legacy["appId"]

    purged = ok(run_cli("destroy", "manifests", "--yes", "--purge", cwd=tmp_path, env=env))
    assert "deleted and purged" in purged.stdout
    assert legacy["id"] not in graph.deleted_ids()
    gone = run_cli("restore", "--app-id", legacy["appId"], cwd=tmp_path, env=env)
    assert gone.returncode == 1 and "no deleted application" in gone.stderr


def test_adopt_by_display_name_warns_and_ambiguity_is_located(
    graph: DirectGraph, env: dict[str, str], tmp_path: Path
) -> None:
    first = graph.create_legacy_app("Shared Name", delegated=["User.Read"], application=[], consent=False)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apps:\n"
        "  - name: shared\n"
        "    display_name: Shared Name\n"
        "    adopt: true\n"
        "    redirect_uris:\n"
        "      web: [https://legacy.example.com/signin-oidc]\n"
    )
    planned = ok(run_cli("plan", str(manifest), cwd=tmp_path, env=env))
    assert f"app_id: {first['appId']}" in planned.stderr, planned.stderr
    assert "app.yaml:4" in planned.stderr  # the warning points at `adopt:`
    assert "create application" not in planned.stdout

    second = graph.create_legacy_app("Shared Name", delegated=["User.Read"], application=[], consent=False)
    ambiguous = run_cli("plan", str(manifest), cwd=tmp_path, env=env)
    assert ambiguous.returncode == 1
    line = next(li for li in ambiguous.stderr.splitlines() if li.startswith("error:"))
    assert "app.yaml:4" in line
    assert first["appId"] in line and second["appId"] in line and "set app_id" in line
