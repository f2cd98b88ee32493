"""A fresh emulated tenant that looks like a real one on day one.

``ensure_tenant`` creates (once) everything a provisioning run expects to find
in a real tenant: the organization, the first-party resource service principals
(Microsoft Graph and Office 365 Exchange Online, with their real permission ids
from the bundled catalogue, Azure Key Vault and Azure Resource Manager), two users with mail, and a bootstrap application
whose client secret the tool (or a test) uses to call Graph with the usual
admin-consented application permissions. Later calls return the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from provisioner.data import CatalogName, load_catalog
from provisioner.emulator.arm.models import service_principal_catalog as arm_catalog
from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication
from provisioner.emulator.graph.app_role_assignments import models as app_role_assignments
from provisioner.emulator.graph.applications import credentials as application_credentials
from provisioner.emulator.graph.applications import models as applications
from provisioner.emulator.graph.envelopes import public
from provisioner.emulator.graph.ids import new_id
from provisioner.emulator.graph.mail import models as mail
from provisioner.emulator.graph.organization import models as organization
from provisioner.emulator.graph.service_principals import models as service_principals
from provisioner.emulator.graph.users import models as users
from provisioner.emulator.keyvault import models as keyvault
from provisioner.emulator.store import GLOBAL

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
BOOTSTRAP_META_ID = "bootstrap"
BOOTSTRAP_APP_NAME = "provisioner bootstrap"
# Application permissions on Microsoft Graph the bootstrap app holds (admin consent granted).
BOOTSTRAP_ROLES = (
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Group.ReadWrite.All",  # tests create groups (and assign them) as an admin would
    "User.Read.All",
    "User.RevokeSessions.All",  # tests revoke refresh tokens through Graph, as an admin would
    "Organization.Read.All",  # lets a credential find its tenant via GET /organization
    "Policy.Read.All",  # plan reads the tenant's app management policies (credential limits)
    "Policy.ReadWrite.ApplicationConfiguration",  # tests set those policies as an admin would
)


@dataclass
class TenantInfo:
    tenant_id: str
    domain: str
    admin_client_id: str
    # repr=False: the secret value must never reach logs or test output.
    admin_client_secret: str = field(repr=False)
    users: list[dict[str, Any]] = field(default_factory=list)


def catalog(name: CatalogName) -> dict[str, Any]:
    """A bundled permission catalogue (``graph`` or ``exchange``), parsed once per process."""
    return load_catalog(name)


def ensure_tenant(ctx: EmulatorContext, tenant_id: str | None = None) -> TenantInfo:
    """Create the tenant on first call (idempotent); without an id, reuse the first tenant or make one."""
    store = ctx.store
    # Seeding bypasses fault injection: the bootstrap app, its service principal and role
    # assignments are created back to back and must not wait for (emulated) replication.
    with store.transaction(), replication.bypassed():
        if tenant_id is None:
            existing = store.tenants()
            tenant_id = existing[0] if existing else new_id()
        tenant_id = tenant_id.lower()
        if store.get(GLOBAL, "tenants", tenant_id) is None:
            _create_tenant(ctx, tenant_id)
        # Also for tenants seeded before the emulator served Key Vault or ARM (a durable state file).
        keyvault.ensure_service_principal(ctx, tenant_id)
        _ensure_arm_service_principal(ctx, tenant_id)
        return _info(ctx, tenant_id)


def list_tenants(ctx: EmulatorContext) -> list[TenantInfo]:
    return [_info(ctx, tenant_id) for tenant_id in ctx.store.tenants()]


def _info(ctx: EmulatorContext, tenant_id: str) -> TenantInfo:
    record = ctx.store.get(GLOBAL, "tenants", tenant_id) or {}
    meta = ctx.store.get(tenant_id, "meta", BOOTSTRAP_META_ID) or {}
    return TenantInfo(
        tenant_id=tenant_id,
        domain=record.get("domain", ""),
        admin_client_id=meta.get("clientId", ""),
        admin_client_secret=meta.get("clientSecret", ""),
        users=[public(u) for u in ctx.store.list(tenant_id, users.KIND)],
    )


def _create_tenant(ctx: EmulatorContext, tenant_id: str) -> None:
    store = ctx.store
    now = ctx.clock.now()
    domain = f"emulator{tenant_id.replace('-', '')[:8]}.onmicrosoft.com"
    display_name = f"Emulated tenant {tenant_id[:8]}"
    store.put(
        GLOBAL,
        "tenants",
        {
            "id": tenant_id,
            "domain": domain,
            "displayName": display_name,
            "createdDateTime": iso(now),
            "verifiedDomains": [{"name": domain, "isDefault": True, "isInitial": True}],
        },
    )
    store.put(
        tenant_id, organization.KIND, organization.new_organization(tenant_id, display_name, domain, iso(now))
    )

    graph_sp = service_principals.first_party(tenant_id, catalog("graph"))
    store.put(tenant_id, service_principals.KIND, graph_sp)
    store.put(
        tenant_id, service_principals.KIND, service_principals.first_party(tenant_id, catalog("exchange"))
    )

    admin = users.new_user(
        ctx, f"admin@{domain}", "Emulator Admin", "Emulator", "Admin", job_title="Administrator"
    )
    admin["_isAdmin"] = True
    member = users.new_user(ctx, f"user@{domain}", "Emulator User", "Emulator", "User")
    for user in (admin, member):
        store.put(tenant_id, users.KIND, user)
    _seed_mail(ctx, tenant_id, admin, member)

    role_ids = {role["value"]: role["id"] for role in graph_sp["appRoles"]}
    app, _ = applications.create(
        ctx,
        tenant_id,
        {
            "displayName": BOOTSTRAP_APP_NAME,
            "requiredResourceAccess": [
                {
                    "resourceAppId": GRAPH_APP_ID,
                    "resourceAccess": [{"id": role_ids[name], "type": "Role"} for name in BOOTSTRAP_ROLES],
                }
            ],
        },
        owner_id=admin["id"],
    )
    credential = application_credentials.add_password(ctx, tenant_id, app, {"displayName": "bootstrap"})
    sp = service_principals.create(ctx, tenant_id, {"appId": app["appId"]}, owner_id=admin["id"])
    for name in BOOTSTRAP_ROLES:
        app_role_assignments.create(
            ctx,
            tenant_id,
            {"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": role_ids[name]},
            anchor="resource",
            anchor_id=graph_sp["id"],
        )
    store.put(
        tenant_id,
        "meta",
        {
            "id": BOOTSTRAP_META_ID,
            "clientId": app["appId"],
            "clientSecret": credential["secretText"],
            "keyId": credential["keyId"],
        },
    )


def _ensure_arm_service_principal(ctx: EmulatorContext, tenant_id: str) -> None:
    """The management resource, as in every real tenant: ``az login`` asks for a token for it."""
    arm = arm_catalog()
    if not ctx.store.find_views(tenant_id, service_principals.KIND, appId=arm["appId"]):
        ctx.store.put(tenant_id, service_principals.KIND, service_principals.first_party(tenant_id, arm))


def _seed_mail(ctx: EmulatorContext, tenant_id: str, admin: dict[str, Any], member: dict[str, Any]) -> None:
    now = ctx.clock.now()
    samples = (
        ("Welcome to your emulated mailbox", "This tenant is served by the provisioner emulator."),
        ("Quarterly report", "Please find the numbers for the last quarter below."),
        ("Shipment 4711 dispatched", "Your shipment left the warehouse and is on its way."),
    )
    for owner, other in ((admin, member), (member, admin)):
        for index, (subject, content) in enumerate(samples):
            message = mail.new_message(
                owner,
                subject=subject,
                content=content,
                sender=(other["displayName"], other["mail"]),
                to=[owner["mail"]],
                received=now - timedelta(hours=index + 1),
                is_read=index > 0,
            )
            ctx.store.put(tenant_id, mail.MESSAGES, message)
