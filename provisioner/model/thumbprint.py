"""Certificate thumbprints as Graph returns them, without importing ``cryptography``.

Reading a tenant's key credentials needs only this; keeping it apart from
:mod:`provisioner.model.x509` spares every ``plan`` the ~15 ms import of
``cryptography.x509`` when no certificate is generated or loaded.
"""

from __future__ import annotations

import base64
import binascii


def normalize_thumbprint(value: object) -> str | None:
    """``customKeyIdentifier`` as Graph returns it (40 hex digits, or base64 of 20 bytes) -> upper hex."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) == 40 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex().upper() if len(raw) == 20 else None
