"""An application's credentials: client secrets (passwordCredentials) and certificates (keyCredentials).

The rules shared with service principals live in :mod:`provisioner.emulator.graph.credentials`
(re-exported here); what is particular to applications is that PATCH may only drop secrets.
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.applications.schema import RESOURCE
from provisioner.emulator.graph.credentials import (
    SECRET_LIFETIME_YEARS,
    add_password,
    hide_key_material,
    new_password,
    new_secret_value,
    parse_key_credentials,
    remove_password,
    secret_hash,
)
from provisioner.emulator.graph.errors import bad_request, invalid_value
from provisioner.emulator.graph.ids import is_guid

__all__ = [
    "SECRET_LIFETIME_YEARS",
    "add_password",
    "hide_key_material",
    "new_password",
    "new_secret_value",
    "parse_key_credentials",
    "remove_password",
    "replace_passwords",
    "secret_hash",
]


def replace_passwords(app: dict[str, Any], creds: Any) -> None:
    """PATCH may only drop existing secrets (new ones need addPassword, which returns the value)."""
    if not isinstance(creds, list):
        raise invalid_value("passwordCredentials", RESOURCE)
    existing = {c["keyId"].lower(): c for c in app["passwordCredentials"]}
    kept = []
    for cred in creds:
        key_id = cred.get("keyId") if isinstance(cred, dict) else None
        if not is_guid(key_id) or key_id.lower() not in existing:
            raise bad_request("New password credentials must be generated using service actions.")
        kept.append(existing[key_id.lower()])
    app["passwordCredentials"] = kept
    keep_ids = {c["keyId"] for c in kept}
    app["_secretHashes"] = {k: v for k, v in app.get("_secretHashes", {}).items() if k in keep_ids}
