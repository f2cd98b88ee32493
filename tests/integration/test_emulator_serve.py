"""`provisioner emulator serve` as a user runs it: start-up failures are one error line, not a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from cli_support import run_cli


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
