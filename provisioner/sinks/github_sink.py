"""GitHub Actions sink: step outputs in ``$GITHUB_OUTPUT``, secrets masked first.

Masking: before any output is written, every secret value is announced with
the ``::add-mask::<value>`` workflow command on **stderr**, and only inside a
GitHub Actions step (``GITHUB_ACTIONS=true``). This is the one sanctioned place
a secret value is printed by the tool: the runner parses workflow commands
from both stdout and stderr of a step, consumes the command, replaces the value
by ``***`` in every later log line, and does not echo the command itself.
Stderr, because stdout belongs to ``--json`` (a mask line there made the
document invalid and put the secret into whatever file stdout was redirected
to); never outside Actions, where no runner consumes the line and it would only
print the secret. It must come first, or an earlier mention would leak unmasked.
Multi-line values are masked line by line (logs are line based) and escaped as
workflow-command data (``%``, CR, LF).

Outputs use the multi-line-safe heredoc form ``name<<DELIMITER`` with a random
delimiter, as ``@actions/core`` does. Names are the connection-values keys
(``tenant_id``, ``client_id``, ``client_secret``, ``client_secret_id``,
``client_secret_expires``, ``authorization_url``, ``token_url``, ``scopes``,
``app_scopes``, ``redirect_uris`` (space-joined), extra values, ...) after the
sink's prefix; read them as ``steps.<id>.outputs.<name>``. GitHub drops masked
values from *job* outputs, so a secret is usable within the job that ran the
tool (or via Key Vault across jobs).

Outputs last one job, so this sink never "holds" a secret between runs.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Mapping
from typing import Any

from provisioner.core import settings
from provisioner.core.errors import SinkError
from provisioner.model.manifest import App, GithubSink
from provisioner.sinks.common import DeliveryReceipt, flat_values, held_secret_id, reason, secret_strings

_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _command_data(text: str) -> str:
    # Workflow-command data escaping (same as @actions/core escapeData).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def add_mask_lines(values: Mapping[str, Any]) -> list[str]:
    """The ``::add-mask::`` commands for every secret value in ``values``."""
    lines: list[str] = []
    for secret in secret_strings(values):
        for part in [secret, *secret.splitlines()]:
            command = f"::add-mask::{_command_data(part)}"
            if part.strip() and command not in lines:
                lines.append(command)
    return lines


def _heredoc(name: str, value: str) -> str:
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:  # pragma: no cover - a random UUID inside a value
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def describe(sink: GithubSink) -> str:
    return f"GitHub Actions outputs {settings.env(settings.GITHUB_OUTPUT) or '($GITHUB_OUTPUT unset)'}"


def deliver(sink: GithubSink, app: App, values: Mapping[str, Any]) -> DeliveryReceipt:
    output = settings.env(settings.GITHUB_OUTPUT)
    if not output:
        raise SinkError(
            f"app {app.name!r}: github sink needs $GITHUB_OUTPUT, which is only set inside a GitHub Actions "
            "step; run there or remove the sink"
        )
    chunks: list[str] = []
    for key, value in flat_values(values).items():
        name = f"{sink.prefix}{key}"
        if not _OUTPUT_NAME.match(name):
            raise SinkError(f"app {app.name!r}: {name!r} is not a valid GitHub Actions output name")
        chunks.append(_heredoc(name, value))
    if settings.running_in_github_actions():
        for command in add_mask_lines(values):
            sys.stderr.write(command + "\n")
        sys.stderr.flush()
    try:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write("".join(chunks))
    except OSError as exc:
        raise SinkError(
            f"app {app.name!r}: cannot append to $GITHUB_OUTPUT file {output}: {reason(exc, values)}"
        ) from None
    return DeliveryReceipt(describe(sink), held_secret_id(values))


def held_key_id(sink: GithubSink, app: App) -> str | None:
    return None
