"""Signed tickets: short-lived, tamper-proof state carried through the browser.

The authorize flow hands the signed-in user from the sign-in form to the consent
form in a hidden field, and keeps single sign-on in a session cookie; both are
HMAC-SHA256 signed with the emulator's session secret and expire by the emulator
clock, so a page cannot be replayed or forged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity.tokens import b64url, signing_key


def _mac_key(ctx: EmulatorContext) -> bytes:
    return signing_key(ctx).session_secret


def sign_ticket(ctx: EmulatorContext, payload: dict[str, Any], lifetime: int) -> str:
    body = dict(payload, exp=int(ctx.clock.timestamp()) + lifetime)
    data = b64url(json.dumps(body, separators=(",", ":")).encode())
    mac = b64url(hmac.new(_mac_key(ctx), data.encode(), hashlib.sha256).digest())
    return f"{data}.{mac}"


def read_ticket(ctx: EmulatorContext, value: str | None) -> dict[str, Any] | None:
    if not value or "." not in value:
        return None
    data, mac = value.rsplit(".", 1)
    expected = b64url(hmac.new(_mac_key(ctx), data.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict) or body.get("exp", 0) < ctx.clock.timestamp():
        return None
    return body
