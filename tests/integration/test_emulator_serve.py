"""`provisioner emulator serve` as a user runs it: what it prints, what it refuses, one error line on failure."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from cli_support import base_env, run_cli


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = run_cli("emulator", "serve", "--port", str(port), cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    (line,) = _error_lines(proc.stderr)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unreadable_state_file_is_one_error_line(tmp_path: Path) -> None:
    state = tmp_path / "emulator.db"
    state.write_bytes(b"this is not a SQLite database, it is a text file " * 100)
    proc = run_cli("emulator", "serve", "--port", "0", "--state", str(state), cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    (line,) = _error_lines(proc.stderr)
    assert line.startswith(f"error: cannot open emulator state {state}")
    assert proc.stdout == ""


def test_non_loopback_host_is_refused_without_allow_remote(tmp_path: Path) -> None:
    proc = run_cli("emulator", "serve", "--host", "0.0.0.0", "--port", "0", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    (line,) = _error_lines(proc.stderr)
    assert line.startswith("error: refusing to listen on '0.0.0.0'") and "--allow-remote" in line
    assert proc.stdout == "" and not (tmp_path / "emulator-tls").exists()


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", *args],
        cwd=tmp_path,
        env={**base_env(), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, expect a clean exit, return what it wrote on stderr."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    return stderr


def test_allow_remote_serves_with_a_one_line_warning_and_prints_the_admin_token(tmp_path: Path) -> None:
    process = _serve(tmp_path, "--host", "0.0.0.0", "--allow-remote", "--json")
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())  # written once serving
        token = info["admin_token"]
        assert info["env"]["PROVISIONER_EMULATOR_ADMIN_TOKEN"] == token and len(token) >= 32
        with httpx.Client(verify=info["ca_cert"], trust_env=False) as http:  # only ever loopback
            url = f"{info['url']}/_emulator/tenants"
            assert http.get(url).status_code == 401
            tenants = http.get(url, headers={"Authorization": f"Bearer {token}"})
            assert tenants.status_code == 200 and tenants.json()[0]["tenant_id"] == info["tenant_id"]
        stderr = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    (warning,) = _error_lines(stderr)
    assert warning.startswith("warning: the emulator listens on '0.0.0.0'")
    assert token not in stderr


def test_shell_exports_carry_the_admin_token(tmp_path: Path) -> None:
    process = _serve(tmp_path)
    try:
        assert process.stdout is not None
        exports: dict[str, str] = {}
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value.strip("'")
            if line.startswith("# other HTTP clients"):  # the last line serve prints
                break
        token = exports["PROVISIONER_EMULATOR_ADMIN_TOKEN"]
        with httpx.Client(verify=exports["PROVISIONER_CA_CERT"], trust_env=False) as http:
            clock = http.get(
                f"{exports['PROVISIONER_EMULATOR_URL']}/_emulator/clock",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert clock.status_code == 200 and clock.json()["offset_seconds"] == 0
        assert _error_lines(_stop(process)) == []  # loopback: no warning
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_served_connections_have_nagle_off(tmp_path: Path) -> None:
    """Each response goes out as headers then body: with Nagle's algorithm on, the body waited for
    the client's delayed ACK (~40 ms per request on loopback, seen as 44 ms per GitHub stand-in call)."""
    from provisioner.emulator import start_emulator

    with start_emulator() as running, httpx.Client(verify=str(running.ca_cert_path)) as client:
        answer = client.get(
            f"{running.base_url}/{running.tenant.tenant_id}/v2.0/.well-known/openid-configuration"
        )
        assert answer.status_code == 200
        connections = list(running._server.server_state.connections)
        assert connections, "the keep-alive connection should still be open"
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
