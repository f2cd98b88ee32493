"""The pure rotation rules (provisioner.engine.rotation.policy) and their plan actions, on plain dataclasses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.engine.planner import Action, Plan
from provisioner.engine.rotation.actions import (
    LIFECYCLE_KINDS,
    decide_all,
    executable,
    revise_plan,
    secret_plan,
)
from provisioner.engine.rotation.policy import (
    AFTER_DELIVERY,
    BEFORE_MINT,
    AppFacts,
    days_left,
    decide_app,
    decide_secret,
    secret_limit,
)
from provisioner.model.desired import Desired, DesiredApp
from provisioner.model.manifest import Secret
from provisioner.model.tenant import MANAGED_TAG, ExistingApp, ExistingSecret, TenantState
from provisioner.sinks.holdings import AppHoldings, SinkHolding, json_key_ids

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = Secret(name="s", expires_in="90d", rotate_before="30d", overlap="7d")


def sec(key: str, start_days_ago: float, lifetime_days: float = 90, name: str = "s") -> ExistingSecret:
    start = NOW - start_days_ago * DAY
    return ExistingSecret(
        key_id=key, display_name=name, hint=key[:3], start=start, end=start + lifetime_days * DAY
    )


def facts(*secrets: ExistingSecret, held: set[str] = frozenset(), **kw: object) -> AppFacts:  # type: ignore[assignment]
    values: dict[str, object] = {"name": "app", "managed": True, "exists": True}
    values.update(kw)
    return AppFacts(secrets=tuple(secrets), held=frozenset(held), **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the rotation window


def test_outside_the_window_nothing_happens() -> None:
    d = decide_secret(SPEC, facts(sec("aaa1", 10), held={"aaa1"}), NOW)
    assert d.current is not None and d.current.key_id == "aaa1"
    assert not d.changes and d.mint_reason is None
    assert d.rotate_at == NOW - 10 * DAY + 60 * DAY
    assert d.next_step(NOW).startswith("nothing now; rotate after 2026-07-21")


def test_inside_the_window_mints_and_keeps_the_old_secret() -> None:
    d = decide_secret(SPEC, facts(sec("aaa1", 61), held={"aaa1"}), NOW)
    assert d.mint and "within rotate_before 30d" in (d.mint_reason or "")
    assert d.removals == ()  # the old one becomes the predecessor only once sinks hold the new one


def test_force_mints_outside_the_window() -> None:
    d = decide_secret(SPEC, facts(sec("aaa1", 1), held={"aaa1"}), NOW, force=True)
    assert d.mint and d.mint_reason == "forced"


def test_predecessor_waits_for_overlap_measured_from_the_replacement_start() -> None:
    old, new = sec("old1", 62), sec("new1", 3)
    d = decide_secret(SPEC, facts(old, new, held={"new1"}), NOW)
    assert d.current == new and not d.changes
    assert [(w.secret.key_id, w.retire_at) for w in d.waiting] == [("old1", NOW + 4 * DAY)]
    later = decide_secret(SPEC, facts(old, new, held={"new1"}), NOW + 4 * DAY)
    assert [(r.secret.key_id, r.kind, r.phase) for r in later.removals] == [("old1", "retire", BEFORE_MINT)]
    assert "overlap 7d ended" in later.removals[0].reason


def test_expired_secrets_are_removed_and_replaced() -> None:
    gone = sec("exp1", 100)
    d = decide_secret(SPEC, facts(gone, held={"exp1"}), NOW)
    assert d.current is None and d.mint and (d.mint_reason or "").startswith("expired")
    assert [(r.secret.key_id, r.phase) for r in d.removals] == [("exp1", BEFORE_MINT)]


def test_missing_secret_is_minted() -> None:
    d = decide_secret(SPEC, facts(), NOW)
    assert d.mint and d.mint_reason == "missing"
    first = decide_app([SPEC], AppFacts(name="app", managed=False, exists=False), NOW)
    assert [x.mint_reason for x in first] == ["missing"]


def test_a_sink_still_holding_an_older_secret_keeps_it() -> None:
    old, new = sec("old1", 62), sec("new1", 20)
    d = decide_secret(SPEC, facts(old, new, held={"old1", "new1"}), NOW)
    assert d.current == new and d.stale == (old,) and not d.removals


def test_other_declared_names_are_not_touched() -> None:
    other = sec("oth1", 80, name="other")
    d = decide_secret(SPEC, facts(sec("aaa1", 1), other, held={"aaa1"}), NOW)
    assert not d.changes


# ---------------------------------------------------------------- orphans


def test_newer_unheld_secret_never_delivered_is_an_orphan_removed_after_delivery() -> None:
    held, orphan = sec("held", 10), sec("orph", 0.01)
    d = decide_secret(SPEC, facts(held, orphan, held={"held"}, delivered=frozenset({"held"})), NOW)
    assert d.current == held and not d.mint  # judged by the held secret's expiry, not the orphan's
    assert [(r.secret.key_id, r.kind, r.phase) for r in d.removals] == [("orph", "orphan", AFTER_DELIVERY)]


@pytest.mark.parametrize("journal", [None, {"held", "dlvd"}])
def test_newer_unheld_secret_that_was_delivered_is_never_an_orphan(journal: set[str] | None) -> None:
    """Two tenants sharing a folder, a cleaned state dir, a product it was pasted into: a delivered
    secret no sink here holds may still be in use, so it is kept (never removed as an orphan)."""
    held, delivered = sec("held", 10), sec("dlvd", 0.01)
    known = frozenset(journal) if journal is not None else None
    d = decide_secret(SPEC, facts(held, delivered, held={"held"}, delivered=known), NOW)
    assert not d.removals and d.kept == (delivered,)
    alone = decide_secret(SPEC, facts(delivered, delivered=known), NOW)
    assert alone.mint and alone.mint_reason == "no sink holds a live secret" and not alone.removals


@pytest.mark.parametrize("old_key", ["0000", "ffff"])  # keyIds are random: either side of the new one
@pytest.mark.parametrize("journal", [None, {"0000", "ffff", "8888"}])
def test_predecessor_minted_in_the_same_second_as_its_replacement_is_kept(
    old_key: str, journal: set[str] | None
) -> None:
    """startDateTime has whole seconds, so a replacement minted in its predecessor's second ties with it
    (same start, same end); the tie never makes the predecessor an orphan removed inside its overlap."""
    old, new = sec(old_key, 1), sec("8888", 1)
    delivered = frozenset(journal) if journal is not None else None
    d = decide_secret(SPEC, facts(old, new, held={"8888"}, delivered=delivered), NOW)
    assert d.current == new and not d.removals
    assert [w.secret.key_id for w in d.waiting] == [old_key]
    later = decide_secret(SPEC, facts(old, new, held={"8888"}, delivered=delivered), NOW + 7 * DAY)
    assert [(r.secret.key_id, r.kind, r.phase) for r in later.removals] == [(old_key, "retire", BEFORE_MINT)]


def test_same_second_secret_never_delivered_is_still_an_orphan() -> None:
    old, new = sec("ffff", 1), sec("8888", 1)
    d = decide_secret(SPEC, facts(old, new, held={"8888"}, delivered=frozenset({"8888"})), NOW)
    assert [(r.secret.key_id, r.kind, r.phase) for r in d.removals] == [("ffff", "orphan", AFTER_DELIVERY)]


def test_orphan_with_no_held_secret_is_replaced() -> None:
    d = decide_secret(SPEC, facts(sec("orph", 0.01), delivered=frozenset({"else"})), NOW)
    assert d.mint and d.mint_reason == "no sink holds a live secret"
    assert d.orphans == (sec("orph", 0.01),)


def test_unmanaged_app_is_never_cleaned_but_gets_a_delivered_secret() -> None:
    hand_made = sec("hand", 30)
    d = decide_secret(SPEC, facts(hand_made, managed=False), NOW)
    assert d.mint and not d.removals and d.untouched == (hand_made,)
    # After adoption the hand-made secret is the predecessor of the delivered one: kept for the overlap.
    adopted = decide_secret(SPEC, facts(hand_made, sec("new1", 0), held={"new1"}), NOW)
    assert [w.secret.key_id for w in adopted.waiting] == ["hand"]


def test_unreadable_sink_blocks_every_removal() -> None:
    d = decide_secret(
        SPEC, facts(sec("held", 10), sec("orph", 1), held={"held"}, holdings_certain=False), NOW
    )
    assert not d.removals and [s.key_id for s in d.untouched] == ["orph"]


# ---------------------------------------------------------------- personal-account secret limit


def test_limit_moves_orphan_before_the_mint() -> None:
    held, orphan = sec("held", 61), sec("orph", 0.01)
    [d] = decide_app([SPEC], facts(held, orphan, held={"held"}, limit=2, delivered=frozenset({"held"})), NOW)
    assert d.mint and [(r.secret.key_id, r.phase) for r in d.removals] == [("orph", BEFORE_MINT)]


def test_limit_blocks_a_mint_while_the_predecessor_is_in_its_overlap() -> None:
    old, new = sec("old1", 62), sec("new1", 1)
    [d] = decide_app([SPEC], facts(old, new, held={"new1"}, limit=2), NOW, force=True)
    assert not d.mint and d.blocked and "allow 2" in d.blocked and "2026-06-07" in d.blocked


def test_secret_limit_applies_to_personal_audiences() -> None:
    assert secret_limit("AzureADMyOrg") is None
    assert secret_limit("AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount") == 2


def test_days_left() -> None:
    assert days_left(NOW + 3.5 * DAY, NOW) == 3
    assert days_left(NOW - 0.5 * DAY, NOW) == -1
    assert days_left(None, NOW) is None


# ---------------------------------------------------------------- invariants


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[ExistingSecret], set[str], bool, bool]:
    n = draw(st.integers(0, 4))
    secrets = [
        sec(f"k{i}", draw(st.floats(0, 120)), draw(st.floats(1, 120)), name=draw(st.sampled_from(["s", "t"])))
        for i in range(n)
    ]
    held = {s.key_id for s in secrets if draw(st.booleans())}
    return secrets, held, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_never_removes_a_held_secret_nor_leaves_none_valid(world: tuple) -> None:
    secrets, held, managed, force = world
    d = decide_secret(SPEC, facts(*secrets, held=held, managed=managed), NOW, force=force)
    removed = {r.secret.key_id for r in d.removals}
    assert not removed & {k for k in held if any(s.key_id == k and s.end > NOW for s in secrets)}
    if d.current is not None:
        assert d.current.key_id not in removed and d.current.key_id in held
    if not managed:
        assert not removed
    # A removal that runs before delivery is never the last live secret anybody holds.
    early = {r.secret.key_id for r in d.removals if r.phase == BEFORE_MINT}
    assert all(s.end <= NOW or s.key_id not in held for s in secrets if s.key_id in early)
    # ... nor leaves none valid: the held current secret stays live, or a replacement is minted.
    kept = d.current is not None and d.current.end > NOW and d.current.key_id not in removed
    assert d.mint or kept, (d.mint_reason, d.current, removed)


# ---------------------------------------------------------------- plan actions


def _state(have: ExistingApp) -> TenantState:
    return TenantState(tenant_id="t", resources={}, apps={"app": have})


def _desired(*specs: Secret) -> Desired:
    return Desired(
        apps={
            "app": DesiredApp(name="app", display_name="App", sign_in_audience="AzureADMyOrg", secrets=specs)
        },
        resources={},
    )


def _have(*secrets: ExistingSecret) -> ExistingApp:
    return ExistingApp(
        object_id="obj",
        app_id="appid",
        unique_name="app",
        display_name="App",
        tags=[MANAGED_TAG],
        secrets=list(secrets),
    )


def _holdings(
    *key_ids: str, error: str | None = None, journal: set[str] | None = None
) -> dict[str, AppHoldings]:
    """Sinks holding ``key_ids``; ``journal``: the keyIds ever delivered (None: no journal)."""
    delivered = frozenset(journal) if journal is not None else None
    holding = SinkHolding("json file x", frozenset(key_ids), error=error)
    return {"app": AppHoldings("app", (holding,), delivered=delivered)}


def test_revise_plan_replaces_trusting_mints_and_adds_orphans() -> None:
    held, orphan = sec("held", 61), sec("orph", 0.01)
    have = _have(held, orphan)
    # make_plan judged the window by the orphan's far expiry and planned nothing; it also removes an undeclared one.
    base = Plan("t", [Action("remove_secret", "app", "remove undeclared secret", [], {"key_id": "x"})])
    decisions = decide_all(_desired(SPEC), _state(have), _holdings("held", journal={"held"}), NOW)
    plan = revise_plan(base, _desired(SPEC), _state(have), decisions)
    assert [a.kind for a in plan.actions] == ["mint_secret", "remove_secret", "replace_orphan_secret"]
    orphan_action = plan.actions[-1]
    assert orphan_action.details["phase"] == AFTER_DELIVERY and orphan_action.details["object_id"] == "obj"
    assert "replace orphan secret" in orphan_action.summary
    data = json.dumps(plan.to_dict())
    assert "replace_orphan_secret" in data and plan.to_dict()["counts"]["replace_orphan_secret"] == 1
    assert [a.kind for a in executable(plan).actions] == ["mint_secret", "remove_secret"]
    assert not LIFECYCLE_KINDS & {a.kind for a in executable(plan).actions}


def test_revise_plan_drops_make_plan_mint_when_sinks_hold_a_live_secret() -> None:
    have = _have(sec("held", 5))
    base = Plan("t", [Action("mint_secret", "app", "mint secret 's'", [], {"name": "s"})])
    plan = revise_plan(
        base, _desired(SPEC), _state(have), decide_all(_desired(SPEC), _state(have), _holdings("held"), NOW)
    )
    assert plan.is_empty


def test_secret_plan_and_text_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    from provisioner.views.render import print_plan

    have = _have(sec("old1", 70), sec("new1", 8))
    decisions = decide_all(_desired(SPEC), _state(have), _holdings("new1"), NOW)
    plan = secret_plan("t", _state(have), decisions)
    assert [(a.kind, a.details["key_id"]) for a in plan.actions] == [("retire_secret", "old1")]
    print_plan(plan)
    out = capsys.readouterr().out
    assert "retire secret 's'" in out and "overlap 7d ended" in out and "1 to remove" in out


# ---------------------------------------------------------------- holdings


def test_json_key_ids_only_count_values_present() -> None:
    values = {
        "client_secret": "v",
        "client_secret_id": "AAA",
        "secrets": [{"key_id": "bbb", "value": "w"}, {"key_id": "ccc", "value": ""}, "junk"],
    }
    assert json_key_ids(values) == {"aaa", "bbb"}
    assert json_key_ids({"client_secret_id": "aaa"}) == frozenset()
    assert json_key_ids(None) == frozenset()


def test_holdings_uncertain_when_a_sink_errors() -> None:
    holdings = _holdings("a", error="cannot read")["app"]
    assert not holdings.certain and holdings.holders("A") == ["json file x"]


@pytest.mark.parametrize("held_too", [False, True])
def test_secret_from_a_recorded_mint_that_was_never_delivered_is_an_orphan(held_too: bool) -> None:
    """A first run killed after addPassword: no delivery in the journal yet, but its mint intent is."""
    minted = sec("mint", 0.001)
    intent = (minted.start or NOW) - timedelta(seconds=0.5)
    others = (sec("held", 10),) if held_too else ()
    d = decide_secret(
        SPEC,
        facts(*others, minted, held={"held"} if held_too else set(), mint_intents=(intent,)),
        NOW,
    )
    assert [r.secret.key_id for r in d.removals if r.kind == "orphan"] == ["mint"]
    # A secret made long after the intent (by someone else) is not this tool's orphan.
    later = sec("else", 0.001)
    far = (later.start or NOW) - 2 * DAY
    kept = decide_secret(
        SPEC, facts(*others, later, held={"held"} if held_too else set(), mint_intents=(far,)), NOW
    )
    assert not [r for r in kept.removals if r.kind == "orphan"] and kept.kept == (later,)
