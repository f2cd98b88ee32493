"""Which credential an app signed in with, and when: Entra's sign-in log (beta ``auditLogs/signIns``).

v1.0's ``signIn`` has no ``servicePrincipalCredentialKeyId`` and no ``signInEventTypes``; the beta
endpoint has both (docs/rotation.md, "Evidence of use"). The unmodified v1.0 SDK reads it with an
explicit beta URL: the properties v1.0 does not model land in ``additional_data``. Needs
``AuditLog.Read.All`` and an Entra ID P1/P2 licence; a 403 (or any failure to read) means "no
evidence", never "not used".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

_EVENT_TYPES = ("servicePrincipal", "nonInteractiveUser")
_MAX_PAGES = 20


@dataclass(frozen=True)
class SignInRead:
    """keyId (lower case) -> (last sign-in, IP address), or why the log could not be read."""

    available: bool
    reason: str = ""
    last_use: dict[str, tuple[datetime, str]] = field(default_factory=dict)


def _beta_url(client: Any, app_id: str, since: datetime, event_type: str) -> str:
    base = str(client.request_adapter.base_url).rstrip("/")
    if base.endswith("/v1.0"):
        base = base[: -len("/v1.0")]
    flt = (
        f"signInEventTypes/any(t: t eq '{event_type}') and appId eq '{app_id}'"
        f" and createdDateTime ge {since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    return f"{base}/beta/auditLogs/signIns?$filter={quote(flt)}&$top=1000"


def _reason(error: Any) -> str:
    status = getattr(error, "response_status_code", None)
    code = getattr(getattr(error, "error", None), "code", None) or ""
    if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
        return "sign-in logs need an Entra ID P1/P2 licence in this tenant"
    if status == 403:
        return "the credential lacks AuditLog.Read.All (sign-in logs)"
    return f"sign-in logs could not be read (HTTP {status or '?'})"


async def read_sign_ins(client: Any, app_id: str, since: datetime) -> SignInRead:
    """Last sign-in per credential keyId of one app since ``since`` (service-principal and confidential-client)."""
    from kiota_abstractions.api_error import APIError

    last: dict[str, tuple[datetime, str]] = {}
    try:
        for event_type in _EVENT_TYPES:
            url: str | None = _beta_url(client, app_id, since, event_type)
            pages = 0
            while url and pages < _MAX_PAGES:
                page = await client.audit_logs.sign_ins.with_url(url).get()
                pages += 1
                for row in (page.value if page else None) or []:
                    extra = row.additional_data or {}
                    key_id = str(extra.get("servicePrincipalCredentialKeyId") or "").lower()
                    when = row.created_date_time
                    if not key_id or when is None:
                        continue
                    when = when if when.tzinfo else when.replace(tzinfo=UTC)
                    if key_id not in last or last[key_id][0] < when:
                        last[key_id] = (when, str(row.ip_address or "?"))
                url = page.odata_next_link if page else None
    except APIError as error:
        return SignInRead(False, _reason(error))
    except Exception as error:
        return SignInRead(False, f"sign-in logs could not be read ({type(error).__name__})")
    return SignInRead(True, "", last)
