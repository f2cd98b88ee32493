"""Turn SDK, azure-identity and transport failures into one-line ProvisionerErrors.

The SDK raises ``ODataError`` (a kiota ``APIError``) with the Graph error body;
azure-identity raises ``ClientAuthenticationError`` whose text carries the
AADSTS code. Users get the status, the Graph code and what the tool was doing,
or the AADSTS code and what to do about it. Messages are built from codes, never
by echoing request bodies, so secrets cannot leak through them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from provisioner.core.errors import CredentialError, GraphError, ProvisionerError
from provisioner.graph import trace
from provisioner.graph.trace import Refusal

_AADSTS = re.compile(r"AADSTS(\d+)")

# AADSTS code -> (what happened, what to do)
AADSTS_ADVICE: dict[str, tuple[str, str]] = {
    "7000215": ("invalid client secret", "use the secret's value (not its ID); update AZURE_CLIENT_SECRET"),
    "7000222": ("client secret expired", "create a new client secret and update AZURE_CLIENT_SECRET"),
    "700016": ("application not found in the tenant", "check the client ID (AZURE_CLIENT_ID) and --tenant"),
    "90002": ("tenant not found", "check --tenant / AZURE_TENANT_ID and --cloud"),
    "900023": ("invalid tenant identifier", "pass a tenant ID or verified domain with --tenant"),
    "90072": (
        "account is not in the tenant",
        "sign in with an account of the target tenant or change --tenant",
    ),
    "7000218": (
        "no client secret or assertion sent",
        "set AZURE_CLIENT_SECRET or configure workload identity",
    ),
    "70011": ("invalid scope", "check --cloud matches the tenant's cloud"),
    "65001": ("consent missing", "grant admin consent to the credential's application"),
    "53003": (
        "blocked by Conditional Access",
        "run from an allowed location/device or use a workload identity",
    ),
    "50173": ("sign-in session revoked", "sign in again (az login)"),
    "700082": ("refresh token expired by inactivity", "sign in again (az login)"),
    "70021": (
        "no matching federated identity credential",
        "check the federated credential's issuer and subject",
    ),
    "700024": ("client assertion expired", "refresh the OIDC token (workload identity) and retry"),
    "700213": ("no matching federated identity record", "check the federated credential's subject"),
}


# Transport failures as aiohttp, httpx, requests and the OS word them -> a short reason
_NETWORK_REASONS: tuple[tuple[str, str], ...] = (
    ("cannot connect to proxy", "the proxy refused or dropped the connection"),
    ("proxyerror", "the proxy refused or dropped the connection"),
    ("tunnel connection failed", "the proxy refused the tunnel"),
    ("name or service not known", "the host name does not resolve"),
    ("temporary failure in name resolution", "the host name does not resolve (DNS)"),
    ("nodename nor servname", "the host name does not resolve"),
    ("getaddrinfo failed", "the host name does not resolve"),
    ("connect call failed", "connection refused"),
    ("connection refused", "connection refused"),
    ("network is unreachable", "the network is unreachable"),
    ("no route to host", "no route to host"),
    ("timed out", "the connection timed out"),
    ("timeout", "the connection timed out"),
    ("cannot connect to host", "the connection failed"),
    ("connection reset", "the connection was reset"),
    ("server disconnected", "the server closed the connection"),
    ("connecterror", "the connection failed"),
)


def _network_reason(text: str) -> str | None:
    low = text.lower()
    return next((reason for needle, reason in _NETWORK_REASONS if needle in low), None)


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (cause, context, azure-core's ``inner_exception``), at most 10 deep."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "inner_exception", None)]
    return seen


def _is_transport_failure(exc: BaseException) -> bool:
    import httpx
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    for item in _exception_chain(exc):
        if isinstance(item, ServiceRequestError | ServiceResponseError | httpx.TransportError | OSError):
            return True
        if type(item).__module__.startswith("aiohttp") and "Connect" in type(item).__name__:
            return True
    return False


def proxy_for(host: str) -> str | None:
    """The proxy (credentials removed) that ``HTTPS_PROXY``/``NO_PROXY`` send ``host`` through, if any."""
    import urllib.parse
    import urllib.request

    proxy = urllib.request.getproxies_environment().get("https")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}"


def network_error(host: str, detail: str, *, what: str = "", service: str = "") -> ProvisionerError:
    """One line naming the host the tool could not reach, the proxy in between, and what to check.

    The cause users need is "the network", not "the credential": a wrong secret would have got an
    AADSTS answer. A loopback host is the emulator: it is probably not running any more.
    """
    host_name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") == 1 else host
    reason = _network_reason(detail) or (" ".join(detail.split())[:160] or "the connection failed")
    proxy = proxy_for(host_name)
    named = f"{service} at {host}" if service else host
    where = f"{named} through proxy {proxy}" if proxy else named
    if proxy:
        todo = "check the proxy (HTTPS_PROXY) is up, or list the host in NO_PROXY"
    elif host_name in ("localhost", "127.0.0.1", "::1"):
        todo = (
            "is the emulator still running? (PROVISIONER_GRAPH_URL / AZURE_AUTHORITY_HOST point at it; "
            "unset them or use --emulator)"
        )
    else:
        todo = "check the network connection, DNS and any proxy (HTTPS_PROXY / NO_PROXY)"
    return ProvisionerError(f"{what}cannot reach {where}: {reason}; {todo}")


def credential_error(
    exc: BaseException, *, secret: str | None = None, host: str | None = None
) -> ProvisionerError:
    """A one-line, actionable error for an azure-identity failure (``host``: the login host asked)."""
    from azure.identity import CredentialUnavailableError

    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    if secret:
        text = text.replace(secret, "***")
    if host and not _AADSTS.search(text) and (_is_transport_failure(exc) or _network_reason(text)):
        details = " ".join(" ".join(str(e).split()) for e in _exception_chain(exc))
        if secret:
            details = details.replace(secret, "***")
        return network_error(host, details, what="get a token: ")
    match = _AADSTS.search(text)
    if match:
        code = match.group(1)
        what, todo = AADSTS_ADVICE.get(code, ("sign-in failed", "check the credential configuration"))
        return CredentialError(f"credential failed (AADSTS{code}: {what}): {todo}")
    if (
        isinstance(exc, CredentialUnavailableError)
        or "CredentialUnavailable" in text
        or "unavailable" in text
    ):
        return CredentialError(
            "no Azure credential available: set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, "
            "use workload identity (OIDC) or a managed identity, or run `az login` (or use --emulator)"
        )
    first = text.split(". ")[0][:200]
    return CredentialError(f"credential failed: {first}; check the credential configuration and --tenant")


def graph_error(exc: BaseException, action: str, refusal: Refusal | None = None) -> GraphError:
    """A one-line GraphError naming the action, HTTP status and Graph error code.

    A 403 names the Graph permission the refused request (``refusal``, noted by the
    retry layer) needed, so the fix is in the message.
    """
    status = getattr(exc, "response_status_code", None)
    code: str | None = None
    message: str | None = None
    main = getattr(exc, "error", None)
    if main is not None:
        code = getattr(main, "code", None)
        message = getattr(main, "message", None)
    if not message:
        message = getattr(exc, "message", None) or type(exc).__name__
    message = " ".join(str(message).split())[:300]
    parts = [p for p in (str(status) if status else None, code) if p]
    head = f"Graph {' '.join(parts)}" if parts else "Graph error"
    if status == 403:
        from provisioner.graph.least_privilege import READ, need_for_request

        if refusal is not None:
            need = need_for_request(refusal.method, refusal.path)
        else:  # refused inside a $batch answer: only reads are batched without noting the request
            need = READ if action.startswith("read") else None
        if need is not None:
            message = f"{need.message()}; grant it to the provisioner's app (admin consent) or run `provisioner doctor`"
    elif status in (429, 503, 504):
        message += (
            " (still failing after the retries PROVISIONER_MAX_RETRIES / PROVISIONER_RETRY_MAX_WAIT allow;"
            " re-run later, the run is safe to repeat)"
        )
    return GraphError(f"{action}: {head}: {message}", status=status, code=code)


def error_status(exc: BaseException) -> int | None:
    return getattr(exc, "response_status_code", None)


def error_code(exc: BaseException) -> str:
    main = getattr(exc, "error", None)
    return (getattr(main, "code", None) or "") if main is not None else ""


def error_message(exc: BaseException) -> str:
    main = getattr(exc, "error", None)
    return (
        (getattr(main, "message", None) or "") if main is not None else str(getattr(exc, "message", "") or "")
    )


@asynccontextmanager
async def graph_errors(
    action: str, *, secret: str | None = None, host: str | None = None
) -> AsyncIterator[None]:
    """Map SDK/identity/transport exceptions raised inside the block to ProvisionerErrors.

    ``host`` names the login host a token request inside the block goes to, so that a network or
    proxy failure there is named as such instead of as a credential problem.
    """
    import httpx
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    from kiota_abstractions.api_error import APIError

    refused: list[Refusal] = []
    action_token = trace.current_action.set(action)
    refusals_token = trace.refusals.set(refused)
    try:
        yield
    except ProvisionerError:
        raise
    except ClientAuthenticationError as exc:
        raise credential_error(exc, secret=secret, host=host) from None
    except (ServiceRequestError, ServiceResponseError) as exc:  # the token endpoint, unwrapped
        raise credential_error(exc, secret=secret, host=host or "the login host") from None
    except APIError as exc:
        raise graph_error(exc, action, refused[-1] if refused else None) from None
    except httpx.TransportError as exc:
        url = getattr(getattr(exc, "_request", None), "url", None)
        where = f"{url.host}:{url.port}" if url is not None and url.port else (url.host if url else "Graph")
        detail = " ".join(" ".join(str(e).split()) for e in _exception_chain(exc)) or type(exc).__name__
        raise GraphError(str(network_error(where, detail, what=f"{action}: ", service="Graph"))) from None
    except httpx.HTTPError as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise GraphError(f"{action}: cannot reach Graph: {detail}") from None
    finally:
        trace.refusals.reset(refusals_token)
        trace.current_action.reset(action_token)
