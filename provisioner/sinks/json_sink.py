"""JSON file sink: the whole connection values dict, replaced atomically (0600 when created).

The default sink (``.provisioner/connections/<app>.json``) is a JSON sink too;
it is the tool's own memory of secret values between runs (see
``connections.merge_previous``). JSON keys are exactly the keys of
``connections.connection_values``, except those the sink's ``rename`` maps to the product's
own names; everything that reads the file back (held keyIds, secret recovery, provenance)
undoes the rename first.

Provenance: every file this sink writes carries ``"app": "<app name>"`` (a key
``connection_values`` always sets, so files written by earlier versions qualify
too). A file found at the path without that key — invalid JSON, some other
document, another app's connection values — is not replaced unless the sink says
``overwrite: true``; an existing file keeps its mode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.fileio import indented_json
from provisioner.model.connections import read_connection_file
from provisioner.model.manifest import App, JsonSink
from provisioner.model.sink_rules import original, renamed
from provisioner.sinks.common import (
    DeliveryReceipt,
    ExistingFile,
    held_secret_id,
    read_existing,
    reason,
    resolve_path,
    write_file,
)


def describe(sink: JsonSink, base_dir: str | os.PathLike[str] | None = None) -> str:
    return f"json file {resolve_path(sink.path, base_dir)}"


def check_existing(sink: JsonSink, app: App, path: Path) -> ExistingFile:
    """The file at ``path`` if this sink may replace it; SinkError (one line, no content) if not."""
    existing = read_existing(path, "json file")
    if existing.text is None:
        return existing
    try:
        data = json.loads(existing.text)
    except json.JSONDecodeError as exc:
        if sink.overwrite:
            return existing
        raise SinkError(
            f"app {app.name!r}: json file {path} is not valid JSON (line {exc.lineno}) and was not written by "
            "provisioner; fix or delete it, or set overwrite: true on the sink"
        ) from None
    if isinstance(data, dict):
        data = original(data, sink.rename)
    owner = data.get("app") if isinstance(data, dict) else None
    if owner == app.name or sink.overwrite:
        return existing
    whose = (
        f"holds the connection values of app {owner!r}"
        if isinstance(owner, str) and "client_id" in data
        else "was not written by provisioner"
    )
    raise SinkError(
        f"app {app.name!r}: json file {path} {whose}; refusing to replace it "
        "(choose another path, or set overwrite: true on the sink)"
    )


def deliver(
    sink: JsonSink, app: App, values: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DeliveryReceipt:
    path = resolve_path(sink.path, base_dir)
    existing = check_existing(sink, app, path)
    text = indented_json(renamed(values, sink.rename)) + "\n"
    try:
        write_file(path, text, existing)
    except OSError as exc:
        raise SinkError(f"app {app.name!r}: cannot write json file {path}: {reason(exc, values)}") from None
    return DeliveryReceipt(describe(sink, base_dir), held_secret_id(values))


def read_back(
    sink: JsonSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The file's connection values under their own names (the sink's ``rename`` undone); None: no file."""
    previous = read_connection_file(resolve_path(sink.path, base_dir))
    return original(previous, sink.rename) if previous is not None else None


def held_key_id(sink: JsonSink, app: App, *, base_dir: str | os.PathLike[str] | None = None) -> str | None:
    previous = read_back(sink, app, base_dir=base_dir)
    return held_secret_id(previous) if previous else None


def held_secret(
    sink: JsonSink, app: App, *, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The connection values the file holds, when they include a secret value."""
    previous = read_back(sink, app, base_dir=base_dir)
    return previous if previous and previous.get("client_secret") else None
