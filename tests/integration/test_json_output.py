"""Every command's ``--json`` is one valid JSON document on stdout carrying ``schema_version``.

CI parses stdout; anything else on it (progress, warnings, GitHub mask lines) would break the
parse, so each command runs through the real CLI and its stdout must load as JSON, success or not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_cli

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

MANIFEST = """\
version: 1
apps:
  - name: json-probe
    display_name: JSON probe
    audience: single-tenant
    permissions:
      Microsoft Graph:
        application: [User.Read.All]
    secrets:
      - name: main
        expires_in: 180d
"""


def _document(stdout: str) -> dict[str, object]:
    doc = json.loads(stdout)
    assert isinstance(doc, dict), stdout
    assert doc.get("schema_version") == 1, stdout
    return doc


def test_every_json_output_is_versioned(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "apps.yaml").write_text(MANIFEST)
    emu = ("--emulator",)
    commands: list[tuple[str, ...]] = [
        ("validate", "m", "--json"),
        ("plan", "m", *emu, "--json"),
        ("apply", "m", *emu, "--yes", "--json"),
        ("status", "m", *emu, "--json"),
        ("rotate", "m", *emu, "--yes", "--force", "--json"),
        ("export", "--all", *emu, "--json"),
        ("doctor", "m", *emu, "--json"),
        ("destroy", "m", *emu, "--yes", "--json"),
    ]
    for args in commands:
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode in (0, 1, 2, 3, 4), f"{args}: {proc.returncode}\n{proc.stderr}"
        _document(proc.stdout)


def test_failing_validate_json_is_still_versioned(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\napps:\n  - name: Bad Name!\n")
    proc = run_cli("validate", "bad.yaml", "--json", cwd=tmp_path)
    assert proc.returncode == 1
    assert _document(proc.stdout)["valid"] is False
