"""No live secret lost, no unheld secret left: the measured cases, through the real CLI.

Each test reads the live secrets of every app back from Graph (the emulator's store, as
an admin would see them) before and after the case, and asserts that no run added a
secret nobody holds and none removed a secret a product was given.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import connection_file, connections_dir, journal_file, ok, run_cli
from oauth_support import client_credentials_form
from reliability_support import cli_env, fresh_tenant, inventory, orphans

pytestmark = pytest.mark.slow

TWO_APPS = """\
version: 1
apps:
  - name: {first}
    display_name: First app
    audience: single-tenant
    secrets:
      - name: main
        expires_in: 90d
        rotate_before: 20d
        overlap: 7d
    sinks:
      - type: dotenv
        path: out/{first}.env
  - name: {second}
    display_name: Second app
    audience: single-tenant
    secrets:
      - name: main
        expires_in: 90d
        rotate_before: 20d
        overlap: 7d
"""


def write_manifest(folder: Path, first: str = "alpha", second: str = "beta") -> None:
    (folder / "m").mkdir(parents=True, exist_ok=True)
    (folder / "m" / "apps.yaml").write_text(TWO_APPS.format(first=first, second=second))


def live(emulator: Any, tenant_id: str) -> dict[str, set[str]]:
    """keyIds of every app's live secrets, as Graph lists them."""
    return {app: set(ids) for app, ids in inventory(emulator, tenant_id).secret_ids.items()}


def token_ok(emulator: Any, tenant_id: str, client_id: str, secret: str) -> bool:
    with httpx.Client(verify=str(emulator.ca_cert_path), timeout=30) as http:
        answer = http.post(
            f"{emulator.base_url}/{tenant_id}/oauth2/v2.0/token",
            data=client_credentials_form(client_id, secret, "https://graph.microsoft.com/.default"),
        )
    return answer.status_code == 200


def test_two_tenants_in_one_folder_keep_their_own_secrets(tmp_emulator: Any, tmp_path: Path) -> None:
    """Measured: B's apply overwrote connections/<app>.json; A's plan then removed A's delivered secret."""
    write_manifest(tmp_path)
    a, b = tmp_emulator.tenant, fresh_tenant(tmp_emulator)
    env_a, env_b = cli_env(tmp_emulator, a), cli_env(tmp_emulator, b)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env_a))
    state = tmp_path / ".provisioner"
    a_values = json.loads(connection_file(state, "alpha", a.tenant_id).read_text())
    before_a = live(tmp_emulator, a.tenant_id)

    applied_b = ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env_b))
    assert f"tenant emulator/{b.tenant_id.lower()}" in applied_b.stderr  # every run names its tenant
    assert json.loads(connection_file(state, "alpha", a.tenant_id).read_text()) == a_values
    assert json.loads(connection_file(state, "alpha", b.tenant_id).read_text())["tenant_id"] == b.tenant_id

    planned = run_cli("plan", "m", "--detailed-exitcode", cwd=tmp_path, env=env_a)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes" in planned.stdout
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env_a))
    assert live(tmp_emulator, a.tenant_id) == before_a
    assert token_ok(tmp_emulator, a.tenant_id, a_values["client_id"], a_values["client_secret"])
    assert not orphans(tmp_emulator, a.tenant_id, state) and not orphans(tmp_emulator, b.tenant_id, state)


