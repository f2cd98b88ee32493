"""Build an authenticated msgraph-sdk client for a :class:`Target`.

Only plan/apply import this module: msgraph and azure-identity are heavy, and
the CLI must start fast for ``validate``/``schema``. The Graph client keeps the
SDK's default middleware (redirects, telemetry, ...) except its RetryHandler,
which is replaced by :class:`provisioner.graph.http_retry.GraphRetryHandler` (bounded,
jittered, honours Retry-After, retries connection resets, and says what it waited
for). Proxies: both HTTP stacks read ``HTTPS_PROXY``/``NO_PROXY`` — httpx
(``trust_env=True``) for Graph, requests (azure-core's ``AsyncioRequestsTransport``,
``trust_env``) for the token endpoint.

The token endpoint goes through requests rather than azure-core's default async
transport, aiohttp: msal imports requests anyway, while aiohttp costs about 100 ms
of CPU to import (it builds TLS contexts at import), a sixth of a one-app ``plan``.
A run asks for a token once, so running that call in a worker thread costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from provisioner.core.errors import CredentialError
from provisioner.core.progress import print_progress
from provisioner.graph.failures import graph_errors
from provisioner.graph.target import Target

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient


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
    kwargs["transport"] = token_transport(target)
    if target.client_id and target.client_secret:
        if not target.tenant_id:
            raise CredentialError(
                "a client secret credential needs a tenant: pass --tenant or set AZURE_TENANT_ID"
            )
        return ClientSecretCredential(target.tenant_id, target.client_id, target.client_secret, **kwargs)
    if target.client_id and target.certificate_path:
        from azure.identity.aio import CertificateCredential

        if not target.tenant_id:
            raise CredentialError("a certificate credential needs a tenant: set tenant_id")
        return CertificateCredential(
            target.tenant_id, target.client_id, certificate_path=target.certificate_path, **kwargs
        )
    if target.tenant_id:
        # --tenant may differ from AZURE_TENANT_ID / the CLI's default tenant.
        kwargs["additionally_allowed_tenants"] = ["*"]
    return DefaultAzureCredential(**kwargs)


def token_transport(target: Target) -> Any:
    """azure-core's requests-based async transport for the credential (see the module docstring).

    One per credential; DefaultAzureCredential shares it between the credentials it tries in turn
    (each sends through it, and closing it twice is harmless).
    """
    from azure.core.pipeline.transport import AsyncioRequestsTransport

    if target.ca_cert_path:
        return AsyncioRequestsTransport(connection_verify=target.ca_cert_path)
    return AsyncioRequestsTransport()


def login_host(target: Target) -> str:
    """``host[:port]`` of the target's login authority (named when it cannot be reached)."""
    from urllib.parse import urlsplit

    authority = (
        target.authority_host if "://" in target.authority_host else f"https://{target.authority_host}"
    )
    parts = urlsplit(authority)
    host = parts.hostname or target.authority_host
    return f"{host}:{parts.port}" if parts.port else host


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


def graph_middleware(on_wait: Callable[[str], None] | None = None, stats: Any = None) -> list[Any]:
    """The SDK's default middleware chain with its RetryHandler swapped for ours (same position)."""
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware import RetryHandler
    from msgraph.graph_request_adapter import options as sdk_options
    from msgraph_core import GraphClientFactory

    from provisioner.graph.http_retry import GraphRetryHandler
    from provisioner.graph.retry import RetryPolicy

    retry = GraphRetryHandler(RetryPolicy.from_env(), on_wait=on_wait, stats=stats)
    chain = KiotaClientFactory.get_default_middleware(dict(sdk_options))
    chain = [retry if isinstance(m, RetryHandler) else m for m in chain]
    chain.append(GraphClientFactory._get_telemetry_handler(dict(sdk_options)))
    return chain


@asynccontextmanager
async def graph_client(
    target: Target,
    *,
    check_credential: bool = True,
    on_wait: Callable[[str], None] | None = print_progress,
    stats: Any = None,
) -> AsyncIterator[GraphServiceClient]:
    """Yield a GraphServiceClient for ``target``; closes the HTTP client and credential on exit.

    With ``check_credential`` (default) a token is fetched up front so a bad
    secret or missing login fails as one CredentialError before any Graph
    call; the SDK then reuses the cached token. When ``target.tenant_id`` is
    None it is filled in from that token's ``tid`` claim. ``on_wait`` receives
    one line per request that had to wait (throttling, 5xx, resets; stderr by
    default); ``stats`` (a :class:`~provisioner.graph.retry.RetryStats`) sums them.
    """
    from provisioner.graph import sdk_store

    sdk_store.install()  # before the first msgraph model class is defined (see sdk_store)

    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    credential = make_credential(target)
    http = httpx.AsyncClient(
        verify=target.ca_cert_path or True,
        timeout=httpx.Timeout(100.0, connect=30.0),
        http2=not target.is_local,
        trust_env=True,  # HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE, as every other tool on the runner
    )
    try:
        http_client = GraphClientFactory.create_with_custom_middleware(
            graph_middleware(on_wait, stats), client=http
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
            async with graph_errors("get a token", secret=target.client_secret, host=login_host(target)):
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
