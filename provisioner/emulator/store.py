"""Emulator state: Graph-shaped JSON objects, per tenant and kind, durable in SQLite.

Objects are kept exactly as Graph would serialise them (camelCase dicts), so the
Graph layer can filter, select and return them without a translation step.
Every mutation is written through to SQLite inside a transaction before the
HTTP response is sent: an acknowledged write survives a crash or a restart.
Without a path the database lives in memory (tests, throwaway servers).

Kinds in use (free-form strings, one namespace per tenant):
``applications``, ``deletedApplications``, ``servicePrincipals``, ``deletedServicePrincipals``,
``oauth2PermissionGrants``, ``appRoleAssignments``, ``users``, ``messages``,
``authCodes``, ``refreshTokens``, ``meta`` (tenant settings, signing key, ...).
The pseudo-tenant ``"*"`` holds workplace-wide records (kind ``tenants``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from provisioner.emulator.files import create_private_file, private_directory

GLOBAL = "*"

_READ_ONLY_MESSAGE = (
    "read-only view of emulator state: change a copy from Store.get/list/find and Store.put it back"
)


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(_READ_ONLY_MESSAGE)


class FrozenDict(dict):  # type: ignore[type-arg]
    """A JSON object of the stored state that refuses in-place changes.

    A ``dict`` subclass so reads, ``json.dumps``, ``{**view}`` and equality work
    unchanged; only :func:`freeze` builds one, so every value below it is frozen
    too and can be shared between objects and readers without copying.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> Any:
        return (dict, (thaw(self),))


class FrozenList(list):  # type: ignore[type-arg]
    """The list counterpart of :class:`FrozenDict`."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = remove = pop = clear = sort = reverse = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> Any:
        return (list, (thaw(self),))


def freeze(value: Any) -> Any:
    """A deeply immutable version of a JSON value; frozen parts are shared, not copied."""
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict([(k, freeze(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return FrozenList([freeze(v) for v in value])
    return value  # str, int, float, bool, None: immutable already


def thaw(value: Any) -> Any:
    """A private, mutable deep copy of a (frozen) JSON value; much cheaper than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def _indexable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


