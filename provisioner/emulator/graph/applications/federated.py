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
    unknown_property,
)
from provisioner.emulator.graph.ids import new_id


def add_federated_credential(app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    creds = app.setdefault("_federatedIdentityCredentials", [])
    for key in body:
        if key not in ("name", "issuer", "subject", "audiences", "description"):
            raise unknown_property(key, "microsoft.graph.federatedIdentityCredential")
    name, issuer, subject = body.get("name"), body.get("issuer"), body.get("subject")
    audiences = body.get("audiences")
    if not isinstance(name, str) or not name or len(name) > 120 or any(c in name for c in "/\\?#%: "):
        raise invalid_value("name", "FederatedIdentityCredential")
    for prop, value in (("issuer", issuer), ("subject", subject)):
        if not isinstance(value, str) or not value or len(value) > 600:
            raise invalid_value(prop, "FederatedIdentityCredential")
    if not isinstance(audiences, list) or len(audiences) != 1 or not isinstance(audiences[0], str):
        raise invalid_value("audiences", "FederatedIdentityCredential")
    if len(creds) >= 20:
        raise bad_request("Maximum number of federated identity credentials per application reached (20).")
    for other in creds:
        if other["name"].lower() == name.lower() or (other["issuer"], other["subject"]) == (issuer, subject):
            raise GraphApiError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "FederatedIdentityCredential with same name or issuer and subject already exists.",
            )
    cred = {
        "id": new_id(),
        "name": name,
        "issuer": issuer,
        "subject": subject,
        "description": body.get("description"),
        "audiences": list(audiences),
    }
    creds.append(cred)
    return cred


def find_federated_credential(app: dict[str, Any], key: str) -> dict[str, Any]:
    for cred in app.get("_federatedIdentityCredentials", []):
        if cred["id"].lower() == key.lower() or cred["name"].lower() == key.lower():
            return cred
    raise not_found(key)
