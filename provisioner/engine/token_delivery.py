"""Deliver the tokens ``authorize`` obtained to the sinks the manifest names (``token_sinks``).

Some products take the access and refresh token pasted into their connection settings rather
than running the sign-in themselves; the manifest says where they go (a JSON file, a dotenv
block, a file rendered from a template) and ``authorize`` writes them there after the token
file. The token file stays the tool's own copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.manifest.loader import LoadedApp
from provisioner.model.connections import TOKEN_KEYS
from provisioner.sinks import describe
from provisioner.sinks.deliver import deliver


def token_values(app_name: str, token_file: Mapping[str, Any]) -> dict[str, Any]:
    """What a token sink gets: the token file's fields a product uses, under stable names."""
    values: dict[str, Any] = {"app": app_name}
    for key in TOKEN_KEYS[1:]:
        value = token_file.get(key)
        values[key] = "" if value is None else value
    return values


def deliver_tokens(
    loaded: LoadedApp, token_file: Mapping[str, Any], *, base_dir: Path, state_dir: Path
) -> list[str]:
    """Write the tokens to every ``token_sinks`` entry; returns where they went. SinkError: one line."""
    app = loaded.app
    values = token_values(app.name, token_file)
    written: list[str] = []
    for index, sink in enumerate(app.token_sinks):
        try:
            receipt = deliver(sink, app, values, base_dir=base_dir, state_dir=state_dir)
        except SinkError as exc:
            done = ", ".join(written) or "none"
            raise SinkError(
                f"token sink {index}: {exc.message} (tokens already delivered to: {done})"
            ) from None
        written.append(receipt.sink if receipt.sink else describe(sink, app, base_dir=base_dir))
    return written


def refresh_token_warnings(options: Any, *, now: float | None = None) -> list[str]:
    """One line per declared app whose token file's refresh token nears the 90-day inactivity limit."""
    from provisioner.engine.loading import load_manifests, select_apps
    from provisioner.oauth.token_file import default_token_path, read_token_file, refresh_token_warning

    loaded, _ = load_manifests(options.paths)
    lines: list[str] = []
    for item in select_apps(loaded, options.apps):
        path = default_token_path(options.state_dir, item.app.name)
        try:
            data = read_token_file(path)
        except ProvisionerError as exc:
            lines.append(f"app {item.app.name}: token file {path}: {exc}")
            continue
        warning = refresh_token_warning(data, now=now) if data else None
        if warning:
            lines.append(f"app {item.app.name} (token file {path}): {warning}")
    return lines
