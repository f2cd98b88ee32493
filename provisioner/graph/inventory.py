"""Registrations the manifests do not (or no longer) name: export selections, managed apps, deleted items.

:func:`provisioner.graph.state.read_state` reads exactly what a manifest
declares. ``export``, ``--prune``, ``destroy --purge`` and ``restore`` start from
the other end - a query over the tenant - and are served here, with the same
plain dataclasses (never SDK models) so the YAML generation stays pure.

Queries, all Graph v1.0 defaults (no advanced-query headers needed):

* applications by ``appId eq``, ``displayName eq``, all, or
  ``tags/any(t:t eq 'provisioner:managed')`` (the ownership marker);
* for export: client service principals and resources by ``appId in (...)``
  (15 per request), and per client service principal its delegated grants
  (``oauth2PermissionGrants?$filter=clientId eq``) and app role assignments;
* soft-deleted applications: ``/directory/deletedItems/microsoft.graph.application``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioner.graph.state import (
    APP_SELECT,
    CLIENT_SP_SELECT,
    PAGE_SIZE,
    PRINCIPAL_ASSIGNMENT_SELECT,
    RESOURCE_SELECT,
    app_from_sdk,
    assignment_from_sdk,
    chunked,
    grant_from_sdk,
    in_filter,
    odata_quote,
    resource_from_sdk,
)
from provisioner.model.federated import ExistingFederated
from provisioner.model.tenant import (
    MANAGED_TAG,
    ExistingApp,
    ExistingSP,
    Principal,
    PrincipalAssignment,
    ResourceSP,
)

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

MANAGED_FILTER = f"tags/any(t:t eq {odata_quote(MANAGED_TAG)})"


@dataclass
class Inventory:
    """Applications with their service principal, consent, and every resource they request."""

    tenant_id: str | None
    apps: list[ExistingApp]
    resources: dict[str, ResourceSP] = field(default_factory=dict)  # by appId


@dataclass(frozen=True)
class DeletedApp:
    object_id: str
    app_id: str
    unique_name: str | None
    display_name: str
    deleted_at: datetime | None


def _pages(kind: str) -> Any:
    """The SDK collection-response class a collection of ``kind`` decodes into (what ``builder.get`` returns)."""
    from msgraph.generated.models.app_role_assignment_collection_response import (
        AppRoleAssignmentCollectionResponse,
    )
    from msgraph.generated.models.application_collection_response import ApplicationCollectionResponse
    from msgraph.generated.models.directory_object_collection_response import (
        DirectoryObjectCollectionResponse,
    )
    from msgraph.generated.models.federated_identity_credential_collection_response import (
        FederatedIdentityCredentialCollectionResponse,
    )
    from msgraph.generated.models.o_auth2_permission_grant_collection_response import (
        OAuth2PermissionGrantCollectionResponse,
    )
    from msgraph.generated.models.service_principal_collection_response import (
        ServicePrincipalCollectionResponse,
    )

    return {
        "federatedIdentityCredentials": FederatedIdentityCredentialCollectionResponse,
        "applications": ApplicationCollectionResponse,
        "servicePrincipals": ServicePrincipalCollectionResponse,
        "oauth2PermissionGrants": OAuth2PermissionGrantCollectionResponse,
        "appRoleAssignments": AppRoleAssignmentCollectionResponse,
        "directoryObjects": DirectoryObjectCollectionResponse,
    }[kind]


async def list_batched(
    client: GraphServiceClient, queries: Sequence[tuple[Any, str, dict[str, Any]]], *, label: str
) -> list[list[Any]]:
    """Every item of several Graph collections, first pages as GETs folded into ``$batch`` requests.

    Why: export and destroy read one collection per chunk of 15 ids or per app;
    sent one by one that is a round trip each. Each ``(builder, kind, query)`` is
    built by the SDK's request builder and decoded into the same SDK models its
    ``get`` returns; later pages (``@odata.nextLink``, rare at ``$top=999``) are
    followed one request at a time. A failed query raises its error (callers
    map it with :func:`~provisioner.graph.failures.graph_errors`).
    """
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    from provisioner.graph.batch import Batcher, Request

    if not queries:
        return []
    requests = []
    for builder, kind, query in queries:
        # Every generated collection builder nests its own `<Builder>GetQueryParameters` dataclass.
        qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=qp_cls(**query)))
        requests.append(Request(info, model=_pages(kind)))
    outcomes = await Batcher(client, label=label).each(requests)
    results: list[list[Any]] = []
    for (builder, _, _), outcome in zip(queries, outcomes, strict=True):
        page = outcome.result()
        items = list(page.value or []) if page else []
        while page is not None and page.odata_next_link:
            page = await builder.with_url(page.odata_next_link).get()
            items.extend((page.value or []) if page else [])
        results.append(items)
    return results


async def applications(client: GraphServiceClient, *, filter: str | None = None) -> list[ExistingApp]:
    """Applications matching an OData ``filter`` (all without one), as ExistingApp (no SP/consent yet)."""
    return (await applications_matching(client, [filter]))[0]


async def applications_matching(
    client: GraphServiceClient, filters: Sequence[str | None]
) -> list[list[ExistingApp]]:
    """Applications per OData filter (``None``: all), the queries sharing ``$batch`` round trips."""
    from provisioner.graph.failures import graph_errors

    queries: list[tuple[Any, str, dict[str, Any]]] = []
    for flt in filters:
        query: dict[str, Any] = {"select": APP_SELECT, "top": PAGE_SIZE}
        if flt:
            query["filter"] = flt
        queries.append((client.applications, "applications", query))
    async with graph_errors("list applications"):
        found = await list_batched(client, queries, label="list applications")
    return [
        sorted((app_from_sdk(a) for a in items), key=lambda a: (a.display_name.lower(), a.app_id))
        for items in found
    ]


async def managed_applications(client: GraphServiceClient) -> list[ExistingApp]:
    """Every application carrying the ownership marker (candidates for ``--prune``)."""
    return await applications(client, filter=MANAGED_FILTER)


async def select_applications(
    client: GraphServiceClient,
    *,
    app_id: str | None = None,
    display_name: str | None = None,
    everything: bool = False,
) -> list[ExistingApp]:
    """What ``export`` was asked for: one appId, every app with a display name, or all of them."""
    if app_id:
        return await applications(client, filter=f"appId eq {odata_quote(app_id.strip().lower())}")
    if display_name:
        return await applications(client, filter=f"displayName eq {odata_quote(display_name)}")
    if everything:
        return await applications(client)
    raise ValueError("select_applications needs app_id, display_name or everything")


async def complete(client: GraphServiceClient, apps: list[ExistingApp], tenant_id: str | None) -> Inventory:
    """Fill in service principals, admin consent and the resources the apps request (3 rounds)."""
    from provisioner.graph.failures import graph_errors

    async with graph_errors("read service principals and consent"):
        # -- round 1: client service principals + resources named in requiredResourceAccess
        client_ids = sorted({a.app_id for a in apps})
        resource_ids = sorted({r for a in apps for r in a.required_resource_access})
        queries: list[tuple[Any, str, dict[str, Any]]] = [
            (
                client.service_principals,
                "servicePrincipals",
                {"filter": in_filter("appId", c), "select": CLIENT_SP_SELECT},
            )
            for c in chunked(client_ids)
        ]
        n_clients = len(queries)
        queries += [
            (
                client.service_principals,
                "servicePrincipals",
                {"filter": in_filter("appId", c), "select": RESOURCE_SELECT},
            )
            for c in chunked(resource_ids)
        ]
        results = await list_batched(client, queries, label="read service principals")
        sps = {
            str(sp.app_id).lower(): ExistingSP(
                object_id=str(sp.id).lower(),
                app_id=str(sp.app_id).lower(),
                assignment_required=sp.app_role_assignment_required,
            )
            for batch in results[:n_clients]
            for sp in batch
        }
        resources = {r.app_id: r for r in (resource_from_sdk(sp) for b in results[n_clients:] for sp in b)}
        for app in apps:
            app.service_principal = sps.get(app.app_id)

        # -- round 2: consent per client service principal
        with_sp = [a for a in apps if a.service_principal is not None]
        sp_ids = [str(a.service_principal.object_id) for a in with_sp]  # type: ignore[union-attr]
        queries = [
            (
                client.oauth2_permission_grants,
                "oauth2PermissionGrants",
                {"filter": f"clientId eq {odata_quote(sp_id)}"},
            )
            for sp_id in sp_ids
        ]
        queries += [
            (
                client.service_principals.by_service_principal_id(sp_id).app_role_assignments,
                "appRoleAssignments",
                {},
            )
            for sp_id in sp_ids
        ]
        n_consent = len(queries)
        # users and groups assigned to each app (export writes them back as assigned_users/_groups)
        queries += [
            (
                client.service_principals.by_service_principal_id(sp_id).app_role_assigned_to,
                "appRoleAssignments",
                {"select": PRINCIPAL_ASSIGNMENT_SELECT},
            )
            for sp_id in sp_ids
        ]
        n_assigned = len(queries)
        # and every app's federated identity credentials (export writes them back)
        queries += [
            (
                client.applications.by_application_id(app.object_id).federated_identity_credentials,
                "federatedIdentityCredentials",
                {},
            )
            for app in apps
        ]
        n_federated = len(queries)
        # and every app's owners (export writes the users back as owners)
        queries += [
            (client.applications.by_application_id(app.object_id).owners, "directoryObjects", {})
            for app in apps
        ]
        results = await list_batched(client, queries, label="read consent")
    for app, items in zip(with_sp, results[n_consent:n_assigned], strict=True):
        app.principal_assignments = sorted(
            (
                PrincipalAssignment(
                    id=str(a.id),
                    principal_id=str(a.principal_id).lower(),
                    principal_type=a.principal_type or "",
                    principal_name=a.principal_display_name,
                    app_role_id=str(a.app_role_id).lower(),
                )
                for a in items
            ),
            key=lambda a: (a.principal_type, (a.principal_name or "").lower(), a.principal_id),
        )
    for app, items in zip(apps, results[n_assigned:n_federated], strict=True):
        app.federated_credentials = sorted((_federated(f) for f in items), key=lambda f: f.name.lower())
    for app, items in zip(apps, results[n_federated:], strict=True):
        app.owners = [_owner(o) for o in items]
    for index, app in enumerate(with_sp):
        app.delegated_grants = sorted((grant_from_sdk(g) for g in results[index]), key=lambda g: g.id)
        app.role_assignments = sorted(
            (assignment_from_sdk(r) for r in results[len(with_sp) + index]), key=lambda r: r.id
        )
    return Inventory(tenant_id=tenant_id, apps=apps, resources=resources)


def _owner(item: Any) -> Principal:
    """An owner as msgraph-sdk decodes it (a ``User``, a ``ServicePrincipal``, ... by ``@odata.type``)."""
    kind = str(getattr(item, "odata_type", None) or "").rsplit(".", 1)[-1]
    kind = {"user": "User", "servicePrincipal": "ServicePrincipal"}.get(kind, kind or "DirectoryObject")
    name = getattr(item, "user_principal_name", None) or getattr(item, "display_name", None) or str(item.id)
    return Principal(id=str(item.id).lower(), kind=kind, name=str(name))


def _federated(item: Any) -> ExistingFederated:
    return ExistingFederated(
        id=str(item.id),
        name=item.name or "",
        issuer=item.issuer or "",
        subject=item.subject or "",
        audiences=tuple(item.audiences or ()),
        description=item.description or None,
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def deleted_applications(client: GraphServiceClient) -> list[DeletedApp]:
    """Soft-deleted applications (restorable for 30 days), newest deletion first."""
    from provisioner.graph.failures import graph_errors

    builder = client.directory.deleted_items.graph_application
    async with graph_errors("list deleted applications"):
        (found,) = await list_batched(
            client,
            [
                (
                    builder,
                    "applications",
                    {
                        "select": ["id", "appId", "uniqueName", "displayName", "deletedDateTime"],
                        "top": PAGE_SIZE,
                    },
                )
            ],
            label="list deleted applications",
        )
    apps = [
        DeletedApp(
            object_id=str(a.id).lower(),
            app_id=str(a.app_id).lower(),
            unique_name=a.unique_name,
            display_name=a.display_name or "",
            deleted_at=_utc(a.deleted_date_time),
        )
        for a in found
    ]
    return sorted(apps, key=lambda a: a.deleted_at or datetime.min.replace(tzinfo=UTC), reverse=True)


async def delete_application(client: GraphServiceClient, object_id: str) -> bool:
    """Soft-delete an application (Entra deletes its service principal, consent and role assignments
    with it); False when it was already gone."""
    from kiota_abstractions.api_error import APIError

    from provisioner.graph.failures import error_status

    try:
        await client.applications.by_application_id(object_id).delete()
    except APIError as exc:
        if error_status(exc) == 404:
            return False
        raise
    return True


async def purge_deleted(client: GraphServiceClient, object_id: str) -> None:
    """Permanently delete a soft-deleted object; retried while the deletion replicates."""
    from provisioner.graph.retry import retry_replication

    item = client.directory.deleted_items.by_directory_object_id(object_id)
    await retry_replication(item.delete, waiting_for="the deleted application")


async def restore_deleted(client: GraphServiceClient, object_id: str) -> Any:
    """Restore a soft-deleted application (its service principal is not restored by Entra)."""
    return await client.directory.deleted_items.by_directory_object_id(object_id).restore.post()


__all__ = [
    "DeletedApp",
    "Inventory",
    "applications",
    "applications_matching",
    "complete",
    "delete_application",
    "deleted_applications",
    "list_batched",
    "managed_applications",
    "purge_deleted",
    "restore_deleted",
    "select_applications",
]
