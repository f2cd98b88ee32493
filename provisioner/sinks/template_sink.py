"""Template sink: a file rendered from the connection values, laid out the way a product reads it.

Products want their own field names and file formats (a ``.properties`` file, a connection
string, a JSON document with their keys). The template is Python's ``string.Template``:
``$name``/``${name}`` substitution of the flat connection values, nothing else: no expressions,
no attribute access, no code, so a manifest cannot make the tool run anything.

Provenance: a rendered file carries no marker of ours (its format is the product's), so the
state folder keeps ``rendered.json``: per real path, the app, the SHA-256 of what was written
and the keyId it holds. A file at the path whose content is not what this tool last wrote there
is not replaced unless the sink says ``overwrite: true``; the record also answers which secret
the file holds (``status``).
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.fileio import atomic_write_text
from provisioner.model.manifest import App, TemplateSink
from provisioner.model.sink_rules import flat_values, real_path
from provisioner.model.template_rules import render, template_problems, template_text
from provisioner.sinks.common import DeliveryReceipt, held_secret_id, read_existing, reason, resolve_path

PathLike = str | os.PathLike[str]
RECORD = "rendered.json"

__all__ = ["check_existing", "deliver", "describe", "held_key_id", "template_problems", "template_text"]


def describe(sink: TemplateSink, base_dir: PathLike | None = None) -> str:
    return f"template file {resolve_path(sink.path, base_dir)}"


def _record_path(state_dir: PathLike) -> Path:
    return Path(state_dir) / RECORD


def _load_record(state_dir: PathLike | None) -> dict[str, Any]:
    if state_dir is None:
        return {}
    try:
        data = json.loads(_record_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_existing(sink: TemplateSink, app: App, path: Path, state_dir: PathLike | None) -> Any:
    """The file at ``path`` if this sink may replace it; SinkError (one line, no content) if not."""
    existing = read_existing(path, "template file")
    if existing.text is None or sink.overwrite:
        return existing
    entry = _load_record(state_dir).get(str(real_path(str(path), None)))
    if (
        isinstance(entry, dict)
        and entry.get("app") == app.name
        and entry.get("sha256") == _digest(existing.text)
    ):
        return existing
    raise SinkError(
        f"app {app.name!r}: template file {path} was not written by provisioner (or was changed since); "
        "refusing to replace it (choose another path, or set overwrite: true on the sink)"
    )


def deliver(
    sink: TemplateSink,
    app: App,
    values: Mapping[str, Any],
    *,
    base_dir: PathLike | None = None,
    state_dir: PathLike | None = None,
) -> DeliveryReceipt:
    path = resolve_path(sink.path, base_dir)
    try:
        source = template_text(sink, base_dir)
        text = render(source, flat_values(values))
    except SinkError as exc:
        raise SinkError(f"app {app.name!r}: {describe(sink, base_dir)}: {exc.message}") from None
    existing = check_existing(sink, app, path, state_dir)
    try:
        atomic_write_text(path, text, existing.write_mode)
    except OSError as exc:
        raise SinkError(
            f"app {app.name!r}: cannot write template file {path}: {reason(exc, values)}"
        ) from None
    # the file holds the secret only if the template writes it
    key_id = held_secret_id(values) if "client_secret" in string.Template(source).get_identifiers() else None
    if state_dir is not None:
        record = _load_record(state_dir)
        record[str(real_path(str(path), None))] = {"app": app.name, "sha256": _digest(text), "key_id": key_id}
        try:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                _record_path(state_dir), json.dumps(record, indent=2, sort_keys=True) + "\n", 0o600
            )
        except OSError as exc:
            raise SinkError(
                f"app {app.name!r}: cannot record the template file in {_record_path(state_dir)}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
    return DeliveryReceipt(describe(sink, base_dir), key_id)


def held_key_id(
    sink: TemplateSink, app: App, *, base_dir: PathLike | None = None, state_dir: PathLike | None = None
) -> str | None:
    """The keyId the rendered file holds, if it is still what this tool wrote there."""
    path = resolve_path(sink.path, base_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    entry = _load_record(state_dir).get(str(real_path(str(path), None)))
    if isinstance(entry, dict) and entry.get("app") == app.name and entry.get("sha256") == _digest(text):
        key_id = entry.get("key_id")
        return key_id if isinstance(key_id, str) else None
    return None
