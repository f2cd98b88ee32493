"""HTTP handlers of the vault: authenticate, check ``api-version``, run the model, render JSON.

Every request is authenticated before anything else, as Key Vault does: no bearer token -> 401
``AKV10000`` with the challenge; a token that is not for ``https://vault.azure.net`` -> 401
``AKV10022``; one from another tenant -> 401 ``AKV10032`` (texts as the service and the SDK
troubleshooting guides show them). Each 401 carries the challenge, so the SDK can fetch a token
for the vault's tenant and retry. Then ``api-version`` must be one the SDK sends, and listings
page with ``maxresults`` (1..25) and an opaque ``$skiptoken`` in ``nextLink``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity.tokens import KEYVAULT_AUDIENCE, InvalidToken, verify_access_token
from provisioner.emulator.keyvault import errors, models
from provisioner.emulator.keyvault.errors import KeyVaultError
from provisioner.emulator.keyvault.models import Vault

Handler = Callable[[Request], Awaitable[Response]]


def challenge(ctx: EmulatorContext, vault: Vault) -> str:
    """The ``WWW-Authenticate`` value: where to get a token (the vault's tenant) and for what resource."""
    return f'Bearer authorization="{ctx.base_url}/{vault.tenant_id}", resource="{KEYVAULT_AUDIENCE}"'


def vault_url(request: Request) -> str:
    """The vault URL as the client addressed it (ids and nextLinks use it, as the service's do)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authenticate(ctx: EmulatorContext, request: Request, vault: Vault) -> dict[str, Any]:
    """The token's claims, or the 401 KeyVaultError the service would answer."""
    token = _bearer(request)
    if token is None:
        raise errors.unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
    try:
        claims = verify_access_token(ctx, token)
    except InvalidToken as exc:
        # No public source gives the service's texts for these three: the emulator's wording.
        reason = {
            "expired": "the token has expired or is not valid yet",
            "signature": "the token's signature is not valid",
        }.get(exc.reason, "the token could not be read")
        raise errors.unauthorized(f"Token validation failed: {reason}.") from None
    audience = claims.get("aud")
    if audience not in (KEYVAULT_AUDIENCE, KEYVAULT_AUDIENCE + "/", models.KEYVAULT_APP_ID):
        raise errors.unauthorized(
            f"AKV10022: Invalid audience. Expected {KEYVAULT_AUDIENCE}, found: {audience}."
        )
    if str(claims.get("tid", "")).lower() != vault.tenant_id:
        expected = f"https://sts.windows.net/{vault.tenant_id}/, {ctx.base_url}/{vault.tenant_id}/v2.0"
        raise errors.unauthorized(
            f"AKV10032: Invalid issuer. Expected one of {expected}, found {claims.get('iss')}."
        )
    return claims


def _api_version(request: Request) -> str:
    version = request.query_params.get("api-version")
    if not version:
        raise errors.bad_parameter("The 'api-version' query parameter is required.")
    if version not in models.API_VERSIONS:
        raise errors.bad_parameter(
            f"The specified version ({version}) is not recognized. Consider using the latest supported "
            f"version ({max(models.API_VERSIONS)})."
        )
    return version


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise errors.bad_parameter("The request body must be a JSON object.")
    return body


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"x-ms-request-id": str(uuid.uuid4()), "Cache-Control": "no-cache"}
    headers.update(extra or {})
    return headers


def error_response(ctx: EmulatorContext, vault: Vault | None, err: KeyVaultError) -> JSONResponse:
    extra = {"WWW-Authenticate": challenge(ctx, vault)} if err.status == 401 and vault else None
    return JSONResponse(err.body(), status_code=err.status, headers=_headers(extra))


# -- paging ----------------------------------------------------------------------------------------


def _skip(request: Request) -> int:
    token = request.query_params.get("$skiptoken")
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_parameter("The $skiptoken is not valid.") from None
    if not isinstance(offset, int) or offset < 0:
        raise errors.bad_parameter("The $skiptoken is not valid.")
    return offset


def _max_results(request: Request) -> int:
    raw = request.query_params.get("maxresults")
    if raw is None:
        return models.MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= models.MAX_RESULTS:
        raise errors.bad_parameter(f"maxresults must be between 1 and {models.MAX_RESULTS}.")
    return value


def page(request: Request, items: list[dict[str, Any]], api_version: str) -> dict[str, Any]:
    offset, size = _skip(request), _max_results(request)
    chunk = items[offset : offset + size]
    next_link = None
    if offset + size < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": offset + size}).encode()).rstrip(b"=").decode()
        next_link = (
            f"{vault_url(request)}{request.url.path}?api-version={api_version}&$skiptoken={token}"
            f"&maxresults={size}"
        )
    return {"value": chunk, "nextLink": next_link}


# -- handlers --------------------------------------------------------------------------------------


Operation = Callable[[Request, Vault, str], Awaitable[dict[str, Any] | None]]


def endpoint(ctx: EmulatorContext, operation: Operation, *, status: int = 200) -> Handler:
    """Wrap an operation with the vault lookup, authentication, api-version check and error rendering."""

    async def handle(request: Request) -> Response:
        vault = models.get_vault(ctx)
        try:
            if vault is None:
                raise KeyVaultError(503, "ServiceUnavailable", "The emulator hosts no tenant yet.")
            authenticate(ctx, request, vault)
            version = _api_version(request)
            result = await operation(request, vault, version)
        except KeyVaultError as err:
            return error_response(ctx, vault, err)
        if result is None:
            return Response(status_code=204, headers=_headers())
        return JSONResponse(result, status_code=status, headers=_headers())

    return handle


def operations(ctx: EmulatorContext) -> dict[str, Operation]:
    """The secrets operations by name (see :mod:`provisioner.emulator.keyvault.urls` for the paths)."""

    def name(request: Request) -> str:
        return str(request.path_params["name"])

    def version(request: Request) -> str | None:
        return str(request.path_params.get("version") or "") or None

    async def set_secret(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        models.check_name(name(request))
        body = await _json_body(request)
        return models.set_secret(ctx, vault_url(request), vault, name(request), body)

    async def get_secret(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return models.get_secret(ctx, vault_url(request), vault, name(request), version(request))

    async def update_secret(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        models.check_name(name(request))
        body = await _json_body(request)
        return models.update_secret(ctx, vault_url(request), vault, name(request), version(request), body)

    async def delete_secret(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return models.delete_secret(ctx, vault_url(request), vault, name(request))

    async def list_secrets(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return page(request, models.list_secrets(ctx, vault_url(request), vault), api)

    async def list_versions(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return page(request, models.list_versions(ctx, vault_url(request), vault, name(request)), api)

    async def list_deleted(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return page(request, models.list_deleted(ctx, vault_url(request), vault), api)

    async def get_deleted(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return models.get_deleted(ctx, vault_url(request), vault, name(request))

    async def purge_deleted(request: Request, vault: Vault, api: str) -> None:
        models.purge_deleted(ctx, vault, name(request))

    async def recover_deleted(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        return models.recover_deleted(ctx, vault_url(request), vault, name(request))

    async def not_served(request: Request, vault: Vault, api: str) -> dict[str, Any]:
        raise errors.not_found_path(request.url.path)

    return {
        "set": set_secret,
        "get": get_secret,
        "update": update_secret,
        "delete": delete_secret,
        "list": list_secrets,
        "versions": list_versions,
        "list_deleted": list_deleted,
        "get_deleted": get_deleted,
        "purge": purge_deleted,
        "recover": recover_deleted,
        "not_served": not_served,
    }
