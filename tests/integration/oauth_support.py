"""Playing the user and the client against the emulator's identity pages: one helper for every test file.

The emulator's sign-in and consent pages are plain HTML forms; tests read them with the
standard-library parser rather than a browser so they stay fast and need no extra install.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


class _Forms(HTMLParser):
    """Collects forms: id -> {"action", "fields" (hidden inputs), "buttons" [attribute dicts]}."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = {"action": a.get("action", ""), "fields": {}, "buttons": []}
            self.forms[a.get("id", "")] = self._current
        elif tag == "input" and self._current is not None and a.get("type") == "hidden":
            self._current["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and self._current is not None:
            self._current["buttons"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> dict[str, dict[str, Any]]:
    """The forms of an emulator page by id (``signin``, ``consent``, ``response`` ...)."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 defines them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def client_credentials_form(client_id: str, client_secret: str, scope: str = GRAPH_DEFAULT) -> dict[str, str]:
    """The body of a client-credentials token request (RFC 6749 4.4) with a secret in the form."""
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
    }
