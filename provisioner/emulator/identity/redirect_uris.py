"""Matching a requested ``redirect_uri`` against an application's registered ones.

Exact match, as the platform requires, except that the port is ignored for
``http://localhost`` and ``http://127.0.0.1`` (native apps listen on any free port).
The matching platform (web, spa, publicClient) decides how the code may be redeemed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})


def _normalise(uri: str) -> tuple[str, str, int | None, str, str]:
    parts = urlsplit(uri)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path or "/", parts.query


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact match, except that the port is ignored for http://localhost and http://127.0.0.1 (reply-url doc)."""
    if registered == requested:
        return True
    try:
        r, q = _normalise(registered), _normalise(requested)
    except ValueError:
        return False
    if r[0] == q[0] == "http" and r[1] in _LOOPBACK_HOSTS and r[1] == q[1]:
        return (r[3], r[4]) == (q[3], q[4])
    return r == q


def match_redirect_uri(app: dict[str, Any], requested: str) -> str | None:
    """The platform ("web", "spa", "publicClient") whose redirectUris contain ``requested``."""
    for platform in ("web", "spa", "publicClient"):
        for registered in (app.get(platform) or {}).get("redirectUris") or []:
            if redirect_uri_matches(registered, requested):
                return platform
    return None
