"""Federated identity credentials through the real CLI: created, drift planned and converged, exported, pruned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from direct_graph import DirectGraph, cli_env, ok, run_cli

pytestmark = pytest.mark.slow

MANIFEST = """\
version: 1
apps:
  - name: ci-deployer
    display_name: CI deployer
    federated_credentials:
      - name: github-production
        description: deploy jobs of the production environment
        github:
          repository: contoso/infra
          environment: production
      - name: github-main
        github:
          repository: contoso/infra
          branch: main
      - name: aks-workload
        kubernetes:
          issuer: https://oidc.aks.example.com/cluster-1/
          namespace: payments
          service_account: api
"""


def _fics(graph: DirectGraph, object_id: str) -> dict[str, dict[str, Any]]:
    items = graph.ok("GET", f"/applications/{object_id}/federatedIdentityCredentials")["value"]
    return {f["name"]: f for f in items}


def test_github_actions_credential_lifecycle(emulator: Any, tmp_path: Path) -> None:
    graph = DirectGraph(emulator, emulator.tenant)
    env = cli_env(emulator, emulator.tenant)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    planned = ok(run_cli("plan", "m.yaml", cwd=tmp_path, env=env))
    assert "create federated credential 'github-production'" in planned.stdout
    ok(run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env))

    app = graph.ok("GET", "/applications(uniqueName='ci-deployer')")
    fics = _fics(graph, app["id"])
    assert fics["github-production"]["issuer"] == "https://token.actions.githubusercontent.com"
    assert fics["github-production"]["subject"] == "repo:contoso/infra:environment:production"
    assert fics["github-production"]["audiences"] == ["api://AzureADTokenExchange"]
    assert fics["github-main"]["subject"] == "repo:contoso/infra:ref:refs/heads/main"
    assert fics["aks-workload"]["subject"] == "system:serviceaccount:payments:api"
    quiet = run_cli("plan", "m.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr

    # -- drift: a subject widened in the portal, an extra credential added behind the tool's back
    fic = fics["github-production"]
    graph.ok(
        "PATCH",
        f"/applications/{app['id']}/federatedIdentityCredentials/{fic['id']}",
        {"subject": "repo:contoso/infra:ref:refs/heads/attacker"},
    )
    graph.ok(
        "POST",
        f"/applications/{app['id']}/federatedIdentityCredentials",
        {
            "name": "backdoor",
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:evil/fork:ref:refs/heads/main",
            "audiences": ["api://AzureADTokenExchange"],
        },
    )
    drift = run_cli("plan", "m.yaml", "--detailed-exitcode", "--json", cwd=tmp_path, env=env)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    kinds = {(a["kind"], a["details"]["name"]) for a in json.loads(drift.stdout)["actions"]}
    assert kinds == {
        ("update_federated_credential", "github-production"),
        ("remove_federated_credential", "backdoor"),
    }
    ok(run_cli("apply", "m.yaml", "--yes", cwd=tmp_path, env=env))
    fics = _fics(graph, app["id"])
    assert set(fics) == {"github-production", "github-main", "aks-workload"}
    assert fics["github-production"]["subject"] == "repo:contoso/infra:environment:production"
    again = run_cli("plan", "m.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr

    # -- export round-trips: the exported manifest plans no change and names the GitHub environment
    exported = ok(run_cli("export", "--app-id", app["appId"], "--out", "out", cwd=tmp_path, env=env))
    text = (tmp_path / "out" / "ci-deployer.yaml").read_text()
    assert "environment: production" in text and "service_account: api" in text, exported.stderr
    round_trip = run_cli("plan", "out/ci-deployer.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert round_trip.returncode == 0, round_trip.stdout + round_trip.stderr

    # -- an empty list removes them all; leaving the key out leaves them alone
    (tmp_path / "none.yaml").write_text(MANIFEST.split("    federated_credentials:")[0])
    untouched = run_cli("plan", "none.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    (tmp_path / "empty.yaml").write_text(
        MANIFEST.split("    federated_credentials:")[0] + "    federated_credentials: []\n"
    )
    ok(run_cli("apply", "empty.yaml", "--yes", cwd=tmp_path, env=env))
    assert _fics(graph, app["id"]) == {}
    ok(run_cli("destroy", "empty.yaml", "--yes", cwd=tmp_path, env=env))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "github: {repository: contoso/infra, environment: prod, branch: main}",
            "exactly one of environment",
        ),
        ("github: {repository: infra}", "must be owner/name"),
        ("issuer: http://plain.example.com\n        subject: x", "https:// URL"),
        ("issuer: https://i.example.com\n        subject: " + "s" * 601, "600"),
        ("kubernetes: {issuer: https://k.example.com, namespace: Bad_NS, service_account: a}", "Kubernetes"),
    ],
)
def test_federated_entries_are_checked_offline(tmp_path: Path, entry: str, message: str) -> None:
    text = (
        "version: 1\napps:\n  - name: a\n    display_name: A\n    federated_credentials:\n"
        f"      - name: one\n        {entry}\n"
    )
    (tmp_path / "m.yaml").write_text(text)
    proc = run_cli("validate", "m.yaml", cwd=tmp_path)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "m.yaml:" in proc.stdout + proc.stderr


def test_federated_limits_per_app_are_checked_offline(tmp_path: Path) -> None:
    entries = "".join(
        f"      - name: c{i}\n        github: {{repository: o/r, environment: e{i}}}\n" for i in range(21)
    )
    (tmp_path / "many.yaml").write_text(
        "version: 1\napps:\n  - name: a\n    display_name: A\n    federated_credentials:\n" + entries
    )
    many = run_cli("validate", "many.yaml", cwd=tmp_path)
    assert many.returncode != 0 and "at most 20" in many.stdout + many.stderr
    twice = (
        "      - name: one\n        github: {repository: o/r, branch: main}\n"
        "      - name: two\n        issuer: https://token.actions.githubusercontent.com\n"
        "        subject: repo:o/r:ref:refs/heads/main\n"
    )
    (tmp_path / "twice.yaml").write_text(
        "version: 1\napps:\n  - name: a\n    display_name: A\n    federated_credentials:\n" + twice
    )
    dup = run_cli("validate", "twice.yaml", cwd=tmp_path)
    assert dup.returncode != 0 and "same issuer and subject" in dup.stdout + dup.stderr
