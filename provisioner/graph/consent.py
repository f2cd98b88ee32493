"""Where admin consent is granted (and revoked).

Admin consent in Entra is two kinds of objects, both pointing at service
principal object IDs (not appIds):

* delegated permissions: one ``oauth2PermissionGrant`` per (client SP,
  resource SP) with ``consentType: AllPrincipals`` ("admin consent, all
  users"); its ``scope`` is a space-separated list that is updated in place
  with PATCH (Graph replaces the whole string);
* application permissions: one ``appRoleAssignment`` per app role, created
  with ``POST /servicePrincipals/{resource}/appRoleAssignedTo``.

:mod:`provisioner.engine.apply` calls these; the plan decides *what* to grant
(:mod:`provisioner.engine.planner`). Every function is idempotent against concurrent
runs: "already exists" answers are resolved, "already gone" is success.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID

from provisioner.graph.failures import error_message, error_status
from provisioner.model.tenant import ALL_PRINCIPALS

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient


def scope_string(scopes: Iterable[str]) -> str:
    """Graph's scope format: space separated; sorted so the stored value is deterministic."""
    return " ".join(sorted(set(scopes)))


async def grant_delegated(
    client: GraphServiceClient, *, client_sp_id: str, resource_sp_id: str, scopes: Iterable[str]
) -> str:
    """Grant admin consent for delegated ``scopes`` on behalf of all users; returns the grant id.

    A concurrent run may have created the grant first (409 "Permission entry
    already exists."): then that grant's scope is set to ``scopes``.
    """
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

    scope = scope_string(scopes)
    body = OAuth2PermissionGrant(
        client_id=client_sp_id, consent_type=ALL_PRINCIPALS, resource_id=resource_sp_id, scope=scope
    )
    try:
        created = await client.oauth2_permission_grants.post(body)
    except APIError as exc:
        if error_status(exc) != 409:
            raise
        existing = await find_admin_grant(client, client_sp_id=client_sp_id, resource_sp_id=resource_sp_id)
        if existing is None:
            raise
        await update_delegated_grant(client, existing, scopes)
        return existing
    return str(created.id) if created and created.id else ""


async def find_admin_grant(
    client: GraphServiceClient, *, client_sp_id: str, resource_sp_id: str
) -> str | None:
    """The id of the AllPrincipals grant between two service principals, if any."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
        Oauth2PermissionGrantsRequestBuilder,
    )

    query = Oauth2PermissionGrantsRequestBuilder.Oauth2PermissionGrantsRequestBuilderGetQueryParameters(
        filter=f"clientId eq '{client_sp_id}'"
    )
    page = await client.oauth2_permission_grants.get(RequestConfiguration(query_parameters=query))
    for grant in (page.value or []) if page else []:
        if str(grant.resource_id).lower() == resource_sp_id.lower() and grant.consent_type == ALL_PRINCIPALS:
            return str(grant.id)
    return None


async def update_delegated_grant(client: GraphServiceClient, grant_id: str, scopes: Iterable[str]) -> None:
    """Replace the grant's scope string (PATCH; Graph keeps the grant's id)."""
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

    body = OAuth2PermissionGrant(scope=scope_string(scopes))
    await client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id).patch(body)


async def revoke_delegated(client: GraphServiceClient, grant_id: str) -> bool:
    """Delete the grant; False when it was already gone."""
    from kiota_abstractions.api_error import APIError

    try:
        await client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id).delete()
    except APIError as exc:
        if error_status(exc) == 404:
            return False
        raise
    return True


async def assign_app_role(
    client: GraphServiceClient, *, principal_sp_id: str, resource_sp_id: str, app_role_id: str
) -> str | None:
    """Grant admin consent for one application permission; returns the assignment id (None if it existed)."""
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment

    body = AppRoleAssignment(
        principal_id=UUID(principal_sp_id), resource_id=UUID(resource_sp_id), app_role_id=UUID(app_role_id)
    )
    try:
        created = await client.service_principals.by_service_principal_id(
            resource_sp_id
        ).app_role_assigned_to.post(body)
    except APIError as exc:
        # Graph: 400 "Permission being assigned already exists on the object." (a concurrent run won)
        if error_status(exc) in (400, 409) and "already exists" in error_message(exc).lower():
            return None
        raise
    return str(created.id) if created and created.id else None


async def revoke_app_role(client: GraphServiceClient, *, resource_sp_id: str, assignment_id: str) -> bool:
    """Delete one app role assignment; False when it was already gone."""
    from kiota_abstractions.api_error import APIError

    builder = client.service_principals.by_service_principal_id(resource_sp_id).app_role_assigned_to
    try:
        await builder.by_app_role_assignment_id(assignment_id).delete()
    except APIError as exc:
        if error_status(exc) == 404:
            return False
        raise
    return True
