"""Issue 17, "rough edges": what a new user meets first, each through the real CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

from cli_support import base_env, ok, run_cli, tenant_env
from reliability_support import fresh_tenant

import provisioner

TWO_APPS = """\
version: 1
apps:
  - name: exchange-connector
    display_name: Exchange Connector
    audience: multi-tenant
    secrets: [{name: s1, expires_in: 90d}]
  - name: second-app
    display_name: Second App
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    proc = ok(run_cli("--version", cwd=tmp_path))
    assert proc.stdout.strip() == f"provisioner {provisioner.__version__}"


def test_provisioner_debug_turns_logging_on(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(TWO_APPS)
    quiet = ok(run_cli("validate", "m.yaml", cwd=tmp_path))
    assert "DEBUG" not in quiet.stderr
    loud = ok(run_cli("validate", "m.yaml", cwd=tmp_path, env={**base_env(), "PROVISIONER_DEBUG": "1"}))
    assert "DEBUG provisioner: provisioner" in loud.stderr


def test_validate_reports_every_app_of_a_file_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "version: 1\napps:\n"
        "  - name: a\n    display_name: A\n    audince: multi-tenant\n"
        "  - name: b\n    display_name: B\n    permissions:\n"
        "      Microsoft Graph: {delegated: [Mail.Reed]}\n"
    )
    proc = run_cli("validate", "m.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    errors = [line for line in _lines(proc.stderr) if line.startswith("error:")]
    assert any("unknown key 'audince'" in line for line in errors), proc.stderr
    assert any("apps[1]" in line and "'Mail.Reed'" in line for line in errors), proc.stderr


def test_a_dead_emulator_is_one_line_naming_it(tmp_path: Path, emulator: object) -> None:
    port = _closed_port()
    (tmp_path / "m.yaml").write_text(TWO_APPS)
    env = {
        **base_env(),
        "PROVISIONER_GRAPH_URL": f"https://localhost:{port}/v1.0",
        "AZURE_AUTHORITY_HOST": f"https://localhost:{port}",
        "PROVISIONER_CA_CERT": str(emulator.ca_cert_path),  # type: ignore[attr-defined]
        "AZURE_TENANT_ID": "8eaef023-2b34-4da1-9baa-8bc8c9d6a490",
        "AZURE_CLIENT_ID": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "AZURE_CLIENT_SECRET": "not-a-real-secret",
    }
    proc = run_cli("plan", "m.yaml", cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in _lines(proc.stderr) if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert f"cannot reach localhost:{port}: connection refused" in errors[0]
    assert "is the emulator still running" in errors[0] and "credential" not in errors[0]


def test_a_dead_proxy_before_real_entra_is_named_not_blamed_on_the_credential(tmp_path: Path) -> None:
    # Every byte goes to the (closed) loopback proxy port: nothing leaves the machine.
    port = _closed_port()
    (tmp_path / "m.yaml").write_text(TWO_APPS)
    env = {
        **{k: v for k, v in base_env().items() if k.lower() not in ("no_proxy", "https_proxy", "all_proxy")},
        "HTTPS_PROXY": f"http://user:pw@127.0.0.1:{port}",
        "AZURE_TENANT_ID": "8eaef023-2b34-4da1-9baa-8bc8c9d6a490",
        "AZURE_CLIENT_ID": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "AZURE_CLIENT_SECRET": "not-a-real-secret",
    }
    proc = run_cli("plan", "m.yaml", cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (error,) = [line for line in _lines(proc.stderr) if line.startswith("error:")]
    assert f"cannot reach login.microsoftonline.com through proxy http://127.0.0.1:{port}" in error
    assert "check the credential configuration" not in error
    assert "pw" not in error  # proxy credentials are not printed


def test_plan_and_apply_take_app(tmp_path: Path, emulator: object) -> None:
    tenant = fresh_tenant(emulator)
    (tmp_path / "m.yaml").write_text(TWO_APPS)
    env = {**base_env(), **tenant_env(emulator, tenant)}
    plan = ok(run_cli("plan", "m.yaml", "--app", "second-app", "--json", cwd=tmp_path, env=env))
    actions = json.dumps(json.loads(plan.stdout)["actions"])
    assert "second-app" in actions and "exchange-connector" not in actions
    ok(run_cli("apply", "m.yaml", "--app", "second-app", "--yes", cwd=tmp_path, env=env))
    rest = ok(run_cli("plan", "m.yaml", "--json", cwd=tmp_path, env=env))
    actions = json.dumps(json.loads(rest.stdout)["actions"])
    assert "exchange-connector" in actions and "second-app" not in actions
    refused = run_cli("apply", "m.yaml", "--app", "second-app", "--prune", "--yes", cwd=tmp_path, env=env)
    assert refused.returncode == 1 and "--prune and --app exclude each other" in refused.stderr


def test_client_ids_fit_an_80_column_table(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(TWO_APPS)
    env = {**base_env(), "COLUMNS": "80"}
    proc = ok(run_cli("apply", "m.yaml", "--emulator", "--yes", cwd=tmp_path, env=env))
    table = proc.stdout.split("Connection values", 1)[1]
    rows = [
        line
        for line in table.splitlines()
        if line.startswith(("exchange-connector ", "second-app ")) and "→" not in line
    ]
    assert len(rows) == 2, proc.stdout
    for row in rows:
        assert len(row) <= 80
        assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", row), row


def test_serve_env_file_is_complete_once_serving_with_an_absolute_ca(tmp_path: Path) -> None:
    env_file = tmp_path / "emulator.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "provisioner",
            "emulator",
            "serve",
            "--port",
            "0",
            "--state",
            "state/emulator.db",
            "--env-file",
            "emulator.env",
        ],
        cwd=tmp_path,
        env={**base_env(), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed after the env file is in place
        assert first.startswith("# provisioner emulator serving")
        text = env_file.read_text()
        assert text.startswith(first) and "export PROVISIONER_EMULATOR_ADMIN_TOKEN=" in text
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".emulator.env")] == []
        ca = re.search(r"^export PROVISIONER_CA_CERT=(\S+)$", text, re.M)
        assert ca is not None and os.path.isabs(ca.group(1).strip("'")) and Path(ca.group(1)).is_file()
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_readme_quick_start_does_not_collide_with_the_shipped_manifests(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    first = quick.strip().splitlines()[0]
    folder = tmp_path / first.split()[1].rsplit("/", 1)[0]
    folder.mkdir(parents=True)
    (folder / "quick.yaml").write_text(quick)
    proc = ok(run_cli("validate", str(folder), str(repo / "manifests"), cwd=tmp_path))
    assert "6 app(s) valid" in proc.stdout


# -- validate warnings a product would otherwise find out about from an AADSTS code -------------------

PRODUCT_TRAPS = """\
version: 1
apps:
  - name: public-with-secret
    display_name: Public with secret
    redirect_uris: {public_client: ["http://localhost:9999/Callback"]}
    permissions:
      Microsoft Graph: {delegated: [User.Read]}
    secrets: [{name: s, expires_in: 90d}]
  - name: ews-under-graph
    display_name: EWS under Graph
    redirect_uris: {web: ["https://app.example.com/cb"]}
    permissions:
      Microsoft Graph: {delegated: [EWS.AccessAsUser.All]}
  - name: no-redirect
    display_name: No redirect
    permissions:
      Microsoft Graph: {delegated: [Mail.Read]}
  - name: two-resources
    display_name: Two resources
    redirect_uris: {web: ["https://app.example.com/cb2"]}
    permissions:
      Office 365 Exchange Online: {delegated: [EWS.AccessAsUser.All]}
      Microsoft Graph: {delegated: [openid, offline_access, User.Read]}
  - name: two-resources-oidc-only
    display_name: Sign-in scopes only
    redirect_uris: {web: ["https://app.example.com/cb3"]}
    permissions:
      Office 365 Exchange Online: {delegated: [EWS.AccessAsUser.All]}
      Microsoft Graph: {delegated: [openid, offline_access]}
"""


def test_validate_warns_about_registrations_a_product_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(PRODUCT_TRAPS)
    proc = ok(run_cli("validate", "m.yaml", cwd=tmp_path))  # warnings do not fail validation
    warnings = [line for line in _lines(proc.stderr) if line.startswith("warning:")]

    def one(app_index: int, needle: str) -> str:
        hits = [w for w in warnings if f"apps[{app_index}]" in w and needle in w]
        assert len(hits) == 1, "\n".join(warnings)
        return hits[0]

    assert "remove secrets" in one(0, "AADSTS700025")
    assert "m.yaml:8:5:" in one(0, "AADSTS700025")
    assert "under 'Office 365 Exchange Online' instead" in one(
        1, "EWS.AccessAsUser.All under Microsoft Graph"
    )
    assert "add the product's redirect URI under redirect_uris.web" in one(2, "no redirect URI")
    mixed = one(3, "AADSTS28000")
    assert "Office 365 Exchange Online and Microsoft Graph" in mixed and "openid" in mixed
    assert not [w for w in warnings if "apps[4]" in w], "sign-in scopes may go with any resource"
    assert len(warnings) == 4, "\n".join(warnings)


def test_shipped_manifests_validate_without_warnings(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = ok(run_cli("validate", str(repo / "manifests"), cwd=tmp_path))
    assert "warning" not in proc.stderr, proc.stderr


def test_verify_does_not_claim_all_verified_when_it_skipped_a_check(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "05.yaml").write_text((repo / "manifests" / "05-ews-test-tool.yaml").read_text())
    env = {**base_env(), "NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"}
    ok(run_cli("apply", "m", "--emulator", "--yes", cwd=tmp_path, env=env))
    proc = ok(run_cli("verify", "m", "--emulator", cwd=tmp_path, env=env))  # no token file yet
    assert "skipped" in proc.stdout
    assert "All 1 app(s) verified" not in proc.stdout
    assert "0 of 1 app(s) fully verified; 1 with skipped checks" in proc.stdout
