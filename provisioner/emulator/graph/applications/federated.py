"""Federated identity credentials of an application (workload identity federation).

At most 20 per application; name, issuer and subject are checked the way Graph
checks them, and a name or an (issuer, subject) pair may not repeat (409).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.errors import (
    GraphApiError,
    bad_request,
    invalid_value,
    not_found,
    read_only,
    unknown_property,
)
from provisioner.emulator.graph.ids import new_id

_FIC = "FederatedIdentityCredential"
_FIELDS = ("name", "issuer", "subject", "audiences", "description")
MAX_PER_APP = 20
MAX_TEXT = 600


def _check(body: dict[str, Any], creds: list[dict[str, Any]], current: dict[str, Any] | None) -> None:
    """Graph's rules for the properties ``body`` sets; ``current`` is the credential a PATCH changes.

    Types first (a non-list ``audiences`` is a bad value, not stored), then lengths and counts as
    documented for federatedIdentityCredential: issuer, subject, description and the single
    audience at most 600 characters, name at most 120 and URL friendly.
    """
    for key in body:
        if key not in _FIELDS:
            raise unknown_property(key, "microsoft.graph.federatedIdentityCredential")
    if current is None or "name" in body:
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 120 or any(c in name for c in "/\\?#%: "):
            raise invalid_value("name", _FIC)
    for prop in ("issuer", "subject"):
        if current is None or prop in body:
            value = body.get(prop)
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
                raise invalid_value(prop, _FIC)
    if current is None or "audiences" in body:
        audiences = body.get("audiences")
        if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
            raise invalid_value("audiences", _FIC)
        if len(audiences) != 1:
            raise bad_request("Federated identity credentials support exactly one audience.")
        if len(audiences[0]) > MAX_TEXT:
            raise invalid_value("audiences", _FIC)
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_TEXT):
        raise invalid_value("description", _FIC)
    merged = {**(current or {}), **body}
    for other in creds:
        if other is current:
            continue
        same_name = current is None and other["name"].lower() == str(merged.get("name")).lower()
        if same_name or (other["issuer"], other["subject"]) == (merged.get("issuer"), merged.get("subject")):
            raise GraphApiError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "FederatedIdentityCredential with same name or issuer and subject already exists.",
            )


def add_federated_credential(app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    creds = app.setdefault("_federatedIdentityCredentials", [])
    _check(body, creds, None)
    if len(creds) >= MAX_PER_APP:
        raise bad_request(
            f"Maximum number of federated identity credentials per application reached ({MAX_PER_APP})."
        )
    cred = {
        "id": new_id(),
        "name": body["name"],
        "issuer": body["issuer"],
        "subject": body["subject"],
        "description": body.get("description"),
        "audiences": list(body["audiences"]),
    }
    creds.append(cred)
    return cred


def update_federated_credential(app: dict[str, Any], cred: dict[str, Any], body: dict[str, Any]) -> None:
    """PATCH: ``name`` is immutable; everything else is validated as on create, then stored."""
    if "name" in body and body["name"] != cred["name"]:
        raise read_only("name")
    _check({k: v for k, v in body.items() if k != "name"}, app.get("_federatedIdentityCredentials", []), cred)
    for key in ("issuer", "subject", "audiences", "description"):
        if key in body:
            cred[key] = list(body[key]) if key == "audiences" else body[key]


def find_federated_credential(app: dict[str, Any], key: str) -> dict[str, Any]:
    for cred in app.get("_federatedIdentityCredentials", []):
        if cred["id"].lower() == key.lower() or cred["name"].lower() == key.lower():
            return cred
    raise not_found(key)
