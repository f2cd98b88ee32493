"""Metadata documents MSAL and azure-identity read before talking to the token endpoint.

``/{tenant}/v2.0/.well-known/openid-configuration`` (MSAL needs authorization_endpoint,
token_endpoint, issuer), the JWKS, and instance discovery (harmless to serve; MSAL only
calls it when instance discovery is not disabled). Endpoints in the documents point at
this emulator's base URL; tenant domains are answered with the tenant ID, as the
real service does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity.directory import MULTI_TENANT_SEGMENTS, resolve_tenant
from provisioner.emulator.identity.tokens import signing_key

TENANT_PLACEHOLDER = "{tenantid}"


def tenant_for_documents(ctx: EmulatorContext, segment: str) -> tuple[str, str] | None:
    """(segment used in endpoint URLs, tenant id or placeholder for the issuer); None = unknown tenant."""
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return segment.lower(), TENANT_PLACEHOLDER
    tenant_id = resolve_tenant(ctx, segment)
    if tenant_id is None:
        return None
    return tenant_id, tenant_id


def openid_configuration(ctx: EmulatorContext, url_tenant: str, issuer_tenant: str) -> dict[str, Any]:
    base = ctx.base_url
    host = urlsplit(base).netloc
    return {
        "token_endpoint": f"{base}/{url_tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{url_tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{url_tenant}/oauth2/v2.0/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{url_tenant}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "tenant_region_scope": None,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": base,
    }


def jwks(ctx: EmulatorContext, issuer_tenant: str) -> dict[str, Any]:
    return {"keys": [signing_key(ctx).jwk(f"{ctx.base_url}/{issuer_tenant}/v2.0")]}


def instance_discovery(
    ctx: EmulatorContext, authorization_endpoint: str | None
) -> tuple[int, dict[str, Any]]:
    """MSAL's instance discovery: known only for this emulator's own host."""
    host = urlsplit(ctx.base_url).netloc
    parts = urlsplit(authorization_endpoint or "")
    segments = [p for p in parts.path.split("/") if p]
    if parts.netloc.lower() != host.lower() or not segments:
        return 400, {
            "error": "invalid_instance",
            "error_description": "AADSTS50049: Unknown or invalid instance.",
            "error_codes": [50049],
        }
    return 200, {
        "tenant_discovery_endpoint": f"{ctx.base_url}/{segments[0]}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
