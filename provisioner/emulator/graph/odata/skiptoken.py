"""The opaque ``$skiptoken`` of directory paging: an offset, base64url JSON.

Clients must treat it as opaque and follow ``@odata.nextLink`` verbatim; a token
that does not decode is Graph's "expired or invalid" 400.
"""

from __future__ import annotations

import base64
import json

from provisioner.emulator.graph.errors import bad_request


def encode_skiptoken(offset: int) -> str:
    raw = json.dumps({"o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError):
        raise bad_request("The specified page token value has expired or is invalid.") from None
