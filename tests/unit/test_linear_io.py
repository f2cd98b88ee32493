"""Work per run is linear in the number of apps: the journal and sink code read and write each file once.

A run that rewrites the whole journal once per app (or re-reads it once per app) does
quadratic work: 1,000 apps meant millions of JSON-encoder steps. These tests count the
bytes and calls of every file read (``Path.read_text``/``read_bytes``) and every write
(``fileio.atomic_write_bytes``, behind every atomic write) across the local part of two
runs (a first delivery, then a rotation that replaces every secret), at N and 4N apps, and
fail when the work grows faster than linearly. Counts, never time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioner.core import fileio
from provisioner.core.layout import TenantKey, journal_path, tenant_scope
from provisioner.engine.apply import AppIds, ApplyResult
from provisioner.engine.delivery import check_sinks, deliver_connections
from provisioner.engine.options import RunOptions
from provisioner.engine.planner import Plan
from provisioner.graph.target import Target
from provisioner.manifest.loader import LoadedApp, load_text
from provisioner.model.connections import MintedSecret
from provisioner.model.tenant import TenantState
from provisioner.sinks.holdings import read_all_holdings
from provisioner.sinks.journal import load_journal

TENANT = "11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class IoCount:
    reads: int = 0
    read_bytes: int = 0
    writes: int = 0
    written_bytes: int = 0
    by_file: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return self.read_bytes + self.written_bytes

    @property
    def calls(self) -> int:
        return self.reads + self.writes


@pytest.fixture
def io(monkeypatch: pytest.MonkeyPatch) -> Iterator[IoCount]:
    count = IoCount()
    read_text, read_bytes, write = Path.read_text, Path.read_bytes, fileio.atomic_write_bytes

    def counted_read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        text = read_text(self, *args, **kwargs)
        count.reads += 1
        count.read_bytes += len(text)
        return text

    def counted_read_bytes(self: Path) -> bytes:
        data = read_bytes(self)
        count.reads += 1
        count.read_bytes += len(data)
        return data

    def counted_write(path: Any, data: bytes, *args: Any, **kwargs: Any) -> None:
        write(path, data, *args, **kwargs)
        count.writes += 1
        count.written_bytes += len(data)
        count.by_file[Path(path).name] += 1
        count.order.append(Path(path).name)

    monkeypatch.setattr(Path, "read_text", counted_read_text)
    monkeypatch.setattr(Path, "read_bytes", counted_read_bytes)
    monkeypatch.setattr(fileio, "atomic_write_bytes", counted_write)
    yield count


def manifest(n: int) -> str:
    lines = ["version: 1", "apps:"]
    for i in range(n):
        lines += [
            f"  - name: app-{i:04d}",
            f"    display_name: App {i}",
            "    secrets:",
            "      - name: main",
            "        expires_in: 90d",
            "    sinks:",
            "      - type: dotenv",
            f"        path: env/app-{i:04d}.env",
        ]
    return "\n".join(lines) + "\n"


def minted(i: int, round_: int) -> MintedSecret:
    key_id = f"{round_:08d}-0000-0000-0000-{i:012d}"
    return MintedSecret("main", key_id, f"value-{round_}-{i}", "val", NOW + timedelta(days=90))


def one_run(loaded: list[LoadedApp], base: Path, state_dir: Path, round_: int) -> ApplyResult:
    """The local part of an apply/rotate: preflight, holdings, then delivery of freshly minted secrets."""
    options = RunOptions(state_dir=state_dir, base_dir=base)
    plan = Plan(TENANT)
    check_sinks(plan, loaded, options)
    assert not plan.problems
    read_all_holdings(loaded, base, state_dir=state_dir)
    result = ApplyResult()
    for i, item in enumerate(loaded):
        result.apps[item.app.name] = AppIds(f"client-{i}", f"object-{i}", None)
        result.minted[item.app.name] = [minted(i, round_)]
    target = Target(tenant_id=TENANT, graph_url="https://graph.invalid/v1.0")
    state = TenantState(TENANT, {}, {})
    connections = asyncio.run(deliver_connections(None, target, loaded, state, result, state_dir, base))
    assert not result.errors and len(connections) == len(loaded)
    return result


def work(tmp_path: Path, n: int, io: IoCount) -> IoCount:
    base = tmp_path / f"n{n}"
    (base / "env").mkdir(parents=True)
    state_dir = base / ".provisioner"
    loaded, errors = load_text(manifest(n), "apps.yaml")
    assert not errors
    snapshot = IoCount()
    with tenant_scope(TenantKey("public", TENANT)):
        before = IoCount(io.reads, io.read_bytes, io.writes, io.written_bytes)
        io.by_file.clear()
        io.order.clear()
        one_run(loaded, base, state_dir, 1)
        one_run(loaded, base, state_dir, 2)
        snapshot = IoCount(
            io.reads - before.reads,
            io.read_bytes - before.read_bytes,
            io.writes - before.writes,
            io.written_bytes - before.written_bytes,
            Counter(io.by_file),
            list(io.order),
        )
        journal = load_journal(state_dir)
        name = journal_path(state_dir).name
    # Both rounds' keyIds are journaled for every app: write-ahead, nothing lost by batching.
    assert all(len(journal.delivered_key_ids(f"app-{i:04d}") or ()) == 2 for i in range(n))
    snapshot.order = [f for f in snapshot.order if f == name or f.endswith((".json", ".env"))]
    snapshot.by_file = Counter({name: snapshot.by_file[name]})
    return snapshot


def test_journal_is_written_once_per_run_and_before_any_sink(tmp_path: Path, io: IoCount) -> None:
    counted = work(tmp_path, 12, io)
    name = next(iter(counted.by_file))
    assert counted.by_file[name] == 2  # one write per run, not one per app
    first_round = counted.order[: counted.order.index(name, 1) if counted.order.count(name) > 1 else None]
    assert first_round[0] == name  # the journal is written before any sink of the run


def test_reads_and_writes_grow_linearly_with_the_number_of_apps(tmp_path: Path, io: IoCount) -> None:
    small, large = work(tmp_path, 15, io), work(tmp_path, 60, io)
    # 4x the apps: linear work is at most 4x (fixed costs make it a bit less); a per-app pass over
    # whole-run state (the journal rewritten per app) makes it about 16x.
    assert large.calls <= 4.2 * small.calls, (small, large)
    assert large.bytes <= 4.4 * small.bytes, (small.bytes, large.bytes)
    assert large.writes <= 4.2 * small.writes
