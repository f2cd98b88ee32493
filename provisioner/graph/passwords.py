"""Client secrets on an application or its service principal: addPassword / removePassword.

Graph returns a secret's value exactly once, in the addPassword response; it
goes straight into a :class:`~provisioner.model.connections.MintedSecret` (whose repr
hides it) and is never logged or put in an error message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from provisioner.core.errors import GraphError
from provisioner.graph.failures import error_status
from provisioner.model.connections import SERVICE_PRINCIPAL, MintedSecret

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient


def password_builder(client: GraphServiceClient, owner: str, object_id: str) -> Any:
    """The request builder of the object whose secrets these are (its ``add_password``/``remove_password``
    build the same bodies for an application and a service principal)."""
    if owner == SERVICE_PRINCIPAL:
        return client.service_principals.by_service_principal_id(object_id)
    return client.applications.by_application_id(object_id)


async def add_password(
    client: GraphServiceClient, app_object_id: str, *, name: str, expires: datetime
) -> MintedSecret:
    """Mint a client secret named ``name`` (its description in Entra) valid until ``expires``."""
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody,
    )
    from msgraph.generated.models.password_credential import PasswordCredential

    body = AddPasswordPostRequestBody(
        password_credential=PasswordCredential(display_name=name, end_date_time=expires.astimezone(UTC))
    )
    created = await client.applications.by_application_id(app_object_id).add_password.post(body)
    if created is None or not created.secret_text or created.key_id is None:
        raise GraphError(f"mint secret {name!r}: Graph returned no secret value", status=200)
    return MintedSecret(
        name=name,
        key_id=str(created.key_id),
        value=created.secret_text,
        hint=created.hint or created.secret_text[:3],
        expires=(created.end_date_time or expires).astimezone(UTC),
    )


async def remove_password(
    client: GraphServiceClient, app_object_id: str, key_id: str, *, owner: str = "application"
) -> bool:
    """Remove one secret (of the service principal ``app_object_id`` when ``owner`` says so); False when
    it was already gone (a concurrent run removed it)."""
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
        RemovePasswordPostRequestBody,
    )

    from provisioner.graph.failures import graph_errors

    body = RemovePasswordPostRequestBody(key_id=UUID(key_id))
    async with graph_errors(f"remove secret {key_id}"):  # any other failure: one ProvisionerError line
        try:
            await password_builder(client, owner, app_object_id).remove_password.post(body)
        except APIError as exc:
            if error_status(exc) == 404:
                return False
            raise
    return True
