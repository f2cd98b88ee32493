"""What a ``plan`` imports: the CLI's start-up is mostly imports, so a heavy one it does not need is a regression.

A no-change ``plan`` of one app is bounded by interpreter start and imports (issue 15:
≤ 0.6 s). The token request goes through requests (which msal imports anyway), not
aiohttp, azure-core's default async transport, which costs ~100 ms of CPU to import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_support import base_env, ok, run_cli, tenant_env
from reliability_support import fresh_tenant

#: Modules ``plan`` must not import (and the reason, shown when it does).
NOT_FOR_PLAN = {
    "aiohttp": "the token endpoint goes through requests (graph/connect.token_transport)",
    "azure.core.pipeline.transport._aiohttp": "azure-core's aiohttp transport (see aiohttp)",
    "azure.keyvault": "only a Key Vault sink needs it",
    "provisioner.model.x509": "only certificates need it (and cryptography.x509 with it)",
}

MANIFEST = """\
version: 1
apps:
  - name: startup-probe
    display_name: Start-up probe
    audience: single-tenant
    permissions:
      Microsoft Graph:
        delegated: [User.Read]
"""


def _imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_plan_does_not_import_what_it_does_not_need(emulator: Any, tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "probe.yaml").write_text(MANIFEST)
    env = {**base_env(), **tenant_env(emulator, fresh_tenant(emulator)), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = run_cli("plan", "manifests", "--detailed-exitcode", cwd=tmp_path, env=env)
    ok(proc, 2)  # the app does not exist yet: a plan with changes, after a token and a tenant read
    assert "create application startup-probe" in proc.stdout
    imported = _imported(proc.stderr)
    assert "msgraph_core" in imported and "azure.identity.aio" in imported  # the probe saw the imports
    heavy = {
        name: why
        for name, why in NOT_FOR_PLAN.items()
        if any(m == name or m.startswith(name + ".") for m in imported)
    }
    assert not heavy, f"plan imported {heavy}"
