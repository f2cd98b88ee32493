"""Which app management policy judges an app's new secrets, and what it allows (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provisioner.model.credential_policy import duration_text, limits_for, parse_iso_duration

DEFAULT = {
    "id": "00000000-0000-0000-0000-000000000000",
    "displayName": "Default app management tenant policy",
    "isEnabled": True,
    "applicationRestrictions": {
        "passwordCredentials": [
            {
                "restrictionType": "passwordLifetime",
                "maxLifetime": "P90D",
                "restrictForAppsCreatedAfterDateTime": "2025-01-01T00:00:00Z",
            }
        ]
    },
}
BLOCK = {
    "id": "p1",
    "displayName": "no secrets",
    "isEnabled": True,
    "restrictions": {"passwordCredentials": [{"restrictionType": "passwordAddition"}]},
}
NEW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = datetime(2020, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P90D", timedelta(days=90)),
        ("P4DT12H30M5S", timedelta(days=4, hours=12, minutes=30, seconds=5)),
        ("PT36H", timedelta(hours=36)),
        ("P", None),
        ("90d", None),
        ("PT", None),
        (None, None),
    ],
)
def test_iso_durations(text: object, delta: timedelta | None) -> None:
    assert parse_iso_duration(text) == delta


def test_default_policy_caps_apps_created_after_its_date_only() -> None:
    limits = limits_for([], DEFAULT, NEW)
    assert limits is not None and limits.password_max == timedelta(days=90) and not limits.passwords_blocked
    assert limits.longest_secret() == timedelta(days=90)
    assert limits_for([], DEFAULT, OLD) is None
    assert limits_for([], {**DEFAULT, "isEnabled": False}, NEW) is None


def test_an_applied_policy_takes_precedence_over_the_default() -> None:
    limits = limits_for([BLOCK], DEFAULT, NEW)
    assert limits is not None and limits.passwords_blocked and limits.password_max is None
    assert limits.label == "'no secrets' (p1)"
    disabled = {**BLOCK, "isEnabled": False}
    fallback = limits_for([disabled], DEFAULT, NEW)
    assert fallback is not None and fallback.policy_id == DEFAULT["id"]


def test_durations_never_round_up() -> None:
    assert duration_text(timedelta(days=90)) == "90d"
    assert duration_text(timedelta(days=4, hours=23)) == "4d"
    assert duration_text(timedelta(hours=5, minutes=59)) == "5h"
