"""Every broken manifest ends `provisioner apply` with exit 1, one `error:` line per problem, and no Graph write.

The CLI is pointed at a running emulator (as ``provisioner emulator serve``
prints), so a manifest error that slipped past validation would show up as a
write (or at least a token request) in the emulator's counters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reliability_support import cli_env, fresh_tenant, run_cli

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))


@pytest.fixture(scope="module")
def tenant_env(emulator: Any) -> dict[str, str]:
    return cli_env(emulator, fresh_tenant(emulator))


def expected_lines(path: Path) -> list[str]:
    return [line for line in path.with_suffix(".expected").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_manifest_is_refused_before_any_graph_call(
    path: Path, emulator: Any, tenant_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from provisioner.cli import app

    for key, value in tenant_env.items():
        monkeypatch.setenv(key, value)
    before = dict(emulator.ctx.counters)
    result = CliRunner().invoke(app, ["apply", str(path), "--yes"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(expected_lines(path)), result.stderr
    fragment = expected_lines(path)[0].split(": ", 1)[-1][:40]
    assert fragment in errors[0], (fragment, errors)
    assert path.name in errors[0] or ":" not in expected_lines(path)[0].split(" ", 1)[0], errors[0]
    after = dict(emulator.ctx.counters)
    for counter in ("graph_writes", "graph_requests", "token_requests"):
        assert after.get(counter, 0) == before.get(counter, 0), f"{counter} moved"


def test_all_broken_manifests_in_one_cli_run(
    emulator: Any, tenant_env: dict[str, str], tmp_path: Path
) -> None:
    """The real subprocess: every problem of every file reported, one line each, nothing sent to Graph."""
    before = dict(emulator.ctx.counters)
    proc = run_cli("apply", *map(str, FILES), "--yes", cwd=tmp_path, env=tenant_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == sum(len(expected_lines(p)) for p in FILES), proc.stderr
    assert all("\n" not in e and len(e) < 400 for e in errors)
    assert not list((tmp_path / ".provisioner").glob("tenants/*/*/connections"))
    after = dict(emulator.ctx.counters)
    for counter in ("graph_writes", "graph_requests", "token_requests"):
        assert after.get(counter, 0) == before.get(counter, 0), f"{counter} moved"
