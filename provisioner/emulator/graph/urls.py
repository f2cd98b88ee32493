"""The Graph v1.0 route table: every resource registers its (method, path pattern, handler) rows.

Order matters where patterns overlap: a resource's own ``register`` adds literal
segments (``/applications/$count``) before key segments (``/applications/{id}``),
and the router takes the first match. ``$batch`` gets the finished router, so its
inner requests reach exactly these handlers.
"""

from __future__ import annotations

from provisioner.emulator.graph import batch, service_principal_credentials
from provisioner.emulator.graph.app_role_assignments import responses as app_role_assignments
from provisioner.emulator.graph.applications import extension_properties
from provisioner.emulator.graph.applications import federated_responses as federated_identity_credentials
from provisioner.emulator.graph.applications import responses as applications
from provisioner.emulator.graph.audit_logs import responses as audit_logs
from provisioner.emulator.graph.deleted_items import responses as deleted_items
from provisioner.emulator.graph.directory_objects import responses as directory_objects
from provisioner.emulator.graph.groups import responses as groups
from provisioner.emulator.graph.mail import responses as mail
from provisioner.emulator.graph.oauth2_permission_grants import responses as oauth2_permission_grants
from provisioner.emulator.graph.organization import responses as organization
from provisioner.emulator.graph.policies import responses as policies
from provisioner.emulator.graph.routing import Router
from provisioner.emulator.graph.service_principals import responses as service_principals
from provisioner.emulator.graph.users import responses as users

RESOURCES = (
    applications,
    federated_identity_credentials,
    extension_properties,
    deleted_items,
    service_principals,
    service_principal_credentials,
    app_role_assignments,
    oauth2_permission_grants,
    directory_objects,
    users,
    groups,
    mail,
    organization,
    policies,
)


#: Graph beta: only what v1.0 lacks and the tool reads (sign-in logs with the credential keyId).
BETA_RESOURCES = (audit_logs,)


def build_beta_router() -> Router:
    router = Router()
    for resource in BETA_RESOURCES:
        resource.register(router)
    return router


def build_router() -> Router:
    router = Router()
    for resource in RESOURCES:
        resource.register(router)
    batch.register(router)
    return router
