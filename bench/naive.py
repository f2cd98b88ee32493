"""The naive baseline: one msgraph-sdk call per object, one call at a time.

This is how a shell script over the Azure CLI converges the same manifests
(``az ad app list --filter``, ``az ad app create``, ``az ad sp create``,
``az ad sp show``, ``az ad app permission admin-consent``, ``az ad app
credential reset --append``): no batching, no concurrency, every call waits for
the previous one. It talks to the same endpoint through the same SDK client as
the tool (same credential, same retry middleware), so the benchmark compares
strategies, not plumbing.

    python bench/naive.py apply|plan|rotate MANIFEST_DIR [--parallel K]

``--parallel K`` (default 1: sequential) keeps up to K calls in flight, the way Terraform
walks its graph with ``-parallelism=10`` (its default): every app is its own chain of
dependent calls (an app's calls still wait for each other), and up to K such operations
run at once.

reads the target from the environment (``PROVISIONER_GRAPH_URL``,
``AZURE_TENANT_ID``/``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET``,
``PROVISIONER_CA_CERT``, as printed by ``provisioner emulator serve``) and
prints one JSON line: ``{"mode": ..., "apps": n, "calls": k}``.

Per app: apply = find the app, create it, create its service principal, look
up the resource service principal, grant the delegated permissions, assign
each application permission, add a password (7 calls for the bench apps);
plan = find the app, its service principal, the resource service principal,
its grants, its app role assignments (5 calls); rotate = find the app, add a
password (2 calls).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MANAGED_TAG = "provisioner:managed"


class Calls:
    """Counts SDK calls (each is one HTTP round trip here) and keeps at most ``in_flight`` running."""

    def __init__(self, in_flight: int = 1) -> None:
        self.count = 0
        self.slots = asyncio.Semaphore(in_flight)

    async def __call__(self, awaitable: Any) -> Any:
        self.count += 1
        async with self.slots:
            return await awaitable


def _query(builder: Any, **query: Any) -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    qp_cls = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")
    return RequestConfiguration(query_parameters=qp_cls(**query))


async def find_app(client: Any, call: Calls, name: str) -> Any:
    page = await call(client.applications.get(_query(client.applications, filter=f"uniqueName eq '{name}'")))
    return page.value[0] if page and page.value else None


async def find_sp(client: Any, call: Calls, app_id: str) -> Any:
    sps = client.service_principals
    page = await call(sps.get(_query(sps, filter=f"appId eq '{app_id}'")))
    return page.value[0] if page and page.value else None


def _resource_key(key: str) -> str:
    return GRAPH_APP_ID if key.lower() in ("microsoft graph", GRAPH_APP_ID) else key


async def add_password(client: Any, call: Calls, object_id: str, name: str, lifetime: timedelta) -> str:
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody,
    )
    from msgraph.generated.models.password_credential import PasswordCredential

    body = AddPasswordPostRequestBody(
        password_credential=PasswordCredential(display_name=name, end_date_time=datetime.now(UTC) + lifetime)
    )
    created = await call(client.applications.by_application_id(object_id).add_password.post(body))
    return str(created.key_id)


async def apply_one(client: Any, call: Calls, app: Any) -> None:
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant
    from msgraph.generated.models.required_resource_access import RequiredResourceAccess
    from msgraph.generated.models.resource_access import ResourceAccess
    from msgraph.generated.models.service_principal import ServicePrincipal
    from msgraph.generated.models.web_application import WebApplication

    existing = await find_app(client, call, app.name)
    resources = {}
    for key in app.permissions:
        resources[key] = await find_sp(client, call, _resource_key(key))  # az ad sp show --id
    if existing is None:
        access = [
            RequiredResourceAccess(
                resource_app_id=str(res.app_id),
                resource_access=[
                    *(
                        ResourceAccess(id=_scope_id(res, n), type="Scope")
                        for n in app.permissions[key].delegated
                    ),
                    *(
                        ResourceAccess(id=_role_id(res, n), type="Role")
                        for n in app.permissions[key].application
                    ),
                ],
            )
            for key, res in resources.items()
        ]
        body = Application(
            unique_name=app.name,
            display_name=app.display_name,
            sign_in_audience=app.audience.sign_in_audience,
            web=WebApplication(redirect_uris=list(app.redirect_uris.web)),
            required_resource_access=access,
            tags=[*app.tags, MANAGED_TAG],
        )
        existing = await call(client.applications.post(body))
    sp = await call(client.service_principals.post(ServicePrincipal(app_id=str(existing.app_id))))
    if app.admin_consent:
        for key, res in resources.items():
            perms = app.permissions[key]
            if perms.delegated:
                grant = OAuth2PermissionGrant(
                    client_id=str(sp.id),
                    consent_type="AllPrincipals",
                    resource_id=str(res.id),
                    scope=" ".join(sorted(perms.delegated)),
                )
                await call(client.oauth2_permission_grants.post(grant))
            for name in perms.application:
                assignment = AppRoleAssignment(
                    principal_id=UUID(str(sp.id)),
                    resource_id=UUID(str(res.id)),
                    app_role_id=_role_id(res, name),
                )
                assigned_to = client.service_principals.by_service_principal_id(
                    str(res.id)
                ).app_role_assigned_to
                await call(assigned_to.post(assignment))
    for secret in app.secrets:
        await add_password(client, call, str(existing.id), secret.name, secret.lifetime)


def _scope_id(resource: Any, name: str) -> UUID:
    return next(s.id for s in resource.oauth2_permission_scopes if s.value == name)


def _role_id(resource: Any, name: str) -> UUID:
    return next(r.id for r in resource.app_roles if r.value == name)


async def plan_one(client: Any, call: Calls, app: Any) -> None:
    existing = await find_app(client, call, app.name)
    for key in app.permissions:
        await find_sp(client, call, _resource_key(key))
    if existing is None:
        return
    sp = await find_sp(client, call, str(existing.app_id))
    if sp is None:
        return
    item = client.service_principals.by_service_principal_id(str(sp.id))
    await call(item.oauth2_permission_grants.get())
    await call(item.app_role_assignments.get())


async def rotate_one(client: Any, call: Calls, app: Any) -> None:
    existing = await find_app(client, call, app.name)
    for secret in app.secrets:
        await add_password(client, call, str(existing.id), secret.name, secret.lifetime)


async def run(mode: str, folder: Path, in_flight: int = 1) -> dict[str, Any]:
    from provisioner.engine.loading import load_manifests
    from provisioner.engine.targeting import open_target
    from provisioner.graph.connect import graph_client

    loaded, _ = load_manifests([str(folder)])
    one = {"apply": apply_one, "plan": plan_one, "rotate": rotate_one}[mode]
    call = Calls(in_flight)
    with open_target(emulator=False, tenant=None, cloud="public", state_dir=folder / ".state") as target:
        async with graph_client(target, on_wait=None) as client:  # type: ignore[arg-type]
            if in_flight == 1:
                for item in loaded:
                    await one(client, call, item.app)
            else:
                await asyncio.gather(*(one(client, call, item.app) for item in loaded))
    return {"mode": mode, "apps": len(loaded), "calls": call.count, "in_flight": in_flight}


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    in_flight = int(sys.argv[sys.argv.index("--parallel") + 1]) if "--parallel" in sys.argv else 1
    print(json.dumps(asyncio.run(run(mode, folder, in_flight))))


if __name__ == "__main__":
    main()
