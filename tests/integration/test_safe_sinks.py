"""Issue 12's sink rules through the real CLI against the emulator, read back from Graph.

* a dotenv file written by ``apply`` is read alike by ``set -a; . file`` (bash, dash),
  python-dotenv and Docker's ``--env-file`` rule, and the secret it holds gets a token;
* a sink never appends to ``~/.bashrc`` or replaces an unrelated JSON file: ``validate`` refuses
  the path outside the folder, and with ``allow_outside`` but no ``overwrite`` the delivery
  fails, the minted secret is taken back (no unheld secret in Entra) and the file keeps its
  content and mode;
* two apps meeting in one Key Vault secret or one file are refused before any Graph call;
* display names with ESC, CR/LF, NUL or bidi overrides — from the tenant or a manifest — are
  never printed raw (a name cannot fake "No changes.").
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from dotenv import dotenv_values
from dotenv_support import docker_env_file, shell_env
from oauth_support import client_credentials_form
from reliability_support import admin_http, cli_env, fresh_tenant, inventory, run_cli

pytestmark = pytest.mark.slow

HOSTILE_NAME = "Evil\x1b[2J\x1b[H\r\nNo changes. The tenant matches the manifests.\u202e[red]x[/]\x00\u2028"
RAW = ("\x1b", "\r", "\x00", "\u202e", "\u2028")


@pytest.fixture()
def tenant(emulator: Any) -> Any:
    return fresh_tenant(emulator)


def cli(
    emulator: Any, tenant: Any, workdir: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=workdir, env=cli_env(emulator, tenant, **extra), timeout=240)


def live_secrets(emulator: Any, tenant: Any, app: str) -> set[str]:
    return inventory(emulator, tenant.tenant_id).secret_ids.get(app, set())


def graph_writes(emulator: Any) -> int:
    return int(emulator.ctx.counters.get("graph_writes", 0))


def token_ok(emulator: Any, tenant: Any, client_id: str, secret: str) -> bool:
    answer = httpx.post(
        f"{emulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token",
        data=client_credentials_form(client_id, secret),
        verify=str(emulator.ca_cert_path),
        timeout=30,
    )
    return answer.status_code == 200


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


# --- dotenv files every reader agrees on ---------------------------------------------------------------


def test_applied_dotenv_file_reads_alike_and_its_secret_works(
    emulator: Any, tenant: Any, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text(
        """\
version: 1
apps:
  - name: env-daemon
    display_name: Env daemon
    permissions:
      graph: {application: [User.Read.All]}
    secrets: [{name: main}]
    extra_values: {mailbox: ops@example.com}
    sinks:
      - {type: dotenv, path: out/portable.env, prefix: D_}
      - {type: dotenv, path: out/docker.env, dialect: docker}
  - name: env-web
    display_name: Env web
    permissions:
      graph: {delegated: [openid, offline_access, User.Read]}
    sinks:
      - {type: dotenv, path: out/shell.env, dialect: shell}
