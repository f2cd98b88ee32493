"""DesiredApp -> msgraph-sdk request bodies.

Kept apart from the pure :mod:`provisioner.model.desired` so the planner never
imports the SDK. An update sends every managed field (one PATCH either way,
and it heals drift the plan did not list), but carries the unmanaged parts of
``web`` along because PATCHing a complex property replaces it whole. ``api``
is only sent when the token version must change, so exposed scopes and
pre-authorised apps defined elsewhere are not touched.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from provisioner.model.desired import DesiredApp
from provisioner.model.tenant import ExistingApp

SP_TAGS = ["WindowsAzureActiveDirectoryIntegratedApp"]  # what the portal sets: listed under Enterprise apps


def application_body(want: DesiredApp, have: ExistingApp | None = None) -> Any:
    from msgraph.generated.models.api_application import ApiApplication
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.implicit_grant_settings import ImplicitGrantSettings
    from msgraph.generated.models.public_client_application import PublicClientApplication
    from msgraph.generated.models.required_resource_access import RequiredResourceAccess
    from msgraph.generated.models.resource_access import ResourceAccess
    from msgraph.generated.models.spa_application import SpaApplication
    from msgraph.generated.models.web_application import WebApplication

    web = WebApplication(
        redirect_uris=list(want.web_redirect_uris),
        implicit_grant_settings=ImplicitGrantSettings(
            enable_access_token_issuance=want.implicit_access_tokens,
            enable_id_token_issuance=want.implicit_id_tokens,
        ),
    )
    if have is not None:
        web.home_page_url = have.web_home_page_url
        web.logout_url = have.web_logout_url
    body = Application(
        display_name=want.display_name,
        sign_in_audience=want.sign_in_audience,
        web=web,
        spa=SpaApplication(redirect_uris=list(want.spa_redirect_uris)),
        public_client=PublicClientApplication(redirect_uris=list(want.public_client_redirect_uris)),
        is_fallback_public_client=want.is_fallback_public_client,
        required_resource_access=[
            RequiredResourceAccess(
                resource_app_id=app_id,
                resource_access=[ResourceAccess(id=UUID(perm_id), type=kind) for perm_id, kind in pairs],
            )
            for app_id, pairs in want.required_resource_access.items()
            if pairs
        ],
        tags=list(want.tags),
    )
    if want.notes:
        body.notes = want.notes
    elif have is not None and have.notes:
        body.additional_data = {"notes": None}  # clear it (kiota skips None-valued fields)
    version = want.requested_access_token_version
    if version is not None and (have is None or have.requested_access_token_version != version):
        body.api = ApiApplication(requested_access_token_version=version)
    return body


def service_principal_body(display_name: str, *, assignment_required: bool = False) -> Any:
    """``assignment_required``: created with appRoleAssignmentRequired already on (no window in which
    unassigned users could sign in)."""
    from msgraph.generated.models.service_principal import ServicePrincipal

    body = ServicePrincipal(display_name=display_name, tags=list(SP_TAGS))
    if assignment_required:
        body.app_role_assignment_required = True
    return body
