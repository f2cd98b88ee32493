"""JSON file sink: the whole connection values dict, mode 0600, replaced atomically.

The default sink (``.provisioner/connections/<app>.json``) is a JSON sink too;
it is the tool's own memory of secret values between runs (see
``connections.merge_previous``). JSON keys are exactly the keys of
``connections.connection_values``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.fileio import atomic_write_json
from provisioner.model.connections import read_connection_file
from provisioner.model.manifest import App, JsonSink
from provisioner.sinks.common import DeliveryReceipt, held_secret_id, reason, resolve_path


def describe(sink: JsonSink, base_dir: str | os.PathLike[str] | None = None) -> str:
    return f"json file {resolve_path(sink.path, base_dir)}"


def deliver(
    sink: JsonSink, app: App, values: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DeliveryReceipt:
    path = resolve_path(sink.path, base_dir)
    try:
        atomic_write_json(path, dict(values))
    except OSError as exc:
        raise SinkError(f"app {app.name!r}: cannot write json file {path}: {reason(exc, values)}") from None
    return DeliveryReceipt(describe(sink, base_dir), held_secret_id(values))


def held_key_id(sink: JsonSink, app: App, *, base_dir: str | os.PathLike[str] | None = None) -> str | None:
    previous = read_connection_file(resolve_path(sink.path, base_dir))
    return held_secret_id(previous) if previous else None


def held_secret(
    sink: JsonSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The connection values the file holds, when they include a secret value."""
    previous = read_connection_file(resolve_path(sink.path, base_dir))
    return previous if previous and previous.get("client_secret") else None
