"""Pointing the unmodified Azure CLI at the emulator: an isolated custom cloud, then a sign-in.

``az`` learns endpoints from a registered cloud. The emulator is the sign-in authority
(``active-directory``), its ``/arm/`` path answers Azure Resource Manager, and its own
base URL is the Microsoft Graph resource id: az derives the Graph endpoint from that id
(``{id}/v1.0``) and asks for tokens for it, which the emulator issues as Graph tokens.
The management resource id stays ``https://management.core.windows.net/``, a resource
every emulated tenant has. Instance discovery is switched off (it would ask Microsoft's
public cloud), the emulator's CA is trusted through ``REQUESTS_CA_BUNDLE``, and
``AZURE_CONFIG_DIR`` keeps all of it away from the user's own ``~/.azure``.

The client secret never appears in what is printed: the sign-in line reads it from
``$AZURE_CLIENT_SECRET``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from provisioner.emulator.arm.models import AUDIENCES
from provisioner.emulator.errors import EmulatorError
from provisioner.emulator.paths import ARM_PREFIX

DEFAULT_CLOUD = "ProvisionerEmulator"
SECRET_VARIABLE = "AZURE_CLIENT_SECRET"
_SECRET = object()  # placeholder for the secret in a step's argv


@dataclass(frozen=True)
class AzSetup:
    url: str  # the emulator's base URL, e.g. https://localhost:8443
    ca_cert: Path
    tenant_id: str
    client_id: str
    config_dir: Path
    cloud_name: str = DEFAULT_CLOUD

    def env(self) -> dict[str, str]:
        return {"AZURE_CONFIG_DIR": str(self.config_dir), "REQUESTS_CA_BUNDLE": str(self.ca_cert)}

    def endpoint_args(self) -> list[str]:
        base = self.url.rstrip("/")
        return [
            "--endpoint-active-directory",
            base,
            "--endpoint-active-directory-resource-id",
            AUDIENCES[0],
            "--endpoint-resource-manager",
            f"{base}{ARM_PREFIX}/",
            "--endpoint-microsoft-graph-resource-id",
            f"{base}/",
        ]

    def steps(self) -> list[list[str | object]]:
        """The az invocations, in order (argv after ``az``; the secret as a placeholder)."""
        return [
            ["config", "set", "core.instance_discovery=false", "core.collect_telemetry=false"],
            [
                "cloud",
                "register",
                "--name",
                self.cloud_name,
                *self.endpoint_args(),
                "--skip-endpoint-discovery",
            ],
            ["cloud", "set", "--name", self.cloud_name],
            [
                "login",
                "--service-principal",
                "--username",
                self.client_id,
                "--password",
                _SECRET,
                "--tenant",
                self.tenant_id,
                "--allow-no-subscriptions",
            ],
        ]

    def script(self) -> str:
        """The steps as shell lines (POSIX sh), what ``provisioner emulator az-setup`` prints."""
        lines = [
            "# Azure CLI -> provisioner emulator: an isolated config dir (your ~/.azure is untouched)",
            *(f"export {name}={shlex.quote(value)}" for name, value in self.env().items()),
        ]
        for step in self.steps():
            words = [f'"${SECRET_VARIABLE}"' if w is _SECRET else shlex.quote(str(w)) for w in step]
            lines.append("az " + " ".join(words))
        return "\n".join(lines) + "\n"


def run(
    setup: AzSetup,
    *,
    az: str,
    secret: str,
    report: Callable[[str], None],
    base_env: Mapping[str, str] | None = None,
) -> None:
    """Run the steps with ``az``; :class:`EmulatorError` with az's last error line if one fails.

    A cloud already registered under the name (an earlier run with the same config dir)
    is updated instead.
    """
    setup.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**(base_env if base_env is not None else os.environ), **setup.env()}
    for step in setup.steps():
        argv = [az, *(secret if w is _SECRET else str(w) for w in step)]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if (
            result.returncode != 0
            and step[:2] == ["cloud", "register"]
            and "already registered" in result.stderr
        ):
            update = [
                az,
                "cloud",
                "update",
                "--name",
                setup.cloud_name,
                *setup.endpoint_args(),
                "--skip-endpoint-discovery",
            ]
            result = subprocess.run(update, env=env, capture_output=True, text=True, check=False)
        shown = " ".join("***" if w is _SECRET else str(w) for w in step[:2])
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            reason = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "")
            raise EmulatorError(
                f"az {shown} failed (exit {result.returncode}): {reason.replace(secret, '***')}"
            )
        report(f"ok: az {shown}")
