"""Redirect URI rules of the Microsoft identity platform, checked offline.

Graph rejects a bad redirect URI with a terse 400 for the whole application
PATCH; checking here gives a located, specific message before any call. Rules
(Microsoft's "Redirect URI (reply URL) restrictions"):

* ``https`` required; ``http`` only for loopback (``localhost`` / ``127.0.0.1``),
  never ``[::1]``. ``public_client`` may also use custom schemes
  (``myapp://auth``, ``msal<client-id>://auth``).
* at most 256 characters; none of ``! $ ' ( ) ,`` ``;``; no whitespace, no fragment.
* wildcards (``*``) and query strings only for Entra-only audiences (work/school
  accounts); wildcards are discouraged even there (warning).
* at most 256 URIs per app, 100 when personal Microsoft accounts can sign in.

:func:`normalize` mirrors how Graph stores a URI (no path -> trailing ``/``) so the
planner compares like with like and does not report false diffs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from provisioner.model.manifest import Audience

Platform = Literal["web", "spa", "public_client"]

MAX_URI_LENGTH = 256
MAX_URIS = 256
MAX_URIS_PERSONAL = 100
FORBIDDEN_CHARACTERS = "!$'(),;"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})
PERSONAL_AUDIENCES = frozenset({Audience.MULTI_TENANT_AND_PERSONAL, Audience.PERSONAL})
#: Schemes that can never be a redirect target, even for native apps.
_BLOCKED_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_PLATFORM_LABEL = {"web": "web", "spa": "single-page application", "public_client": "public client"}


@dataclass(frozen=True)
class Problem:
    """One finding about one URI; ``severity`` "error" blocks apply, "warning" does not."""

    severity: Literal["error", "warning"]
    message: str


def max_uris(audience: Audience) -> int:
    return MAX_URIS_PERSONAL if audience in PERSONAL_AUDIENCES else MAX_URIS


def normalize(uri: str) -> str:
    """The form Graph stores and returns: an http(s) URI without a path gains a trailing ``/``.

    ``https://example.com`` -> ``https://example.com/``; ``http://localhost:7071?x=1`` ->
    ``http://localhost:7071/?x=1``. Custom schemes and URIs with a path are returned unchanged
    (Microsoft documents the trailing slash for http(s) URIs only). Never raises.
    """
    text = uri.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.path:
        return text
    cut = len(parts.scheme) + len("://") + len(parts.netloc)  # keep the user's spelling of the head
    return text[:cut] + "/" + text[cut:]


def check_uri(uri: str, platform: Platform, audience: Audience) -> list[Problem]:
    """Every problem with one redirect URI on ``platform`` for an app of ``audience``."""
    problems: list[Problem] = []

    def error(message: str) -> None:
        problems.append(Problem("error", message))

    if not uri.strip():
        return [Problem("error", "redirect URI is empty")]
    if len(uri) > MAX_URI_LENGTH:
        error(f"redirect URI is {len(uri)} characters long; the limit is {MAX_URI_LENGTH}")
    if any(ch.isspace() for ch in uri):
        error("redirect URI contains whitespace")
    bad = sorted({ch for ch in uri if ch in FORBIDDEN_CHARACTERS})
    if bad:
        found = " ".join(repr(ch) for ch in bad)
        error(f"redirect URI contains {found}; Entra does not allow any of ! $ ' ( ) , ;")
    if "#" in uri:
        error("redirect URI must not contain a fragment ('#')")
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        error(f"redirect URI is not a valid URI ({exc})")
        return problems
    scheme = parts.scheme.lower()
    personal = audience in PERSONAL_AUDIENCES
    if "*" in uri:
        if personal:
            error(
                "wildcard redirect URIs are not allowed when personal Microsoft accounts can sign in "
                f"(audience {audience.value})"
            )
        else:
            problems.append(
                Problem("warning", "wildcard redirect URIs are discouraged; list each URI explicitly")
            )
    if parts.query and personal:
        error(
            f"query strings in redirect URIs are only supported for work/school-only audiences, not {audience.value}"
        )
    if not scheme or not _SCHEME.match(scheme) or "://" not in uri:
        error("redirect URI needs a scheme, e.g. https://app.example.com/callback")
        return problems
    if "[" in parts.netloc or host == "::1":
        error("IPv6 loopback [::1] is not supported; use http://localhost or http://127.0.0.1")
        return problems
    if scheme == "https":
        if not host:
            error("https redirect URI has no host")
    elif scheme == "http":
        if host not in LOOPBACK_HOSTS:
            error(f"http is only allowed for localhost and 127.0.0.1; use https://{parts.netloc}{parts.path}")
    elif platform == "public_client":
        if scheme in _BLOCKED_SCHEMES:
            error(f"scheme {scheme!r} cannot be a redirect target")
    else:
        error(
            f"{_PLATFORM_LABEL[platform]} redirect URIs must use https (or http://localhost); "
            f"custom schemes like {scheme}:// belong under public_client"
        )
    return problems
