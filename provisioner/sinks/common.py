"""Pieces every sink shares: the receipt, path resolution, existing files, safe error text.

A receipt records *which* secret (keyId) a sink now holds — never the value —
so the caller can roll back a freshly minted secret after a failed delivery
and later tell which sinks still hold an old secret.

File sinks never change the mode of a file they find: an existing file is
replaced with its own permission bits (a file this tool creates starts at 0600).
Whether a found file is the tool's own is each sink's call (JSON: its ``app``
key; dotenv: the tool's block markers).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.core.errors import SinkError
from provisioner.core.fileio import PRIVATE_FILE_MODE, atomic_write_text
from provisioner.model.connections import SECRET_KEYS
from provisioner.model.sink_rules import flat_values, folder_fact, resolve_path


@dataclass(frozen=True)
class DeliveryReceipt:
    """``sink`` is a human description (type and location); ``key_id`` the secret it now holds."""

    sink: str
    key_id: str | None


def secret_strings(values: Mapping[str, Any]) -> list[str]:
    """Every secret value in ``values`` (any depth), for scrubbing error text and masking."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, item in node.items():
                if key in SECRET_KEYS and isinstance(item, str) and item:
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(values)
    return found


def reason(exc: BaseException, values: Mapping[str, Any] | None = None) -> str:
    """One line describing ``exc`` for a SinkError, with any secret value blanked out.

    OSError text is "strerror" only (the path is named by the caller); other
    exceptions use their first line. Secrets are scrubbed as a second line of
    defence: no library should echo a value, but a message must never carry one.
    """
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    for secret in secret_strings(values or {}):
        text = text.replace(secret, "****")
    return text[:300]


def held_secret_id(values: Mapping[str, Any]) -> str | None:
    """The keyId a set of written values holds: only meaningful when the value is there too."""
    key_id = values.get("client_secret_id")
    return key_id if values.get("client_secret") and isinstance(key_id, str) else None


@dataclass(frozen=True)
class ExistingFile:
    """What a file sink found at its path: the text (None: no file) and the permission bits to keep."""

    text: str | None
    mode: int | None

    @property
    def write_mode(self) -> int:
        return self.mode if self.mode is not None else PRIVATE_FILE_MODE


def read_existing(path: Path, what: str) -> ExistingFile:
    """The file a sink is about to replace; SinkError when it is something no sink may replace.

    ``what`` names the sink kind in messages ("json file", "dotenv file"). A symlink is
    followed for reading (the write replaces the link itself, see ``core.fileio``).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ExistingFile(None, None)
    except NotADirectoryError:
        raise SinkError(f"{what} {path}: a parent of this path is a file, not a folder") from None
    except OSError as exc:
        raise SinkError(f"cannot read {what} {path}: {reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise SinkError(f"{what} {path} is a folder; name a file")
    if not stat.S_ISREG(info.st_mode):
        raise SinkError(f"{what} {path} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SinkError(f"cannot read {what} {path}: {reason(exc)}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SinkError(f"{what} {path} is not UTF-8 text; fix or delete it") from None
    return ExistingFile(text, stat.S_IMODE(info.st_mode) & 0o777)


def write_file(path: Path, text: str, existing: ExistingFile) -> None:
    """Replace ``path`` atomically, keeping the permission bits of the file that was there."""
    atomic_write_text(path, text, existing.write_mode)


def writable_problem(path: Path) -> str | None:
    """Why a file sink could not write ``path`` (a short phrase), or None; never writes.

    The write goes to a temporary file in the same folder, then a rename: the nearest existing
    folder must be writable, and an existing file must be writable too (a read-only file is the
    owner's way of saying "leave it").
    """
    if os.path.lexists(path) and os.path.exists(path) and not os.access(path, os.W_OK):
        return "the file is not writable"
    # Several apps write to one folder: a pass looks at it once (see folders_remembered).
    return folder_fact("writable", str(path.parent), lambda: _folder_problem(path.parent))


def _folder_problem(folder: Path) -> str | None:
    """Why no file could be created in ``folder`` (created first if missing), or None."""
    while not folder.exists():
        if folder.parent == folder:
            return "no existing parent folder"
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None


__all__ = [
    "DeliveryReceipt",
    "ExistingFile",
    "flat_values",
    "held_secret_id",
    "read_existing",
    "reason",
    "resolve_path",
    "secret_strings",
    "writable_problem",
    "write_file",
]
