"""Certificate key credentials on an application: read-modify-write of ``keyCredentials``.

Graph offers ``addKey``/``removeKey`` only with a proof of possession signed by a certificate the
application already has, and the first certificate (or any after all have expired) must go in by
``PATCH /applications/{id}`` with the whole ``keyCredentials`` collection. The tool always uses that
documented path: it reads the collection with ``$select=keyCredentials`` (the only read that returns
``key``), and writes it back with the new certificate added or the retired ones left out. Every
existing credential goes back with its key material, so certificates of other kinds (signing keys)
and of other tools are kept. Two writers racing on one application can still lose each other's
certificate (last PATCH wins); the next run sees the missing one and puts it back.

Only public certificates travel here: the private key of a generated certificate never leaves the
process except into the sinks.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from provisioner.core.errors import GraphError
from provisioner.graph.failures import graph_errors

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

ASYMMETRIC = "AsymmetricX509Cert"
VERIFY = "Verify"


def new_credential(key_id: str, name: str, der: bytes) -> dict[str, Any]:
    """A keyCredential (JSON shape) for a public certificate: type AsymmetricX509Cert, usage Verify."""
    return {
        "keyId": key_id,
        "displayName": name,
        "type": ASYMMETRIC,
        "usage": VERIFY,
        "key": base64.b64encode(der).decode("ascii"),
    }


def _model(entry: Mapping[str, Any]) -> Any:
    from msgraph.generated.models.key_credential import KeyCredential

    key = entry.get("key")
    if not isinstance(key, str) or not key:
        # Without its key material a credential cannot be written back; refusing keeps it in Entra.
        raise GraphError(
            f"keyCredential {entry.get('keyId')} came back without its key; read it with $select=keyCredentials"
        )
    return KeyCredential(
        key_id=UUID(str(entry["keyId"])),
        display_name=entry.get("displayName"),
        type=entry.get("type"),
        usage=entry.get("usage"),
        key=base64.b64decode(key),
    )


def patch_body(
    existing: Iterable[Mapping[str, Any]],
    *,
    add: Iterable[Mapping[str, Any]] = (),
    drop: Collection[str] = (),
) -> Any:
    """The application PATCH body: ``existing`` (JSON, as read) minus ``drop`` keyIds, plus ``add``."""
    from msgraph.generated.models.application import Application

    gone = {k.lower() for k in drop}
    kept = [e for e in existing if str(e.get("keyId", "")).lower() not in gone]
    return Application(key_credentials=[_model(e) for e in [*kept, *add]])


def read_request(client: GraphServiceClient, object_id: str) -> Any:
    """``GET /applications/{id}?$select=id,keyCredentials`` as request information (batched by apply)."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.applications.item.application_item_request_builder import (
        ApplicationItemRequestBuilder,
    )

    builder = client.applications.by_application_id(object_id)
    query = ApplicationItemRequestBuilder.ApplicationItemRequestBuilderGetQueryParameters(
        select=["id", "keyCredentials"]
    )
    return builder.to_get_request_information(RequestConfiguration(query_parameters=query))


def write_request(client: GraphServiceClient, object_id: str, body: Any) -> Any:
    return client.applications.by_application_id(object_id).to_patch_request_information(body)


def _as_json(cred: Any) -> dict[str, Any]:
    """A KeyCredential model (SDK read) as the JSON shape :func:`patch_body` takes."""
    return {
        "keyId": str(cred.key_id) if cred.key_id else None,
        "displayName": cred.display_name,
        "type": cred.type,
        "usage": cred.usage,
        "key": base64.b64encode(cred.key).decode("ascii") if cred.key else None,
    }


async def remove_keys(
    client: GraphServiceClient, object_id: str, key_ids: Collection[str], *, label: str
) -> bool:
    """Remove certificates by keyId (one read, one PATCH); False when none of them was there any more."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.applications.item.application_item_request_builder import (
        ApplicationItemRequestBuilder,
    )

    builder = client.applications.by_application_id(object_id)
    query = ApplicationItemRequestBuilder.ApplicationItemRequestBuilderGetQueryParameters(
        select=["id", "keyCredentials"]
    )
    async with graph_errors(f"{label}: remove certificate(s) {', '.join(sorted(key_ids))}"):
        app = await builder.get(RequestConfiguration(query_parameters=query))
        existing = [_as_json(c) for c in (app.key_credentials or [])] if app is not None else []
        wanted = {k.lower() for k in key_ids}
        if not any(str(e["keyId"]).lower() in wanted for e in existing):
            return False
        await builder.patch(patch_body(existing, drop=wanted))
    return True
