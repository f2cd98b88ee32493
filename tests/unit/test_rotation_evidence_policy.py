"""Evidence before retirement: the sign-in log decides when a replaced secret may go (pure policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from provisioner.engine.rotation.policy import AppFacts, Evidence, decide_secret
from provisioner.model.manifest import Secret
from provisioner.model.tenant import ExistingSecret

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = Secret(name="s", expires_in="90d", rotate_before="30d", overlap="7d", quiet_period="3d")
OLD = ExistingSecret(key_id="old1", display_name="s", hint="old", start=NOW - 70 * DAY, end=NOW + 20 * DAY)
NEW = ExistingSecret(key_id="new1", display_name="s", hint="new", start=NOW - 10 * DAY, end=NOW + 80 * DAY)


def facts(evidence: Evidence | None) -> AppFacts:
    return AppFacts(
        name="app", managed=True, exists=True, secrets=(OLD, NEW), held=frozenset({"new1"}), evidence=evidence
    )


def used(**last: float) -> Evidence:
    """Evidence: keyId -> days ago of its last sign-in."""
    return Evidence(True, "", {k: (NOW - v * DAY, "10.0.0.7") for k, v in last.items()})


def test_without_evidence_the_overlap_alone_retires_as_before() -> None:
    for evidence in (None, Evidence(False, "no AuditLog.Read.All")):
        d = decide_secret(SPEC, facts(evidence), NOW)
        assert [r.secret.key_id for r in d.removals] == ["old1"] and not d.held_back
    assert decide_secret(SPEC, facts(Evidence(False, "no licence")), NOW).no_evidence == "no licence"


def test_retire_without_evidence_never_keeps_it_and_says_why() -> None:
    spec = SPEC.model_copy(update={"retire_without_evidence": "never"})
    d = decide_secret(spec, facts(Evidence(False, "no licence")), NOW)
    assert d.removals == () and len(d.held_back) == 1
    assert "no licence" in d.held_back[0].line("app")


def test_still_used_old_secret_is_kept_and_reported_with_time_and_ip() -> None:
    d = decide_secret(SPEC, facts(used(old1=1, new1=2)), NOW)
    assert d.removals == ()
    (held,) = d.held_back
    assert (
        held.line("app")
        == "app: old secret old... still used (last sign-in 2026-05-31T00:00:00Z, from 10.0.0.7)"
    )


def test_unused_for_the_quiet_period_is_retired() -> None:
    d = decide_secret(SPEC, facts(used(old1=4)), NOW)
    assert [r.secret.key_id for r in d.removals] == ["old1"]
    assert "unused for 3d" in d.removals[0].reason


def test_require_new_secret_used_waits_for_its_first_sign_in() -> None:
    spec = SPEC.model_copy(update={"require_new_secret_used": True})
    assert decide_secret(spec, facts(used(old1=5)), NOW).held_back
    assert decide_secret(spec, facts(used(old1=5, new1=1)), NOW).removals


@given(
    old_days=st.one_of(st.none(), st.floats(min_value=0, max_value=60)),
    quiet=st.integers(min_value=1, max_value=20),
    new_used=st.booleans(),
    require_new=st.booleans(),
)
def test_never_retires_a_secret_used_within_the_quiet_period(
    old_days: float | None, quiet: int, new_used: bool, require_new: bool
) -> None:
    spec = SPEC.model_copy(update={"quiet_period": f"{quiet}d", "require_new_secret_used": require_new})
    last = {"old1": old_days} if old_days is not None else {}
    if new_used:
        last["new1"] = 0.5
    d = decide_secret(spec, facts(used(**last)), NOW)
    retired = any(r.secret.key_id == "old1" for r in d.removals)
    quiet_from = max(NEW.start or NOW, NOW - old_days * DAY) if old_days is not None else NEW.start or NOW
    if retired:
        assert quiet_from + quiet * DAY <= NOW
        assert new_used or not require_new
    else:
        assert d.held_back  # never silently kept: the reason is reported
    assert d.current == NEW  # the new secret is never touched
