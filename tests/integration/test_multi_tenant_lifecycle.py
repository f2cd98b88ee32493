"""``rotate`` and ``status`` with ``--tenants``: one emulator hosting two tenants, the real CLI.

Covers the fan-out's report (JSON keyed by tenant name) and its exit codes:
rotate 3 with ``--detailed-exitcode`` when any tenant rotated and 1 when any
tenant failed (that wins); status 4 when any tenant is unhealthy, 1 when one
failed. Each tenant keeps its values in ``<state_dir>/tenants/<cloud>/<tenant id>/connections/``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import base_env, connection_file, ok, run_cli, tenant_env

pytestmark = pytest.mark.slow

APP = "fanout-rotor"
MANIFEST = f"""\
apps:
  - name: {APP}
    display_name: Fan-out rotor
    secrets:
      - name: default
        expires_in: 90d
        rotate_before: 10d
"""


def _second_tenant(emulator: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{emulator.base_url}/_emulator/tenants",
        json={"tenant_id": str(uuid.uuid4())},
        headers=emulator.admin_headers(),
        verify=str(emulator.ca_cert_path),
        timeout=30,
    )
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


@pytest.fixture
def fanout(tmp_emulator: Any, tmp_path: Path) -> dict[str, Any]:
    """Manifests, a tenants file (north, south) and a CLI environment holding both tenants' secrets."""
    first = tmp_emulator.tenant
    second = _second_tenant(tmp_emulator)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "app.yaml").write_text(MANIFEST)
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - name: north\n"
        f"    tenant_id: {first.tenant_id}\n"
        "    emulator: true\n"
        f"    client_id: {first.admin_client_id}\n"
        "    client_secret_env: NORTH_SECRET\n"
        "  - name: south\n"
        f"    tenant_id: {second['tenant_id']}\n"
        "    emulator: true\n"
        f"    client_id: {second['admin_client_id']}\n"
        "    client_secret_env: SOUTH_SECRET\n"
    )
    env = {**base_env(), **tenant_env(tmp_emulator, first)}
    for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        env.pop(key)
    env["NORTH_SECRET"] = first.admin_client_secret
    env["SOUTH_SECRET"] = second["admin_client_secret"]
    return {
        "tenants": str(tenants),
        "env": env,
        "cwd": tmp_path,
        "north": first.tenant_id,
        "ids": {"north": first.tenant_id, "south": second["tenant_id"]},
    }


def _cli(fanout: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(*args, "--tenants", fanout["tenants"], cwd=fanout["cwd"], env=env or fanout["env"])


def _connection(fanout: dict[str, Any], tenant: str) -> dict[str, Any]:
    path = connection_file(fanout["cwd"] / ".provisioner", APP, fanout["ids"][tenant])
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_rotate_and_status_fan_out_over_two_tenants(fanout: dict[str, Any]) -> None:
    ok(_cli(fanout, "apply", "manifests", "--yes", "--json"))
    before = {t: _connection(fanout, t)["client_secret_id"] for t in ("north", "south")}

    healthy = ok(_cli(fanout, "status", "manifests", "--json"))
    report = json.loads(healthy.stdout)
    assert report["failed"] == [] and set(report["tenants"]) == {"north", "south"}
    for name in ("north", "south"):
        section = report["tenants"][name]
        assert section["ok"] and section["healthy"], section
        assert [a["app"] for a in section["apps"]] == [APP]

    # Nothing due: exit 0 even with --detailed-exitcode.
    idle = ok(_cli(fanout, "rotate", "manifests", "--yes", "--json", "--detailed-exitcode"))
    assert {n: s["status"] for n, s in json.loads(idle.stdout)["tenants"].items()} == {
        "north": "unchanged",
        "south": "unchanged",
    }

    forced = ok(_cli(fanout, "rotate", "manifests", "--force", "--yes", "--json", "--detailed-exitcode"), 3)
    report = json.loads(forced.stdout)
    for name in ("north", "south"):
        section = report["tenants"][name]
        assert section["status"] == "rotated", section
        (secret,) = section["secrets"]
        assert secret["status"] == "rotated" and secret["previous"]["key_id"] == before[name]
        assert "value" not in secret  # never printed unasked
        assert _connection(fanout, name)["client_secret_id"] == secret["current"]["key_id"]
        assert _connection(fanout, name)["client_secret"] not in forced.stdout

    # One tenant's credential is wrong: the other still rotates, and the exit code is 1 (not 3).
    broken = {**fanout["env"], "SOUTH_SECRET": "not-the-secret"}
    failed = ok(
        _cli(fanout, "rotate", "manifests", "--force", "--yes", "--json", "--detailed-exitcode", env=broken),
        1,
    )
    report = json.loads(failed.stdout)
    assert report["failed"] == ["south"]
    assert report["tenants"]["north"]["status"] == "rotated"
    assert not report["tenants"]["south"]["ok"] and "AADSTS7000215" in report["tenants"]["south"]["error"]
    assert "south" in failed.stderr

    status_failed = ok(_cli(fanout, "status", "manifests", "--json", env=broken), 1)
    assert json.loads(status_failed.stdout)["failed"] == ["south"]

    # North's connection file is gone: no sink holds its live secret -> unhealthy, exit 4.
    connection_file(fanout["cwd"] / ".provisioner", APP, fanout["north"]).unlink()
    unhealthy = ok(_cli(fanout, "status", "manifests", "--json"), 4)
    report = json.loads(unhealthy.stdout)
    assert report["tenants"]["north"]["healthy"] is False
    assert report["tenants"]["south"]["healthy"] is True

    text = ok(_cli(fanout, "status", "manifests"), 4)
    assert "tenant north" in text.stdout and "tenant south" in text.stdout


def test_tenant_and_tenants_exclude_each_other(fanout: dict[str, Any]) -> None:
    for command in ("rotate", "status"):
        refused = _cli(fanout, command, "manifests", "--tenant", fanout["north"])
        assert refused.returncode == 1, refused.stderr
        assert "exclude each other" in refused.stderr
