"""The delivery journal (provisioner.sinks.journal) and how the rotation policy reads it."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from provisioner.core.layout import (
    TenantKey,
    default_sink_path,
    journal_path,
    migrate_legacy,
    tenant_scope,
)
from provisioner.engine.rotation.policy import AppFacts, decide_secret
from provisioner.model.manifest import Secret
from provisioner.model.tenant import ExistingSecret
from provisioner.sinks.journal import KEEP_PER_APP, delivered_key_ids, record_delivery

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = Secret(name="s", expires_in="90d", rotate_before="30d", overlap="7d")


def sec(key: str, start_days_ago: float) -> ExistingSecret:
    start = NOW - start_days_ago * DAY
    return ExistingSecret(key, "s", key[:3], start, start + 90 * DAY)


def facts(*secrets: ExistingSecret, held: set[str], delivered: set[str] | None) -> AppFacts:
    return AppFacts(
        name="app",
        managed=True,
        exists=True,
        secrets=secrets,
        held=frozenset(held),
        delivered=None if delivered is None else frozenset(delivered),
    )


def test_unheld_older_secret_never_delivered_is_an_orphan_removed_after_delivery() -> None:
    old, new = sec("old", 2), sec("new", 1)
    decision = decide_secret(SPEC, facts(old, new, held={"new"}, delivered={"new"}), NOW)
    assert decision.orphans == (old,) and not decision.waiting and not decision.mint


def test_unheld_older_secret_that_was_delivered_is_a_predecessor() -> None:
    old, new = sec("OLD", 2), sec("new", 1)
    decision = decide_secret(SPEC, facts(old, new, held={"new"}, delivered={"old", "new"}), NOW)
    assert decision.orphans == () and [w.secret for w in decision.waiting] == [old]


def test_without_a_journal_the_older_unheld_secret_waits_as_today() -> None:
    old, new = sec("old", 2), sec("new", 1)
    decision = decide_secret(SPEC, facts(old, new, held={"new"}, delivered=None), NOW)
    assert decision.orphans == () and [w.secret for w in decision.waiting] == [old]


def test_journal_is_private_lower_case_deduplicated_and_bounded(tmp_path: Path) -> None:
    record_delivery("app", ["AAA", "bbb"], tmp_path)
    record_delivery("app", ["aaa"], tmp_path)  # a re-delivery keeps the first entry
    path = tmp_path / "delivered.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert delivered_key_ids("app", tmp_path) == {"aaa", "bbb"}
    assert delivered_key_ids("other", tmp_path) is None
    for i in range(KEEP_PER_APP + 5):
        record_delivery("app", [f"k{i}"], tmp_path)
    entries = json.loads(path.read_text())["apps"]["app"]
    assert len(entries) == KEEP_PER_APP and entries[-1]["key_id"] == f"k{KEEP_PER_APP + 4}"


def test_unreadable_journal_means_no_journal(tmp_path: Path) -> None:
    (tmp_path / "delivered.json").write_text("{not json")
    assert delivered_key_ids("app", tmp_path) is None


def test_each_tenant_keeps_its_own_journal(tmp_path: Path) -> None:
    a, b = TenantKey("emulator", "tenant-a"), TenantKey("public", "tenant-b")
    with tenant_scope(a):
        record_delivery("app", ["aaa"], tmp_path)
        assert (
            journal_path(tmp_path)
            == tmp_path.absolute() / "tenants" / "emulator" / "tenant-a" / "delivered.json"
        )
        assert delivered_key_ids("app", tmp_path) == {"aaa"}
    with tenant_scope(b):
        assert delivered_key_ids("app", tmp_path) is None
        record_delivery("app", ["bbb"], tmp_path)
        assert delivered_key_ids("app", tmp_path) == {"bbb"}
    assert delivered_key_ids("app", tmp_path) is None


def test_legacy_journal_is_still_read_for_every_tenant(tmp_path: Path) -> None:
    record_delivery("app", ["old"], tmp_path)  # no tenant selected: the layout of earlier versions
    assert (tmp_path / "delivered.json").is_file()
    with tenant_scope(TenantKey("emulator", "t1")):
        record_delivery("app", ["new"], tmp_path)
        assert delivered_key_ids("app", tmp_path) == {"old", "new"}


def test_legacy_connection_files_move_to_their_own_tenant(tmp_path: Path) -> None:
    legacy = tmp_path / "connections"
    (legacy / "label").mkdir(parents=True)
    a = {
        "tenant_id": "AAAA",
        "token_url": "https://127.0.0.1:8443/AAAA/oauth2/v2.0/token",
        "client_secret": "s",
    }
    b = {"tenant_id": "bbbb", "token_url": "https://login.microsoftonline.us/bbbb/oauth2/v2.0/token"}
    (legacy / "one.json").write_text(json.dumps(a))
    (legacy / "label" / "two.json").write_text(json.dumps(b))
    (legacy / "broken.json").write_text("{")
    key_a = TenantKey("emulator", "aaaa")
    moved = migrate_legacy(tmp_path, key_a)
    assert [dst for _, dst in moved] == [
        tmp_path.absolute() / "tenants" / "emulator" / "aaaa" / "connections" / "one.json"
    ]
    with tenant_scope(key_a):
        assert json.loads(default_sink_path("one", tmp_path).read_text()) == a
    assert (legacy / "label" / "two.json").is_file() and (legacy / "broken.json").is_file()
    assert migrate_legacy(tmp_path, TenantKey("usgov", "bbbb"))
    assert not (legacy / "label" / "two.json").exists()