"""
    )
    proc = cli(emulator, tenant, tmp_path, "apply", "m.yaml", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    portable = tmp_path / "out" / "portable.env"
    assert stat.S_IMODE(portable.stat().st_mode) == 0o600
    by_reader = {
        "python-dotenv": dotenv_values(portable),
        "docker": docker_env_file(portable.read_text()),
        "bash": shell_env("bash", portable, tmp_path),
        "dash": shell_env("dash", portable, tmp_path),
    }
    names = ("D_AZURE_CLIENT_ID", "D_AZURE_CLIENT_SECRET", "D_AZURE_TENANT_ID", "D_APP_SCOPES", "D_MAILBOX")
    reference = {name: by_reader["python-dotenv"][name] for name in names}
    for reader, seen in by_reader.items():
        assert {name: seen.get(name) for name in names} == reference, reader
    assert reference["D_AZURE_TENANT_ID"] == tenant.tenant_id
    assert reference["D_APP_SCOPES"] == "https://graph.microsoft.com/.default"
    assert token_ok(
        emulator, tenant, str(reference["D_AZURE_CLIENT_ID"]), str(reference["D_AZURE_CLIENT_SECRET"])
    )
    docker = docker_env_file((tmp_path / "out" / "docker.env").read_text())
    assert docker["AZURE_CLIENT_SECRET"] == reference["D_AZURE_CLIENT_SECRET"]
    shell = tmp_path / "out" / "shell.env"
    scopes = "openid offline_access User.Read"
    assert dotenv_values(shell)["SCOPES"] == scopes
    assert (
        shell_env("bash", shell, tmp_path)["SCOPES"] == scopes == shell_env("dash", shell, tmp_path)["SCOPES"]
    )


# --- files the tool did not write ---------------------------------------------------------------------------


BASHRC = "# my shell\nexport EDITOR=vi\n"


def test_bashrc_is_refused_at_validate_and_untouched_by_apply(
    emulator: Any, tenant: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bashrc = home / ".bashrc"
    bashrc.write_text(BASHRC)
    bashrc.chmod(0o644)
    work = tmp_path / "work"
    work.mkdir()
    manifest = work / "m.yaml"
    manifest.write_text(
        """\
version: 1
apps:
  - name: rc-app
    display_name: RC app
    secrets: [{name: main}]
    sinks:
      - {type: dotenv, path: ~/.bashrc}
"""
    )
    before = graph_writes(emulator)
    refused = cli(emulator, tenant, work, "apply", "m.yaml", "--yes", HOME=str(home))
    assert refused.returncode == 1
    (line,) = error_lines(refused)
    assert (
        f"{manifest.name}:7:" in line and "'~/.bashrc' resolves to" in line and "allow_outside: true" in line
    )
    assert graph_writes(emulator) == before and "Traceback" not in refused.stderr

    manifest.write_text(
        manifest.read_text().replace("path: ~/.bashrc}", "path: ~/.bashrc, allow_outside: true}")
    )
    for _ in range(2):  # a re-run must not add a second unheld secret either
        failed = cli(emulator, tenant, work, "apply", "m.yaml", "--yes", HOME=str(home))
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert any(
            f"dotenv file {bashrc} exists and was not written by provisioner" in e
            for e in error_lines(failed)
        )
        assert "Traceback" not in failed.stderr
        assert bashrc.read_text() == BASHRC and stat.S_IMODE(bashrc.stat().st_mode) == 0o644
        assert live_secrets(emulator, tenant, "rc-app") == set()  # the minted secret was taken back


def test_unrelated_json_file_is_not_replaced(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"feature": true}\n')
    config.chmod(0o664)
    (tmp_path / "m.yaml").write_text(
        """\
version: 1
apps:
  - name: json-app
    display_name: JSON app
    secrets: [{name: main}]
    sinks:
      - {type: json, path: config.json}
