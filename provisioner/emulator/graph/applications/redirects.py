"""Redirect URIs of the web, spa and publicClient platforms, checked and stored the way Entra does.

https anywhere, http only for loopback hosts, custom schemes for native clients
only, wildcards only on web apps of work accounts, no duplicates (ignoring case),
at most 256 in all (100 for apps open to personal accounts); an http(s) URI
without a path is stored with a trailing ``/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from provisioner.emulator.graph.applications.schema import RESOURCE
from provisioner.emulator.graph.errors import invalid_value

_FORBIDDEN_URI_CHARS = set("!$'(),;")
_LOOPBACK = ("localhost", "127.0.0.1")


def normalise_redirect_uri(uri: str) -> str:
    """Graph stores an http(s) URI without a path with a trailing ``/``."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc and not parts.path:
        return (
            uri.replace(parts.netloc, parts.netloc + "/", 1)
            if not parts.query
            else f"{parts.scheme}://{parts.netloc}/?{parts.query}"
        )
    return uri


def valid_redirect_uri(uri: Any, platform: str, personal: bool) -> bool:
    if not isinstance(uri, str) or not uri or len(uri) > 256:
        return False
    if _FORBIDDEN_URI_CHARS & set(uri) or "[::1]" in uri:
        return False
    if "*" in uri and (personal or platform != "web"):
        return False
    if platform == "publicClient" and uri == "urn:ietf:wg:oauth:2.0:oob":
        return True
    try:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if not parts.scheme or parts.fragment:
        return False
    if parts.scheme == "https":
        return bool(host)
    if parts.scheme == "http":
        return host in _LOOPBACK
    # Custom schemes (msal{appId}://auth, myapp://callback) exist for native clients only.
    return platform == "publicClient" and bool(parts.netloc or parts.path)


def validate_redirects(app: dict[str, Any], personal: bool) -> None:
    total = 0
    for platform in ("web", "spa", "publicClient"):
        section = app.get(platform) or {}
        uris = section.get("redirectUris") if isinstance(section, dict) else None
        if uris is None:
            uris = []
        if not isinstance(uris, list) or not all(valid_redirect_uri(u, platform, personal) for u in uris):
            raise invalid_value(platform, RESOURCE)
        normalised = [normalise_redirect_uri(u) for u in uris]
        if len({u.lower() for u in normalised}) != len(normalised):
            raise invalid_value(platform, RESOURCE)
        if section:
            section["redirectUris"] = normalised
        total += len(uris)
        if total > (100 if personal else 256):
            raise invalid_value(platform, RESOURCE)
    web = app.get("web") or {}
    if web.get("redirectUriSettings"):
        web["redirectUriSettings"] = [
            {"uri": normalise_redirect_uri(s.get("uri", "")), "index": s.get("index")}
            for s in web["redirectUriSettings"]
            if isinstance(s, dict)
        ]
    for key in ("homePageUrl", "logoutUrl"):
        value = web.get(key)
        if value is not None and not (isinstance(value, str) and urlsplit(value).scheme in ("http", "https")):
            raise invalid_value("web", RESOURCE)
