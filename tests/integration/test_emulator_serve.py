"""`provisioner emulator serve` as a user runs it: what it prints, what it refuses, one error line on failure."""

from __future__ import annotations

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
        assert _error_lines(_stop(process)) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