def test_state_of_an_earlier_version_migrates_without_losing_a_secret(
    tmp_emulator: Any, tmp_path: Path
) -> None:
    write_manifest(tmp_path)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    state = tmp_path / ".provisioner"
    folder = connections_dir(state)
    values = json.loads((folder / "alpha.json").read_text())
    before = live(tmp_emulator, tmp_emulator.tenant.tenant_id)
    # Lay the files out as earlier versions did: connections/<app>.json and delivered.json at the top.
    legacy = state / "connections"
    legacy.mkdir()
    for path in folder.glob("*.json"):
        path.rename(legacy / path.name)
    journal_file(state).rename(state / "delivered.json")

    planned = run_cli("plan", "m", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "moved 2 connection file(s)" in planned.stderr
    assert json.loads(connection_file(state, "alpha").read_text()) == values
    assert not list(legacy.glob("*.json"))
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    assert live(tmp_emulator, tmp_emulator.tenant.tenant_id) == before


@pytest.mark.parametrize(
    "corrupt",
    ["missing end marker", "directory"],
)
def test_a_failing_sink_adds_no_unheld_secret_and_spares_the_other_apps(
    tmp_emulator: Any, tmp_path: Path, corrupt: str
) -> None:
    """Measured: each re-run added one more unheld live secret; later apps in the run got nothing."""
    write_manifest(tmp_path)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    sink = tmp_path / "out" / "alpha.env"
    if corrupt == "missing end marker":
        text = sink.read_text()
        sink.write_text(text[: text.rindex("# <<<")] if "# <<<" in text else text.splitlines()[0] + "\n")
    else:
        sink.unlink()
        sink.mkdir()
    tenant_id = tmp_emulator.tenant.tenant_id
    before = live(tmp_emulator, tenant_id)
    for _ in range(3):
        rotated = run_cli("rotate", "m", "--force", "--yes", cwd=tmp_path, env=env)
        assert rotated.returncode == 1, rotated.stdout + rotated.stderr
        errors = [line for line in rotated.stderr.splitlines() if line.startswith("error:")]
        assert errors and all("alpha" in line for line in errors), rotated.stderr
        assert "Traceback" not in rotated.stderr
    after = live(tmp_emulator, tenant_id)
    assert after["alpha"] == before["alpha"], "a failing sink must not leave new secrets behind"
    assert len(after["beta"]) >= 1 and after["beta"] != before["beta"]  # beta rotated all the same
    assert not orphans(tmp_emulator, tenant_id, tmp_path / ".provisioner").get("alpha")


def _limit_file_size(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_during_rotate_takes_the_new_secret_back_from_entra(
    tmp_emulator: Any, tmp_path: Path
) -> None:
    """Measured: the rollback's own restore raised ENOSPC, a traceback, and secrets stayed undelivered.

    Files over a few hundred bytes cannot be written (RLIMIT_FSIZE; Python turns SIGXFSZ into
    EFBIG): the journal fits, a connection file does not, as on a full disk.
    """
    write_manifest(tmp_path)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    tenant_id = tmp_emulator.tenant.tenant_id
    before = live(tmp_emulator, tenant_id)
    proc = subprocess.run(
        [sys.executable, "-m", "provisioner", "rotate", "m", "--force", "--yes"],
        cwd=tmp_path,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limit_file_size(700),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "removed again" in proc.stderr and "could not restore" in proc.stderr, proc.stderr
    assert live(tmp_emulator, tenant_id) == before  # every new secret was taken back (or never minted)
    ok(run_cli("status", "m", cwd=tmp_path, env=env))


def test_concurrent_rotates_leave_no_unheld_secret(tmp_emulator: Any, tmp_path: Path) -> None:
    """Measured: three concurrent rotates left up to 9 unheld secrets (rotate took no lock)."""
    write_manifest(tmp_path)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    results: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        results.append(run_cli("rotate", "m", "--force", "--yes", cwd=tmp_path, env=env))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in results:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(results) == 3
    tenant_id = tmp_emulator.tenant.tenant_id
    state = tmp_path / ".provisioner"
    held = {
        app: json.loads(connection_file(state, app).read_text())["client_secret_id"]
        for app in ("alpha", "beta")
    }
    journal = json.loads(journal_file(state).read_text())["apps"]
    for app, ids in live(tmp_emulator, tenant_id).items():
        assert held[app] in ids
        delivered = {e["key_id"] for e in journal[app]}
        # Every live secret is the held one or a delivered predecessor inside its overlap: none unheld
        # and never delivered (what three unlocked rotates used to leave behind).
        assert {k.lower() for k in ids} <= delivered, (app, ids, delivered)


def test_plan_lists_destinations_and_fails_where_apply_would(tmp_emulator: Any, tmp_path: Path) -> None:
    """Measured: plan exited 0 with a corrupt default connection file that made apply fail after minting."""
    write_manifest(tmp_path)
    env = cli_env(tmp_emulator, tmp_emulator.tenant)
    ok(run_cli("apply", "m", "--yes", cwd=tmp_path, env=env))
    planned = ok(run_cli("plan", "m", cwd=tmp_path, env=env))
    assert "out/alpha.env" in planned.stdout and "connections/alpha.json" in planned.stdout
    connection_file(tmp_path / ".provisioner", "alpha").write_text("{ not json")
    tenant_id = tmp_emulator.tenant.tenant_id
    before = live(tmp_emulator, tenant_id)

    failed = run_cli("plan", "m", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "alpha" in errors[0] and "Traceback" not in failed.stderr, failed.stderr
    as_json = run_cli("plan", "m", "--json", cwd=tmp_path, env=env)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["problems"]["alpha"]

    rotated = run_cli("rotate", "m", "--force", "--yes", "--json", cwd=tmp_path, env=env)
    assert rotated.returncode == 1, rotated.stderr
    after = live(tmp_emulator, tenant_id)
    assert after["alpha"] == before["alpha"] and after["beta"] != before["beta"]
