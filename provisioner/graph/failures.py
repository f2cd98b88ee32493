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


def credential_error(exc: BaseException, *, secret: str | None = None) -> CredentialError:
    """A one-line, actionable CredentialError for an azure-identity failure."""
    from azure.identity import CredentialUnavailableError

    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    if secret:
        text = text.replace(secret, "***")
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
async def graph_errors(action: str, *, secret: str | None = None) -> AsyncIterator[None]:
    """Map SDK/identity/transport exceptions raised inside the block to ProvisionerErrors."""
    import httpx
    from azure.core.exceptions import ClientAuthenticationError
    from kiota_abstractions.api_error import APIError

    refused: list[Refusal] = []
    action_token = trace.current_action.set(action)
    refusals_token = trace.refusals.set(refused)
    try:
        yield
    except ProvisionerError:
        raise
    except ClientAuthenticationError as exc:
        raise credential_error(exc, secret=secret) from None
    except APIError as exc:
        raise graph_error(exc, action, refused[-1] if refused else None) from None
    except httpx.HTTPError as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise GraphError(f"{action}: cannot reach Graph: {detail}") from None
    finally:
        trace.refusals.reset(refusals_token)
        trace.current_action.reset(action_token)
