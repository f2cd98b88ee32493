"""The delivery journal: which keyIds this state directory has ever delivered, per app.

Why it exists: a secret Entra lists but no sink holds is either a rotation's
*predecessor* (delivered once, then replaced; consumers may still use it
during ``overlap``) or an *orphan* (Graph showed its value once to a run that
died before delivering it; nobody can use it). Entra cannot tell them apart and
the sinks no longer can either once a newer secret was delivered, so a run
killed between delivering an orphan's replacement and removing the orphan used
to leave the orphan alive until ``overlap`` passed. The journal remembers every
keyId a delivery handed to the sinks, so "unheld and never delivered" means
orphan.

File: ``<state_dir>/tenants/<cloud>/<tenant id>/delivered.json``
(:func:`provisioner.core.layout.journal_path`), written atomically with mode 0600;
journals of earlier versions (``<state_dir>/delivered.json``) are still read.
It holds keyIds and delivery times only, never a value or hint. Entries are
written *before* the sinks (write-ahead): a keyId some sink may hold is always
in the journal, so a crash can make the journal say too much (harmless: the
policy then keeps the secret until ``overlap``), never too little (which would
remove a secret consumers still use).

Without a journal entry for an app (fresh CI workspace, first run, a file that
cannot be read) the policy falls back to the rule without a journal.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provisioner.core.fileio import atomic_write_json, ensure_private_dir
from provisioner.core.layout import journal_path, legacy_journal_paths

PathLike = str | os.PathLike[str]

#: Distinct keyIds kept per app: many rotations' worth, while the file stays small.
KEEP_PER_APP = 20


def _load(path: Path) -> dict[str, list[dict[str, str]]] | None:
    """Entries by app, or None when the file is missing or unusable (callers fall back to no journal)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    apps = data.get("apps") if isinstance(data, dict) else None
    if not isinstance(apps, dict):
        return None
    out: dict[str, list[dict[str, str]]] = {}
    for app, entries in apps.items():
        if isinstance(app, str) and isinstance(entries, list):
            out[app] = [
                {"key_id": str(e["key_id"]).lower(), "delivered_at": str(e.get("delivered_at", ""))}
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("key_id"), str)
            ]
    return out


def delivered_key_ids(app_name: str, state_dir: PathLike) -> frozenset[str] | None:
    """Lower-case keyIds ever delivered for ``app_name``; None when no journal has anything for it.

    The tenant's journal, plus journals written before state was keyed by tenant: keyIds are
    unique, so an old entry can only ever speak for the tenant that minted it.
    """
    found: set[str] = set()
    for path in [journal_path(state_dir), *legacy_journal_paths(state_dir)]:
        found.update(e["key_id"] for e in ((_load(path) or {}).get(app_name) or []))
    return frozenset(found) if found else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write across processes sharing the state dir (a lost entry is unsafe)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    ensure_private_dir(path.parent)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def record_delivery(
    app_name: str, key_ids: Iterable[str], state_dir: PathLike, *, now: datetime | None = None
) -> None:
    """Add ``key_ids`` to the app's entries (first delivery time kept), keeping the newest KEEP_PER_APP.

    Raises OSError when the journal cannot be written; the caller must then not deliver.
    """
    wanted = [k.lower() for k in key_ids if k]
    if not wanted:
        return
    path = journal_path(state_dir)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with _locked(path):
        apps = _load(path) or {}
        entries = apps.get(app_name, [])
        known = {e["key_id"] for e in entries}
        added = False
        for key_id in dict.fromkeys(wanted):
            if key_id not in known:
                entries.append({"key_id": key_id, "delivered_at": when})
                added = True
        if not added and app_name in apps:
            return
        apps[app_name] = entries[-KEEP_PER_APP:]
        document: dict[str, Any] = {"version": 1, "apps": apps}
        atomic_write_json(path, document)
