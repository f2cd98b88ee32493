"""Running the real CLI as a subprocess, the way a user or CI does: one helper for every test file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def base_env() -> dict[str, str]:
    """This process's environment without Azure, provisioner or GitHub settings (tokens included) that could leak in."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "PROVISIONER_", "GITHUB_", "GH_TOKEN"))
    }


def tenant_env(
    emulator: Any, tenant: Any, *, client_id: str | None = None, client_secret: str | None = None
) -> dict[str, str]:
    """What `provisioner emulator serve` prints, for one tenant of a running emulator (admin by default)."""
    return {
        "PROVISIONER_GRAPH_URL": emulator.graph_url,
        "PROVISIONER_CA_CERT": str(emulator.ca_cert_path),
        "AZURE_AUTHORITY_HOST": emulator.authority,
        "AZURE_TENANT_ID": tenant.tenant_id,
        "AZURE_CLIENT_ID": client_id or tenant.admin_client_id,
        "AZURE_CLIENT_SECRET": client_secret or tenant.admin_client_secret,
    }


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = False,
    timeout: float = 240,
    file_limit: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m provisioner ARGS`` with no stdin (as in CI); ``check`` fails with both streams shown.

    ``file_limit``: no file the run writes may grow past this many bytes (RLIMIT_FSIZE), a full disk
    for files above it (no bytecode is written, so only the tool's own files meet the limit).
    """
    environment = base_env() if env is None else env
    limit: Any = None
    if file_limit is not None:
        import resource

        environment = {**environment, "PYTHONDONTWRITEBYTECODE": "1"}

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    proc = subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=limit,
    )
    if check:
        ok(proc)
    return proc


def ok(proc: subprocess.CompletedProcess[str], *codes: int) -> subprocess.CompletedProcess[str]:
    """Assert the exit code (0 unless ``codes`` are given), showing stdout and stderr when it differs."""
    allowed = codes or (0,)
    assert proc.returncode in allowed, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc


def connections_dir(state_dir: Path, tenant_id: str | None = None) -> Path:
    """``<state_dir>/tenants/<cloud>/<tenant>/connections`` of the only tenant (or the one named)."""
    pattern = f"tenants/*/{tenant_id.lower() if tenant_id else '*'}/connections"
    found = sorted(Path(state_dir).glob(pattern))
    assert len(found) == 1, f"expected one tenant folder matching {pattern} under {state_dir}: {found}"
    return found[0]


def connection_file(state_dir: Path, app: str, tenant_id: str | None = None) -> Path:
    """The default connection file of ``app`` in the only tenant folder (or the one named)."""
    return connections_dir(state_dir, tenant_id) / f"{app}.json"


def journal_file(state_dir: Path, tenant_id: str | None = None) -> Path:
    """The delivery journal of the only tenant folder (or the one named)."""
    return connections_dir(state_dir, tenant_id).parent / "delivered.json"
