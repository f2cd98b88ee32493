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

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from provisioner.graph.state import (
    APP_SELECT,
    CLIENT_SP_SELECT,
    MANAGED_TAG,
    PAGE_SIZE,
    RESOURCE_SELECT,
    ExistingApp,
    ExistingSP,
    ResourceSP,
    app_from_sdk,
    assignment_from_sdk,
    chunked,
    grant_from_sdk,
    in_filter,
    odata_quote,
    resource_from_sdk,
)

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

T = TypeVar("T")
CONCURRENCY = 8  # parallel per-app reads (grants, assignments) for `export --all`
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


async def list_all(builder: Any, **query: Any) -> list[Any]:
    """Every item of a Graph collection (follows ``@odata.nextLink``)."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    # Every generated collection builder nests its own `<Builder>GetQueryParameters` dataclass.
    qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
    page = await builder.get(request_configuration=RequestConfiguration(query_parameters=qp_cls(**query)))
    items = list(page.value or []) if page else []
    while page is not None and page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        items.extend((page.value or []) if page else [])
    return items


async def _bounded(calls: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def applications(client: GraphServiceClient, *, filter: str | None = None) -> list[ExistingApp]:
    """Applications matching an OData ``filter`` (all without one), as ExistingApp (no SP/consent yet)."""
    from provisioner.graph.errors import graph_errors

    query: dict[str, Any] = {"select": APP_SELECT, "top": PAGE_SIZE}
    if filter:
        query["filter"] = filter
    async with graph_errors("list applications"):
        found = await list_all(client.applications, **query)
    return sorted((app_from_sdk(a) for a in found), key=lambda a: (a.display_name.lower(), a.app_id))


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
    from provisioner.graph.errors import graph_errors

    async with graph_errors("read service principals and consent"):
        # -- round 1: client service principals + resources named in requiredResourceAccess
        client_ids = sorted({a.app_id for a in apps})
        resource_ids = sorted({r for a in apps for r in a.required_resource_access})
        calls: list[Awaitable[list[Any]]] = [
            list_all(client.service_principals, filter=in_filter("appId", c), select=CLIENT_SP_SELECT)
            for c in chunked(client_ids)
        ]
        n_clients = len(calls)
        calls += [
            list_all(client.service_principals, filter=in_filter("appId", c), select=RESOURCE_SELECT)
            for c in chunked(resource_ids)
        ]
        results = await _bounded(calls)
        sps = {
            str(sp.app_id).lower(): ExistingSP(object_id=str(sp.id).lower(), app_id=str(sp.app_id).lower())
            for batch in results[:n_clients]
            for sp in batch
        }
        resources = {r.app_id: r for r in (resource_from_sdk(sp) for b in results[n_clients:] for sp in b)}
        for app in apps:
            app.service_principal = sps.get(app.app_id)

        # -- round 2: consent per client service principal
        with_sp = [a for a in apps if a.service_principal is not None]
        grant_calls = [
            list_all(
                client.oauth2_permission_grants,
                filter=f"clientId eq {odata_quote(a.service_principal.object_id)}",  # type: ignore[union-attr]
            )
            for a in with_sp
        ]
        role_calls = [
            list_all(
                client.service_principals.by_service_principal_id(
                    a.service_principal.object_id  # type: ignore[union-attr]
                ).app_role_assignments
            )
            for a in with_sp
        ]
        results = await _bounded([*grant_calls, *role_calls])
    for index, app in enumerate(with_sp):
        app.delegated_grants = sorted((grant_from_sdk(g) for g in results[index]), key=lambda g: g.id)
        app.role_assignments = sorted(
            (assignment_from_sdk(r) for r in results[len(with_sp) + index]), key=lambda r: r.id
        )
    return Inventory(tenant_id=tenant_id, apps=apps, resources=resources)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def deleted_applications(client: GraphServiceClient) -> list[DeletedApp]:
    """Soft-deleted applications (restorable for 30 days), newest deletion first."""
    from provisioner.graph.errors import graph_errors

    builder = client.directory.deleted_items.graph_application
    async with graph_errors("list deleted applications"):
        found = await list_all(
            builder, select=["id", "appId", "uniqueName", "displayName", "deletedDateTime"], top=PAGE_SIZE
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

    from provisioner.graph.errors import error_status

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
    "complete",
    "delete_application",
    "deleted_applications",
    "managed_applications",
    "purge_deleted",
    "restore_deleted",
    "select_applications",
]