class Store:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else None
        if self.path:
            private_directory(self.path.parent)
            # The state holds the bootstrap admin's secret: private from the first byte, whatever the
            # umask (SQLite gives its -wal/-shm files the database file's mode).
            create_private_file(self.path)
        # check_same_thread=False: the server thread writes, tests may read.
        self._db = sqlite3.connect(
            str(self.path) if self.path else ":memory:", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL" if self.path else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (tenant, kind, id))"
        )
        self.lock = threading.RLock()
        self._depth = 0
        self._undo: list[tuple[tuple[str, str], str, dict[str, Any] | None]] = []
        # In-memory cache in insertion (creation) order; SQLite is the durable copy.
        self._cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # Equality indexes for find_views, built on a field's first lookup and kept up to date by
        # put/delete (a transaction's rollback drops them): (bucket, field) -> value -> {oid: object}.
        self._index: dict[tuple[tuple[str, str], str], dict[Any, dict[str, dict[str, Any]]]] = {}
        # Creation order of each object (matches are returned in it, as a scan of the cache would).
        self._order: dict[tuple[str, str], dict[str, int]] = {}
        self._next = 0
        for tenant, kind, oid, body in self._db.execute(
            "SELECT tenant, kind, id, body FROM objects ORDER BY rowid"
        ):
            self._cache.setdefault((tenant, kind), {})[oid] = freeze(json.loads(body))
            self._number((tenant, kind), oid)

    # -- reads
    # get/list/find hand out private mutable copies: callers may change them and put() them back.
    # view/views/find_views hand out the stored objects themselves, frozen (FrozenDict/FrozenList):
    # free, and an accidental in-place change raises TypeError instead of corrupting state. Hot
    # read-only paths (list responses, the ~1500-entry first-party service principals) use views.
    def get(self, tenant: str, kind: str, oid: str) -> dict[str, Any] | None:
        obj = self.view(tenant, kind, oid)
        return thaw(obj) if obj is not None else None

    def list(self, tenant: str, kind: str) -> list[dict[str, Any]]:
        return [thaw(o) for o in self.views(tenant, kind)]

    def find(self, tenant: str, kind: str, **equals: Any) -> list[dict[str, Any]]:
        """Objects whose top-level fields equal the given values (case-sensitive)."""
        return [thaw(o) for o in self.find_views(tenant, kind, **equals)]

    def view(self, tenant: str, kind: str, oid: str) -> dict[str, Any] | None:
        """The stored object, read-only and shared (see :class:`FrozenDict`)."""
        with self.lock:
            return self._cache.get((tenant, kind), {}).get(oid)

    def views(self, tenant: str, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._cache.get((tenant, kind), {}).values())

    def find_views(self, tenant: str, kind: str, **equals: Any) -> list[dict[str, Any]]:
        """Stored objects whose top-level fields equal ``equals``, in creation order.

        A lookup by a scalar value goes through an index of that field (a scan of every object per
        lookup made a 1,000-app apply quadratic: 43% of the emulator's CPU); other lookups scan.
        """
        bucket_key = (tenant, kind)
        with self.lock:
            field = next((k for k, v in equals.items() if _indexable(v)), None)
            if field is None:
                return [
                    o
                    for o in self._cache.get(bucket_key, {}).values()
                    if all(o.get(k) == v for k, v in equals.items())
                ]
            hits = self._indexed(bucket_key, field).get(equals[field], {})
            found = [(oid, o) for oid, o in hits.items() if all(o.get(k) == v for k, v in equals.items())]
            if len(found) > 1:
                order = self._order.get(bucket_key, {})
                found.sort(key=lambda pair: order.get(pair[0], 0))
            return [o for _, o in found]

    def _indexed(self, bucket_key: tuple[str, str], field: str) -> dict[Any, dict[str, dict[str, Any]]]:
        index = self._index.get((bucket_key, field))
        if index is None:
            index = {}
            for oid, obj in self._cache.get(bucket_key, {}).items():
                value = obj.get(field)
                if _indexable(value):
                    index.setdefault(value, {})[oid] = obj
            self._index[(bucket_key, field)] = index
        return index

    def _reindex(self, bucket_key: tuple[str, str], oid: str, old: Any, new: Any) -> None:
        """Move ``oid`` from ``old``'s entries to ``new``'s in every index of its bucket (None: absent)."""
        for (key, field), index in self._index.items():
            if key != bucket_key:
                continue
            if old is not None:
                value = old.get(field)
                if _indexable(value):
                    entries = index.get(value)
                    if entries is not None:
                        entries.pop(oid, None)
                        if not entries:
                            del index[value]
            if new is not None:
                value = new.get(field)
                if _indexable(value):
                    index.setdefault(value, {})[oid] = new

    def _number(self, bucket_key: tuple[str, str], oid: str) -> None:
        order = self._order.setdefault(bucket_key, {})
        if oid not in order:
            order[oid] = self._next
            self._next += 1

    def tenants(self) -> list[str]:
        with self.lock:
            return list(self._cache.get((GLOBAL, "tenants"), {}).keys())

    # -- writes
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so they become durable together (or not at all).

        Rollback replays an undo log of the objects each write replaced; cached objects
        are frozen (never mutated in place), so the log holds references instead of
        copying the whole state per transaction.
        """
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
                self._undo = []
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    for bucket_key, oid, previous in reversed(self._undo):
                        bucket = self._cache.setdefault(bucket_key, {})
                        if previous is None:
                            bucket.pop(oid, None)
                            self._order.get(bucket_key, {}).pop(oid, None)
                        else:
                            bucket[oid] = previous
                            self._number(bucket_key, oid)
                        for index_key in [k for k in self._index if k[0] == bucket_key]:
                            del self._index[index_key]  # rebuilt from the restored cache on next use
                    self._undo = []
                raise
            else:
                self._depth -= 1
                if outer:
                    self._db.execute("COMMIT")
                    self._undo = []

    def _remember(self, bucket_key: tuple[str, str], oid: str) -> None:
        self._undo.append((bucket_key, oid, self._cache.get(bucket_key, {}).get(oid)))

    def put(self, tenant: str, kind: str, obj: dict[str, Any], oid: str | None = None) -> dict[str, Any]:
        oid = oid or obj["id"]
        with self.transaction():
            self._db.execute(
                "INSERT INTO objects (tenant, kind, id, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(tenant, kind, id) DO UPDATE SET body = excluded.body",
                (tenant, kind, oid, json.dumps(obj)),
            )
            self._remember((tenant, kind), oid)
            bucket = self._cache.setdefault((tenant, kind), {})
            frozen = freeze(obj)
            old = bucket.get(oid)
            bucket[oid] = frozen
            self._number((tenant, kind), oid)
            self._reindex((tenant, kind), oid, old, frozen)
        return obj

    def delete(self, tenant: str, kind: str, oid: str) -> bool:
        with self.transaction():
            cur = self._db.execute(
                "DELETE FROM objects WHERE tenant = ? AND kind = ? AND id = ?", (tenant, kind, oid)
            )
            self._remember((tenant, kind), oid)
            old = self._cache.get((tenant, kind), {}).pop(oid, None)
            self._order.get((tenant, kind), {}).pop(oid, None)
            self._reindex((tenant, kind), oid, old, None)
            return cur.rowcount > 0

    def close(self) -> None:
        with self.lock:
            self._db.close()
