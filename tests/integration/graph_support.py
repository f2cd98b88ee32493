"""Checks shared by the emulator's Graph tests."""

from __future__ import annotations

from typing import Any


def internal_keys(node: Any) -> list[str]:
    """Every mapping key starting with "_" anywhere in ``node``.

    The emulator's internal fields (secret hashes, owners, mailbox links) must never
    leave it. Keys, not values: ids and change keys are base64url and may start with "_".
    """
    if isinstance(node, dict):
        return [k for k in node if k.startswith("_")] + [x for v in node.values() for x in internal_keys(v)]
    if isinstance(node, list):
        return [x for v in node for x in internal_keys(v)]
    return []
