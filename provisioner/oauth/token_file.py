"""The refresh-token file connector products read (scenario 2), written atomically with mode 0600.

Format: ``{"access_token", "refresh_token", "expires_in", "token_type", "scope",
"expires_at", "client_id", "tenant_id", "token_url"}``. The first three are what ETL
and integration tools ask for; ``expires_at`` (Unix seconds) saves them arithmetic;
``client_id``/``tenant_id``/``token_url`` say which registration the refresh token
belongs to, so ``verify`` can tell a token invalidated by a changed client ID (a
re-created app) from a revoked or expired one. Refresh tokens rotate on every use,
so every refresh re-writes the file through :func:`provisioner.core.fileio.atomic_write_json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError
from provisioner.core.fileio import atomic_write_json

FIELDS = (
    "access_token",
    "refresh_token",
    "expires_in",
    "token_type",
    "scope",
    "expires_at",
    "client_id",
    "tenant_id",
    "token_url",
    # when the current refresh token was received: it dies after 90 days unused (status warns before)
    "refresh_token_obtained_at",
)

#: Entra refresh tokens expire after this many days without use (AADSTS700082).
REFRESH_TOKEN_INACTIVITY_DAYS = 90
#: ``status`` warns this many days before that.
REFRESH_TOKEN_WARN_DAYS = 14


def default_token_path(state_dir: Path, app: str) -> Path:
    return Path(state_dir) / "tokens" / f"{app}.json"


def build_token_file(
    response: Mapping[str, Any],
    *,
    client_id: str,
    tenant_id: str,
    token_url: str,
    previous: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The file's content from a token response (a refresh without a new refresh token keeps the old one)."""
    expires_in = int(response.get("expires_in") or 0)
    issued = time.time() if now is None else now
    refresh = response.get("refresh_token") or (previous or {}).get("refresh_token")
    obtained = (
        int(issued) if response.get("refresh_token") else (previous or {}).get("refresh_token_obtained_at")
    )
    return {
        "access_token": response["access_token"],
        "refresh_token": refresh,
        "expires_in": expires_in,
        "token_type": response.get("token_type", "Bearer"),
        "scope": response.get("scope", ""),
        "expires_at": int(issued) + expires_in,
        "client_id": client_id,
        "tenant_id": tenant_id,
        "token_url": token_url,
        "refresh_token_obtained_at": obtained if refresh else None,
    }


def refresh_token_warning(data: Mapping[str, Any], *, now: float | None = None) -> str | None:
    """A line when the file's refresh token nears (or passed) Entra's 90-day inactivity limit, else None."""
    obtained = data.get("refresh_token_obtained_at")
    if not data.get("refresh_token") or not isinstance(obtained, int | float) or isinstance(obtained, bool):
        return None
    age_days = int(((time.time() if now is None else now) - obtained) // 86400)
    left = REFRESH_TOKEN_INACTIVITY_DAYS - age_days
    if left > REFRESH_TOKEN_WARN_DAYS:
        return None
    if left <= 0:
        return (
            f"its refresh token was last renewed {age_days} days ago: unused for {REFRESH_TOKEN_INACTIVITY_DAYS} "
            "days it has expired (AADSTS700082); run provisioner authorize again"
        )
    return (
        f"its refresh token was last renewed {age_days} days ago and expires after "
        f"{REFRESH_TOKEN_INACTIVITY_DAYS} days unused ({left} left); use it (provisioner verify refreshes it) "
        "or run provisioner authorize again"
    )


def write_token_file(path: Path, data: Mapping[str, Any]) -> None:
    try:
        atomic_write_json(path, {key: data.get(key) for key in FIELDS})
    except OSError as exc:
        raise ProvisionerError(
            f"cannot write token file {path}: {exc.strerror or type(exc).__name__}"
        ) from None


def read_token_file(path: Path) -> dict[str, Any] | None:
    """The stored token file, or None when there is none. Errors never quote the content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvisionerError(
            f"cannot read token file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProvisionerError(
            f"token file {path} is not valid JSON (line {exc.lineno}); run provisioner authorize again"
        ) from None
    if not isinstance(data, dict):
        raise ProvisionerError(
            f"token file {path} does not hold a JSON object; run provisioner authorize again"
        )
    return data
