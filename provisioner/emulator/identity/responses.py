"""HTTP routes of the identity platform, mounted at "/" (``/{tenant}/oauth2/v2.0/...``, as Microsoft does).

Thin handlers: parse the request, resolve tenant and client, delegate to
``grants`` / ``authorize`` / ``discovery``, render JSON or HTML. Request bodies are
``application/x-www-form-urlencoded`` and parsed with the standard library (no
multipart dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity import authorize, discovery, errors, grants
from provisioner.emulator.identity.clients import read_client_credentials
from provisioner.emulator.identity.directory import (
    MULTI_TENANT_AUDIENCES,
    MULTI_TENANT_SEGMENTS,
    find_application,
    find_application_home,
    find_service_principal,
    get_user,
    resolve_tenant,
    tenant_domain,
)
from provisioner.emulator.identity.errors import NO_STORE, OAuthError
from provisioner.emulator.identity.models import TokenResult
from provisioner.emulator.identity.tokens import GRAPH_AUDIENCE, InvalidToken, verify_access_token

_GRANTS: dict[str, Callable[[EmulatorContext, grants.GrantContext], TokenResult]] = {
    "client_credentials": grants.client_credentials,
    "authorization_code": grants.authorization_code,
    "refresh_token": grants.refresh_token,
}


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _grant_context(
    ctx: EmulatorContext, segment: str, form: dict[str, str], request: Request
) -> grants.GrantContext:
    creds = read_client_credentials(form, request.headers.get("authorization"))
    client_id = creds.client_id
    if not client_id:
        raise errors.missing_parameter("client_id")
    app = None
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        home = find_application_home(ctx, client_id)
        if home is None:
            raise errors.app_not_found(client_id, segment)
        tenant_id, app = home
        if app.get("signInAudience", "AzureADMyOrg") not in MULTI_TENANT_AUDIENCES:
            raise errors.not_multi_tenant(client_id, str(app.get("displayName") or ""))
    else:
        resolved = resolve_tenant(ctx, segment)
        if resolved is None:
            raise errors.tenant_not_found(segment)
        tenant_id = resolved
        app = find_application(ctx, tenant_id, client_id)
        if app is None:
            # A multi-tenant app registered elsewhere, provisioned here (it has a service principal).
            home = find_application_home(ctx, client_id)
            if (
                home is not None
                and home[1].get("signInAudience") in MULTI_TENANT_AUDIENCES
                and find_service_principal(ctx, tenant_id, client_id) is not None
            ):
                app = home[1]
        if app is None:
            raise errors.app_not_found(client_id, segment)
    base = ctx.base_url
    audiences = {
        f"{base}/{segment}/oauth2/v2.0/token",
        f"{base}/{tenant_id}/oauth2/v2.0/token",
        f"{base}/{tenant_id}/oauth2/token",
        f"{base}/{tenant_id}/v2.0",
        f"{base}/{segment}/v2.0",
    }
    return grants.GrantContext(
        tenant_id=tenant_id,
        tenant_name=tenant_domain(ctx, tenant_id),
        app=app,
        creds=creds,
        form=form,
        audiences=audiences,
    )


def _log_sign_in(
    ctx: EmulatorContext, grant: grants.GrantContext, request: Request, correlation_id: str | None
) -> None:
    """A token issued to a client that authenticated itself is a sign-in with that credential's keyId."""
    used = grant.used
    if not used.get("keyId"):
        return  # a public client: no credential to record
    from provisioner.emulator.sign_in_log import record

    record(
        ctx,
        grant.tenant_id,
        app=grant.app,
        service_principal=find_service_principal(ctx, grant.tenant_id, grant.app["appId"]),
        method=str(used.get("method")),
        key_id=str(used["keyId"]),
        thumbprint=used.get("thumbprint"),
        ip_address=request.client.host if request.client else "",
        resource=used.get("resource"),
        user=used.get("user"),
        correlation_id=correlation_id,
    )


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """Identity routes for one emulator context."""

    async def token(request: Request) -> Response:
        form = await read_form(request)
        correlation_id = request.headers.get("client-request-id")
        try:
            grant_type = form.get("grant_type")
            if not grant_type:
                raise errors.missing_parameter("grant_type")
            handler = _GRANTS.get(grant_type)
            if handler is None:
                raise errors.unsupported_grant_type(grant_type)
            grant = _grant_context(ctx, request.path_params["tenant"], form, request)
            result = handler(ctx, grant)
        except OAuthError as err:
            return errors.error_response(ctx, err, correlation_id)
        _log_sign_in(ctx, grant, request, correlation_id)
        return JSONResponse(result.to_json(), headers=NO_STORE)

    def _unknown_tenant(request: Request) -> Response:
        err = errors.tenant_not_found(request.path_params["tenant"])
        return errors.error_response(
            ctx, err, request.headers.get("client-request-id"), error="invalid_tenant"
        )

    async def openid_configuration(request: Request) -> Response:
        resolved = discovery.tenant_for_documents(ctx, request.path_params["tenant"])
        if resolved is None:
            return _unknown_tenant(request)
        return JSONResponse(discovery.openid_configuration(ctx, *resolved))

    async def keys(request: Request) -> Response:
        resolved = discovery.tenant_for_documents(ctx, request.path_params["tenant"])
        if resolved is None:
            return _unknown_tenant(request)
        return JSONResponse(discovery.jwks(ctx, resolved[1]))

    async def instance(request: Request) -> Response:
        status, body = discovery.instance_discovery(ctx, request.query_params.get("authorization_endpoint"))
        return JSONResponse(body, status_code=status)

    async def authorize_endpoint(request: Request) -> Response:
        if request.method == "POST":
            return await authorize.authorize_post(ctx, request)
        return await authorize.authorize_get(ctx, request)

    async def logout(request: Request) -> Response:
        return authorize.logout(ctx, request)

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        try:
            claims = verify_access_token(ctx, token, audience=GRAPH_AUDIENCE)
        except InvalidToken:
            return JSONResponse(
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "Access token validation failure.",
                    }
                },
                status_code=401,
            )
        user = get_user(ctx, str(claims["tid"]), str(claims["oid"])) or {}
        body = {
            "sub": claims.get("sub"),
            "name": user.get("displayName"),
            "family_name": user.get("surname"),
            "given_name": user.get("givenName"),
            "email": user.get("mail"),
        }
        return JSONResponse({k: v for k, v in body.items() if v is not None})

    async def error_page(request: Request) -> Response:
        code = request.query_params.get("code", "")
        return HTMLResponse(
            f"<!DOCTYPE html><title>AADSTS{escape(code)}</title><h1>AADSTS{escape(code)}</h1>"
            "<p>See the error_description returned with this code.</p>"
        )

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/discovery/keys", keys, methods=["GET"]),
        Route("/{tenant}/discovery/instance", instance, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/authorize", authorize_endpoint, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/v2.0/logout", logout, methods=["GET"]),
        Route("/oidc/userinfo", userinfo, methods=["GET", "POST"]),
        Route("/error", error_page, methods=["GET"]),
    ]
