"""Identifier formats Graph uses, so clients that parse or compare ids see real shapes.

Directory objects use random GUIDs. Grant and assignment ids are not GUIDs:
an oauth2PermissionGrant id is base64url(clientId + resourceId [+ principalId])
in .NET GUID byte order, and an appRoleAssignment id starts with the principal's
bytes (both verified by decoding documented examples).
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def new_id() -> str:
    return str(uuid.uuid4())


def is_guid(value: object) -> bool:
    return isinstance(value, str) and bool(_GUID.match(value))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def grant_id(client_id: str, resource_id: str, principal_id: str | None = None) -> str:
    raw = uuid.UUID(client_id).bytes_le + uuid.UUID(resource_id).bytes_le
    if principal_id:
        raw += uuid.UUID(principal_id).bytes_le
    return _b64(raw)


def assignment_id(principal_id: str) -> str:
    return _b64(uuid.UUID(principal_id).bytes_le + secrets.token_bytes(16))
