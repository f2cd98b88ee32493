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

Mint intents: right before a run asks Entra for new secrets it records, per app,
Graph's time of the request (``mints``). A secret that no sink holds, that no
delivery lists and whose ``startDateTime`` falls just after such an intent was
minted by this tool and never delivered: an orphan, even for an app that has no
delivery yet (a first run killed after ``addPassword``).

Without a journal entry for an app (fresh CI workspace, first run, a file that
cannot be read) the policy falls back to the rule without a journal.

Work per run is linear: a run reads the journal once (:func:`load_journal`) and
writes it once per phase (:func:`record`), whatever the number of apps.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provisioner.core.fileio import atomic_write_json, ensure_private_dir
from provisioner.core.layout import journal_path, legacy_journal_paths

PathLike = str | os.PathLike[str]

#: Distinct keyIds (and mint intents) kept per app: many rotations' worth, while the file stays small.
KEEP_PER_APP = 20

_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Journal:
    """What a state dir's journals say, read once per run: delivered keyIds and mint intents per app."""

    delivered: Mapping[str, frozenset[str]] = field(default_factory=dict)
    intents: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)

    def delivered_key_ids(self, app_name: str) -> frozenset[str] | None:
        """Lower-case keyIds ever delivered for the app; None when no journal lists any."""
        return self.delivered.get(app_name) or None

    def mint_intents(self, app_name: str) -> tuple[datetime, ...]:
        return self.intents.get(app_name, ())


def _parse_time(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _load(path: Path) -> dict[str, Any] | None:
    """The document (``apps`` entries and ``mints``), or None when missing or unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    apps = data.get("apps") if isinstance(data, dict) else None
    if not isinstance(apps, dict):
        return None
    out_apps: dict[str, list[dict[str, str]]] = {}
    for app, entries in apps.items():
        if isinstance(app, str) and isinstance(entries, list):
            out_apps[app] = [
                {"key_id": str(e["key_id"]).lower(), "delivered_at": str(e.get("delivered_at", ""))}
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("key_id"), str)
            ]
    mints = data.get("mints")
    out_mints: dict[str, list[str]] = {}
    if isinstance(mints, dict):
        for app, stamps in mints.items():
            if isinstance(app, str) and isinstance(stamps, list):
                out_mints[app] = [str(t) for t in stamps if _parse_time(t) is not None]
    return {"apps": out_apps, "mints": out_mints}


def load_journal(state_dir: PathLike) -> Journal:
    """The tenant's journal plus journals of earlier versions (keyIds are unique, so they cannot mislead)."""
    delivered: dict[str, set[str]] = {}
    intents: dict[str, list[datetime]] = {}
    for path in [journal_path(state_dir), *legacy_journal_paths(state_dir)]:
        doc = _load(path)
        if doc is None:
            continue
        for app, entries in doc["apps"].items():
            delivered.setdefault(app, set()).update(e["key_id"] for e in entries)
        for app, stamps in doc["mints"].items():
            intents.setdefault(app, []).extend(t for t in map(_parse_time, stamps) if t is not None)
    return Journal(
        delivered={app: frozenset(keys) for app, keys in delivered.items() if keys},
        intents={app: tuple(sorted(times)) for app, times in intents.items()},
    )


def delivered_key_ids(app_name: str, state_dir: PathLike) -> frozenset[str] | None:
    """Lower-case keyIds ever delivered for ``app_name``; None when no journal has anything for it."""
    return load_journal(state_dir).delivered_key_ids(app_name)


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


def record(
    state_dir: PathLike,
    *,
    deliveries: Mapping[str, Iterable[str]] | None = None,
    intents: Mapping[str, datetime] | None = None,
    now: datetime | None = None,
) -> None:
    """Add deliveries (app -> keyIds; first delivery time kept) and mint intents, in one write.

    Raises OSError when the journal cannot be written; the caller must then neither
    deliver nor mint.
    """
    wanted = {app: [k.lower() for k in keys if k] for app, keys in (deliveries or {}).items()}
    wanted = {app: keys for app, keys in wanted.items() if keys}
    if not wanted and not intents:
        return
    path = journal_path(state_dir)
    when = (now or datetime.now(UTC)).strftime(_STAMP)
    with _locked(path):
        doc = _load(path) or {"apps": {}, "mints": {}}
        apps: dict[str, list[dict[str, str]]] = doc["apps"]
        mints: dict[str, list[str]] = doc["mints"]
        changed = False
        for app, keys in wanted.items():
            entries = apps.get(app, [])
            known = {e["key_id"] for e in entries}
            for key_id in dict.fromkeys(keys):
                if key_id not in known:
                    entries.append({"key_id": key_id, "delivered_at": when})
                    changed = True
            if app not in apps:
                changed = True
            apps[app] = entries[-KEEP_PER_APP:]
        for app, moment in (intents or {}).items():
            mints[app] = [*mints.get(app, []), moment.astimezone(UTC).strftime(_STAMP)][-KEEP_PER_APP:]
            changed = True
        if changed:
            atomic_write_json(path, {"version": 2, "apps": apps, "mints": mints})


def record_delivery(
    app_name: str, key_ids: Iterable[str], state_dir: PathLike, *, now: datetime | None = None
) -> None:
    """Add ``key_ids`` to the app's entries (first delivery time kept), keeping the newest KEEP_PER_APP.

    Raises OSError when the journal cannot be written; the caller must then not deliver.
    """
    record(state_dir, deliveries={app_name: key_ids}, now=now)
