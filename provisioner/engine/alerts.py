"""Alerts: ``status`` and ``rotate`` post what needs attention to a webhook.

Events: a secret entered its rotate window, was rotated, is held back because still used, or
expires within N days without a replacement. Formats: ``generic`` (JSON with an ``events`` list),
``teams`` and ``slack`` (incoming webhooks: a ``text`` message). A payload carries app names,
tenants, keyIds, hints (first 3 characters, as the portal shows) and dates, never a secret value.

Posting never decides an outcome: a webhook that is down, slow or refusing costs a warning, never a
failed rotation. Attempts are bounded (:data:`ATTEMPTS`, each with :data:`TIMEOUT_S`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

FORMATS = ("generic", "teams", "slack")
ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = 0.5


@dataclass(frozen=True)
class Alert:
    kind: str  # window | rotated | still_used | expiring
    tenant: str
    app: str
    secret: str | None
    key_id: str | None
    hint: str | None
    expires: str | None
    message: str


def _current_rows(result: Any) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    status = getattr(result, "status", None)
    if status is None:
        return out
    for app in status.apps:
        for row in app.secrets:
            out.append((app.app, row, status.now))
    return out


def status_alerts(outcome: Any, *, expiring_days: int) -> list[Alert]:
    """From a ``status`` run: secrets in their window, held back, or expiring without a replacement."""
    from provisioner.engine.rotation.policy import days_left, stamp

    alerts: list[Alert] = []
    for name, result in outcome.results.items():
        tenant = result.tenant_id or name
        for app, row, now in _current_rows(result):
            left = days_left(row.end, now)
            base = {"tenant": tenant, "app": app, "secret": row.name, "key_id": row.key_id, "hint": row.hint}
            expires = stamp(row.end) if row.end else None
            if row.state == "current, rotation due":
                alerts.append(
                    Alert(
                        "window",
                        expires=expires,
                        message=f"{app}: secret {row.hint}... is due for rotation (expires {expires})",
                        **base,
                    )
                )
            if row.state.startswith("current") and left is not None and left <= expiring_days:
                alerts.append(
                    Alert(
                        "expiring",
                        expires=expires,
                        message=f"{app}: secret {row.hint}... expires in {left} "
                        f"day(s) ({expires}) and has no replacement",
                        **base,
                    )
                )
            if row.state == "previous, still used":
                alerts.append(
                    Alert(
                        "still_used",
                        expires=expires,
                        message=f"{app}: old secret {row.hint}... still used",
                        **base,
                    )
                )
    return alerts


def rotate_alerts(outcome: Any, *, expiring_days: int) -> list[Alert]:
    """From a ``rotate`` run: secrets rotated, held back because still used, still expiring soon."""
    alerts: list[Alert] = []
    for name, result in outcome.results.items():
        rotated = getattr(result, "rotated", None)
        if rotated is None:
            continue
        tenant = result.tenant_id or name
        for secret in rotated.secrets:
            current = secret.current or {}
            base = {
                "tenant": tenant,
                "app": secret.app,
                "secret": secret.name,
                "key_id": current.get("key_id"),
                "hint": current.get("hint"),
                "expires": current.get("expires"),
            }
            if secret.status == "rotated":
                alerts.append(
                    Alert(
                        "rotated",
                        message=f"{secret.app}: secret {secret.name!r} rotated, new "
                        f"secret {current.get('hint')}... expires {current.get('expires')}",
                        **base,
                    )
                )
            elif current.get("days_left") is not None and current["days_left"] <= expiring_days:
                alerts.append(
                    Alert(
                        "expiring",
                        message=f"{secret.app}: secret {current.get('hint')}... expires "
                        f"in {current['days_left']} day(s) and has no replacement",
                        **base,
                    )
                )
        for line in rotated.held_back:
            app = line.split(":", 1)[0]
            alerts.append(Alert("still_used", tenant, app, None, None, None, None, line))
    return alerts


def payload(alerts: list[Alert], fmt: str) -> dict[str, Any]:
    if fmt == "generic":
        return {"source": "provisioner", "events": [asdict(a) for a in alerts]}
    lines = "\n".join(f"- [{a.kind}] {a.tenant}: {a.message}" for a in alerts)
    text = f"provisioner: {len(alerts)} secret event(s)\n{lines}"
    if fmt == "teams":
        return {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "summary": "provisioner",
            "text": text.replace("\n", "\n\n"),
        }
    return {"text": text}


def post(url: str, fmt: str, alerts: list[Alert], *, verify: Any = True) -> str | None:
    """Post the alerts; None on success, otherwise one line saying why (never raises)."""
    import httpx

    if not alerts:
        return None
    body = payload(alerts, fmt)
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            response = httpx.post(url, json=body, timeout=TIMEOUT_S, verify=verify)
            if response.status_code < 300:
                return None
            last = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if attempt + 1 < ATTEMPTS:
            time.sleep(BACKOFF_S * (attempt + 1))
    return f"webhook: {len(alerts)} alert(s) not delivered ({last}); the run's outcome is unchanged"
