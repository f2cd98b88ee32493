"""Pieces every sink shares: the receipt, path resolution, safe error text.

A receipt records *which* secret (keyId) a sink now holds — never the value —
so the caller can roll back a freshly minted secret after a failed delivery
and later tell which sinks still hold an old secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.model.connections import SECRET_KEYS


@dataclass(frozen=True)
class DeliveryReceipt:
    """``sink`` is a human description (type and location); ``key_id`` the secret it now holds."""

    sink: str
    key_id: str | None


def resolve_path(path: str, base_dir: str | os.PathLike[str] | None) -> Path:
    """Manifest paths: ``~`` expanded; relative ones taken from ``base_dir`` (else the working directory)."""
    resolved = Path(path).expanduser()
    if not resolved.is_absolute() and base_dir is not None:
        resolved = Path(base_dir) / resolved
    return resolved.absolute()


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


def flat_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Top-level scalar values as strings; lists of strings space-joined; ``secrets`` left out.

    Line-oriented sinks (dotenv, GitHub outputs) carry one secret — the
    current ``client_secret`` — not the per-secret list the JSON file keeps.
    """
    flat: dict[str, str] = {}
    for key, value in values.items():
        if key == "secrets" or value is None:
            continue
        if isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                flat[key] = " ".join(value)
            continue
        if isinstance(value, Mapping):
            continue
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def held_secret_id(values: Mapping[str, Any]) -> str | None:
    """The keyId a set of written values holds: only meaningful when the value is there too."""
    key_id = values.get("client_secret_id")
    return key_id if values.get("client_secret") and isinstance(key_id, str) else None
