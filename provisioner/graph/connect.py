"""Build an authenticated msgraph-sdk client for a :class:`Target`.

Only plan/apply import this module: msgraph and azure-identity are heavy, and
the CLI must start fast for ``validate``/``schema``. The Graph client keeps the
SDK's default middleware (retry on 429/503/504 honouring Retry-After, redirects,
telemetry); only the retry budget is raised to 5 attempts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from provisioner.errors import CredentialError
from provisioner.graph.errors import graph_errors
from provisioner.graph.target import Target

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

MAX_RETRIES = 5


def make_credential(target: Target) -> Any:
    """An async azure-identity credential for ``target``.

    Client ID + secret -> ClientSecretCredential (emulator admin, explicit CI
    settings); otherwise DefaultAzureCredential (environment variables,
    workload identity / GitHub OIDC, managed identity, Azure CLI, ...).
    A loopback authority gets no instance discovery (MSAL would ask the real
    login host) and trusts the emulator's CA.
    """
    from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential

    kwargs: dict[str, Any] = {"authority": target.authority_host}
    if target.is_local or not _is_known_authority(target.authority_host):
        kwargs["disable_instance_discovery"] = True
    if target.ca_cert_path:
        kwargs["connection_verify"] = target.ca_cert_path
    if target.client_id and target.client_secret:
        if not target.tenant_id:
            raise CredentialError(
                "a client secret credential needs a tenant: pass --tenant or set AZURE_TENANT_ID"
            )
        return ClientSecretCredential(target.tenant_id, target.client_id, target.client_secret, **kwargs)
    if target.tenant_id:
        # --tenant may differ from AZURE_TENANT_ID / the CLI's default tenant.
        kwargs["additionally_allowed_tenants"] = ["*"]
    return DefaultAzureCredential(**kwargs)


def _is_known_authority(authority: str) -> bool:
    from provisioner.graph.target import CLOUDS

    return any(authority.rstrip("/") == login for _, login in CLOUDS.values())


def _token_options(target: Target) -> dict[str, Any] | None:
    """get_token kwargs: DefaultAzureCredential learns the tenant per call, not at construction."""
    if target.tenant_id and not (target.client_id and target.client_secret):
        return {"tenant_id": target.tenant_id}
    return None


def token_tenant(access_token: str) -> str | None:
    """The ``tid`` claim of a JWT access token, read without verification (it is our own token).

    Only used to learn which tenant DefaultAzureCredential signed in to; None if
    the token is not a JWT.
    """
    import base64
    import json

    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return str(tid) if tid else None


@asynccontextmanager
async def graph_client(target: Target, *, check_credential: bool = True) -> AsyncIterator[GraphServiceClient]:
    """Yield a GraphServiceClient for ``target``; closes the HTTP client and credential on exit.

    With ``check_credential`` (default) a token is fetched up front so a bad
    secret or missing login fails as one CredentialError before any Graph
    call; the SDK then reuses the cached token. When ``target.tenant_id`` is
    None it is filled in from that token's ``tid`` claim.
    """
    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options as sdk_options
    from msgraph_core import GraphClientFactory

    credential = make_credential(target)
    http = httpx.AsyncClient(
        verify=target.ca_cert_path or True,
        timeout=httpx.Timeout(100.0, connect=30.0),
        http2=not target.is_local,
    )
    try:
        middleware_options = dict(sdk_options)
        middleware_options[RetryHandlerOption.get_key()] = RetryHandlerOption(max_retries=MAX_RETRIES)
        http_client = GraphClientFactory.create_with_default_middleware(
            client=http, options=middleware_options
        )
        token_options = _token_options(target)
        auth = AzureIdentityAuthenticationProvider(
            credential,
            options=token_options,
            scopes=[target.graph_scope],
            allowed_hosts=[target.graph_host],
        )
        adapter = GraphRequestAdapter(auth, client=http_client)
        adapter.base_url = target.graph_url.rstrip("/")
        if check_credential:
            async with graph_errors("get a token", secret=target.client_secret):
                token = await credential.get_token(
                    target.graph_scope, enable_cae=True, **(token_options or {})
                )
            if not target.tenant_id:
                # No --tenant: the credential's home tenant is in the token we already hold.
                target.tenant_id = token_tenant(token.token)
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()
        await credential.close()