"""
    )
    failed = cli(emulator, tenant, tmp_path, "apply", "m.yaml", "--yes")
    assert failed.returncode == 1
    assert any(f"json file {config} was not written by provisioner" in e for e in error_lines(failed)), (
        failed.stderr
    )
    assert config.read_text() == '{"feature": true}\n' and stat.S_IMODE(config.stat().st_mode) == 0o664
    assert live_secrets(emulator, tenant, "json-app") == set()

    text = (
        (tmp_path / "m.yaml").read_text().replace("path: config.json}", "path: config.json, overwrite: true}")
    )
    (tmp_path / "m.yaml").write_text(text)
    done = cli(emulator, tenant, tmp_path, "apply", "m.yaml", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o664  # taken over, mode kept
    assert len(live_secrets(emulator, tenant, "json-app")) == 1


def test_collisions_are_refused_before_any_graph_call(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "version: 1\napps:\n  - name: mail.sync\n    display_name: A\n    sinks:\n"
        "      - {type: keyvault, vault_url: 'https://ops.vault.azure.net'}\n"
        "      - {type: json, path: out/x.json}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "version: 1\napps:\n  - name: mail-sync\n    display_name: B\n    sinks:\n"
        "      - {type: keyvault, vault_url: 'https://ops.vault.azure.net/'}\n"
        "      - {type: json, path: ./out/../out/x.json}\n"
    )
    before = graph_writes(emulator)
    proc = cli(emulator, tenant, tmp_path, "apply", "a.yaml", "b.yaml", "--yes")
    assert proc.returncode == 1
    assert error_lines(proc) == [
        "error: b.yaml:6:9: apps[0].sinks[0]: writes the same Key Vault secret (mail-sync-client-secret) as "
        "sinks[0] of app 'mail.sync' (a.yaml:6); Key Vault names ignore case and default names turn '.' and '_' "
        "into '-': set secret_name",
        "error: b.yaml:7:9: apps[0].sinks[1]: writes the same file as sinks[1] of app 'mail.sync' (a.yaml:7); "
        "every file sink needs a file of its own",
    ]
    assert graph_writes(emulator) == before


# --- hostile names ---------------------------------------------------------------------------------------


def test_hostile_display_name_from_the_tenant_is_printed_escaped(
    emulator: Any, tenant: Any, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\napps:\n  - name: hostile-name\n    display_name: Hostile\n")
    assert cli(emulator, tenant, tmp_path, "apply", "m.yaml", "--yes").returncode == 0
    with admin_http(emulator, tenant) as http:
        app = http.get("/applications(uniqueName='hostile-name')").json()
        changed = http.patch(f"/applications/{app['id']}", json={"displayName": HOSTILE_NAME})
        assert changed.status_code == 204, changed.text
        assert http.get(f"/applications/{app['id']}").json()["displayName"] == HOSTILE_NAME
    # export writes a manifest validate accepts: the name without the characters validate refuses,
    # and a comment showing (escaped) what Entra holds; plan then proposes to rename, nothing else.
    exported = cli(emulator, tenant, tmp_path, "export", "--app-id", app["appId"], "--out", "exported")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    (text,) = [f.read_text(encoding="utf-8") for f in (tmp_path / "exported").glob("*.yaml")]
    assert not any(ch in text for ch in RAW), text
    assert "display_name: Evil[2J[HNo changes. The tenant matches the manifests.[red]x[/]  # Entra" in text
    assert "# Entra holds Evil\\x1b[2J\\x1b[H\\x0d\\x0aNo changes." in text, text
    checked = cli(emulator, tenant, tmp_path, "validate", "exported")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    planned = cli(emulator, tenant, tmp_path, "plan", "exported", "--json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    (action,) = json.loads(planned.stdout)["actions"]
    assert action["kind"] == "update_app" and [c["field"] for c in action["changes"]] == ["displayName"]
    for command in ("plan", "apply"):
        args = ("plan", "m.yaml") if command == "plan" else ("apply", "m.yaml", "--yes")
        proc = cli(emulator, tenant, tmp_path, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for stream in (proc.stdout, proc.stderr):
            assert not any(ch in stream for ch in RAW), (command, stream)
        assert "No changes. The tenant matches the manifests." not in proc.stdout.splitlines()
        assert "\\x1b[2J" in proc.stdout and "\\u202e" in proc.stdout  # shown, escaped
        assert "[red]x[/]" in proc.stdout  # markup stays text


def test_hostile_display_name_in_a_manifest_is_refused(emulator: Any, tenant: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        'version: 1\napps:\n  - name: evil\n    display_name: "Evil\\e[2J\\r\\nNo changes.\\u202e"\n'
    )
    before = graph_writes(emulator)
    for command in ("validate", "plan", "apply"):
        args = (command, "m.yaml", "--yes") if command == "apply" else (command, "m.yaml")
        proc = cli(emulator, tenant, tmp_path, *args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        (line,) = error_lines(proc)
        assert line.startswith("error: m.yaml:4:19: apps[0].display_name: holds U+001B")
        assert not any(ch in proc.stdout + proc.stderr for ch in RAW)
    assert graph_writes(emulator) == before
    assert os.path.exists(tmp_path / ".provisioner") is False or not any(
        (tmp_path / ".provisioner").rglob("*.json")
    )
