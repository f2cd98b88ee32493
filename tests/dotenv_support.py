"""Readers of dotenv files for the sink tests: a real shell, and Docker's documented ``--env-file`` rule.

There is no Docker engine in the test environment, so :func:`docker_env_file` follows the
rule Docker documents for ``docker run --env-file``: one ``VAR=VAL`` per line, lines split on
``\\n`` (a trailing ``\\r`` dropped), the first line's BOM and every line's leading blanks
removed, blank and ``#`` lines skipped, the value taken literally after the first ``=`` (no
quote removal, no escapes), a name with blanks refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def shell_env(shell: str, path: Path, cwd: Path) -> dict[str, str]:
    """What ``set -a; . FILE`` exports, read back with ``env -0`` (the shell starts with an empty environment)."""
    proc = subprocess.run(
        [
            "/usr/bin/env",
            "-i",
            "PATH=/usr/bin:/bin",
            shell,
            "-c",
            'set -a; . "$1"; exec env -0',
            shell,
            str(path),
        ],
        cwd=cwd,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    found: dict[str, str] = {}
    for entry in proc.stdout.split(b"\0"):
        if b"=" in entry:
            name, value = entry.split(b"=", 1)
            found[name.decode()] = value.decode("utf-8")
    return found


def docker_env_file(text: str) -> dict[str, str]:
    """Docker's documented ``--env-file`` rule (see module docstring); raises ValueError where Docker refuses."""
    found: dict[str, str] = {}
    for index, raw in enumerate(text.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        if index == 0:
            line = line.removeprefix("\ufeff")
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"line without '=': {line!r}")
        name, value = line.split("=", 1)
        if not name or any(ch in name for ch in " \t"):
            raise ValueError(f"bad variable name {name!r}")
        found[name] = value
    return found
