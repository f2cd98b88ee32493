"""The real CLI, the real SDK, real HTTPS: validate → plan → apply → plan again, against the embedded emulator.

Each command runs as a subprocess (``python -m provisioner``) exactly as a user or CI
would run it, with ``--emulator`` and a private state directory, so the second run
sees what the first created (idempotency across processes).
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import connection_file, connections_dir, run_cli

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    for path in sorted(MANIFESTS.glob("*.yaml")):
        (tmp_path / "manifests" / path.name).write_text(path.read_text())
    return tmp_path


@pytest.mark.slow
def test_scenarios_apply_then_plan_is_empty(workdir: Path) -> None:
    first = run_cli("plan", "manifests", "--emulator", "--detailed-exitcode", cwd=workdir)
    assert first.returncode == 2, first.stderr
    assert "create application" in first.stdout

    applied = run_cli("apply", "manifests", "--emulator", "--yes", "--json", cwd=workdir, check=True)
    result = json.loads(applied.stdout)
    names = {app["app"] for app in result["apps"]}
    assert names == {"exchange-connector", "outlook-etl", "logistics-ops", "automation-pkce", "ews-test-tool"}
    # Apps that declare a secret report it, masked as the portal does (hint + stars); the value itself
    # is in the connection file only (--show-secrets is not given).
    with_secret = {"exchange-connector", "outlook-etl", "logistics-ops", "ews-test-tool"}
    for app in result["apps"]:
        connection = app["connection"]
        if app["app"] not in with_secret:
            assert "client_secret" not in connection, app["app"]
            continue
        written = json.loads(connection_file(workdir / ".provisioner", app["app"]).read_text())
        value = written["client_secret"]
        assert len(value) >= 16 and value not in applied.stdout + applied.stderr
        assert connection["client_secret"] == value[:3] + "****", "apply --json must mask secrets"
        assert connection["client_secret_id"] == written["client_secret_id"]

    again = run_cli("plan", "manifests", "--emulator", "--detailed-exitcode", cwd=workdir)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


@pytest.mark.slow
def test_apply_writes_connections_0600_and_prints_no_secret(workdir: Path) -> None:
    applied = run_cli("apply", "manifests", "--emulator", "--yes", cwd=workdir, check=True)
    files = sorted(connections_dir(workdir / ".provisioner").glob("*.json"))
    assert files, "no connection files written"
    secrets_seen = 0
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        values = json.loads(path.read_text())
        assert values["client_id"] and values["tenant_id"]
        assert values["token_url"].endswith("/oauth2/v2.0/token")
        secret = values.get("client_secret")
        if secret:
            secrets_seen += 1
            assert secret not in applied.stdout
            assert secret not in applied.stderr
    assert secrets_seen >= 3


def test_validate_reports_every_error_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apps:\n"
        "  - name: demo\n"
        "    display_name: Demo\n"
        "    redirect_uri: [https://example.com/cb]\n"
        "    permissions:\n"
        "      Microsoft Graph:\n"
        "        delegated: [Mail.Sendd]\n"
    )
    proc = run_cli("validate", str(bad), cwd=tmp_path)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert any("bad.yaml:4" in line and "redirect_uri" in line for line in lines), proc.stderr
    assert any("bad.yaml:7" in line and "Mail.Send" in line for line in lines), proc.stderr


def test_help_does_not_import_the_sdk(tmp_path: Path) -> None:
    code = (
        "import sys; from provisioner.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in sys.modules if m.startswith(('msgraph', 'azure', 'kiota'))]\n"
        "print('SDK-MODULES:' + ','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "SDK-MODULES:", proc.stdout


@pytest.mark.slow
def test_apply_keeps_a_sink_secret_when_the_default_file_is_gone(workdir: Path) -> None:
    """A cleaned connections dir must not make apply wipe the value a manifest sink still holds."""
    run_cli("apply", "manifests", "--emulator", "--yes", cwd=workdir, check=True)
    dotenv = workdir / "out" / "logistics-ops.env"
    before = dotenv.read_text()
    assert "LOGISTICS_AZURE_CLIENT_SECRET=" in before
    secret_line = next(line for line in before.splitlines() if "_AZURE_CLIENT_SECRET=" in line)

    for path in connections_dir(workdir / ".provisioner").glob("*.json"):
        path.unlink()
    run_cli("apply", "manifests", "--emulator", "--yes", cwd=workdir, check=True)

    assert secret_line in dotenv.read_text().splitlines()
    restored = json.loads(connection_file(workdir / ".provisioner", "logistics-ops").read_text())
    assert restored["client_secret"] == secret_line.split("=", 1)[1].strip("'")


@pytest.mark.slow
def test_embedded_emulator_keeps_its_port_so_connection_files_stay_put(workdir: Path) -> None:
    """--emulator runs reuse the state dir's port: a no-change apply leaves the URLs as they were."""
    run_cli("apply", "manifests", "--emulator", "--yes", cwd=workdir, check=True)
    path = connection_file(workdir / ".provisioner", "logistics-ops")
    first = json.loads(path.read_text())
    run_cli("apply", "manifests", "--emulator", "--yes", cwd=workdir, check=True)
    second = json.loads(path.read_text())
    assert second["token_url"] == first["token_url"] and second["authority_host"] == first["authority_host"]
    assert (workdir / ".provisioner" / "emulator.port").read_text().strip() in first["authority_host"]
