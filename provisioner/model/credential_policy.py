"""Tenant credential policies (Entra app management policies) as the limits one app's new credentials meet.

Entra refuses, at ``addPassword``/``addKey`` time, a client secret where a policy blocks
passwords (``passwordAddition``) or one that lives longer than ``passwordLifetime``'s
``maxLifetime`` (and certificates above ``asymmetricKeyLifetime``). Refusing in ``plan``
instead, before any write, needs the same rule: a policy applied to the application
(``applications/{id}/appManagementPolicies``) takes precedence over the tenant default
(``policies/defaultAppManagementPolicy``, whose ``applicationRestrictions`` count while it
``isEnabled``); a restriction counts for applications created on or after its
``restrictForAppsCreatedAfterDateTime`` (null: every application) and while its ``state``
is not ``disabled``. Pure: :mod:`provisioner.graph.state` reads the JSON, this decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)

#: ``expires_in: max`` where no policy caps secrets: Microsoft's longest recommended lifetime.
DEFAULT_MAX_SECRET = timedelta(days=730)


def parse_iso_duration(text: Any) -> timedelta | None:
    """``P90D``, ``P4DT12H30M5S`` (years as 365 days, months as 30); None when not a duration."""
    if not isinstance(text, str) or text in ("P", "PT") or text.endswith("T"):
        return None
    match = _ISO_DURATION.match(text)
    if not match:
        return None
    g = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = g["y"] * 365 + g["mo"] * 30 + g["w"] * 7 + g["d"]
    return timedelta(days=days, hours=g["h"], minutes=g["mi"], seconds=g["s"])


@dataclass(frozen=True)
class CredentialLimits:
    """What one app's new credentials must meet, and which policy says so (for the one-line refusal)."""

    policy_id: str
    policy_name: str
    passwords_blocked: bool = False
    password_max: timedelta | None = None
    password_max_text: str | None = None  # as the policy writes it, e.g. P90D
    key_max: timedelta | None = None
    key_max_text: str | None = None

    @property
    def label(self) -> str:
        return f"{self.policy_name!r} ({self.policy_id})"

    def longest_certificate(self, default: timedelta) -> timedelta:
        """What ``expires_in: max`` resolves to for a generated certificate under this policy."""
        return self.key_max if self.key_max is not None else default

    def longest_secret(self) -> timedelta:
        """What ``expires_in: max`` resolves to under this policy."""
        return self.password_max if self.password_max is not None else DEFAULT_MAX_SECRET


def _counts(rule: dict[str, Any], created: datetime | None) -> bool:
    if str(rule.get("state") or "enabled").lower() == "disabled":
        return False
    after = rule.get("restrictForAppsCreatedAfterDateTime")
    if not after or created is None:
        return True
    try:
        moment = datetime.fromisoformat(str(after).replace("Z", "+00:00")[:32])
    except ValueError:
        return True  # unreadable: assume it counts (Entra is the judge; plan only warns earlier)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return created >= moment


def limits_for(
    applied: list[dict[str, Any]],
    default: dict[str, Any] | None,
    created: datetime | None,
    *,
    principal: bool = False,
) -> CredentialLimits | None:
    """The limits for an app with ``applied`` policies (JSON) under the tenant ``default`` (JSON or None).

    ``created`` is the app's createdDateTime (now, for an app this run creates). ``principal``: the
    limits of a service principal's own credentials (``applied`` are the policies applied to the
    principal; the default policy's ``servicePrincipalRestrictions`` count instead of
    ``applicationRestrictions``).
    """
    policy: dict[str, Any] | None = next((p for p in applied if p.get("isEnabled", True)), None)
    restrictions: dict[str, Any] = {}
    if policy is not None:
        restrictions = policy.get("restrictions") or {}
    elif default is not None and default.get("isEnabled"):
        policy = default
        restrictions = (
            default.get("servicePrincipalRestrictions" if principal else "applicationRestrictions") or {}
        )
    if policy is None:
        return None
    passwords = [r for r in restrictions.get("passwordCredentials") or [] if _counts(r, created)]
    keys = [r for r in restrictions.get("keyCredentials") or [] if _counts(r, created)]
    blocked = any(r.get("restrictionType") == "passwordAddition" for r in passwords)
    lifetime = next((r for r in passwords if r.get("restrictionType") == "passwordLifetime"), None)
    key_life = next((r for r in keys if r.get("restrictionType") == "asymmetricKeyLifetime"), None)
    limits = CredentialLimits(
        policy_id=str(policy.get("id") or "?"),
        policy_name=str(policy.get("displayName") or "app management policy"),
        passwords_blocked=blocked,
        password_max=parse_iso_duration(lifetime.get("maxLifetime")) if lifetime else None,
        password_max_text=str(lifetime.get("maxLifetime")) if lifetime else None,
        key_max=parse_iso_duration(key_life.get("maxLifetime")) if key_life else None,
        key_max_text=str(key_life.get("maxLifetime")) if key_life else None,
    )
    if not (limits.passwords_blocked or limits.password_max or limits.key_max):
        return None
    return limits


def duration_text(delta: timedelta) -> str:
    """A manifest duration no longer than ``delta``: whole days, else whole hours."""
    if delta >= timedelta(days=1):
        return f"{delta.days}d"
    return f"{max(1, int(delta.total_seconds() // 3600))}h"
