"""ARM routes: ``GET /tenants``, ``GET /subscriptions`` and ``GET /subscriptions/{id}``.

Every request needs ``api-version`` (400 MissingApiVersionParameter otherwise) and a
bearer token this emulator issued for the management resource (401 with ARM's codes
otherwise). The emulator hosts no subscriptions, so the list is empty and any one
subscription is 404 SubscriptionNotFound.
"""

from __future__ import annotations

from datetime import UTC

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from provisioner.emulator.arm.models import AUDIENCES, accepts_audience, error_body, tenant_entry
from provisioner.emulator.context import EmulatorContext

_CHALLENGE = (
    'Bearer authorization_uri="{authority}/", error="invalid_token", error_description="{description}"'
)


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, description: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.description = description

    def response(self, ctx: EmulatorContext) -> Response:
        headers = {}
        if self.status == 401:
            headers["WWW-Authenticate"] = _CHALLENGE.format(
                authority=ctx.base_url, description=self.description or self.message
            )
        return JSONResponse(error_body(self.code, self.message), status_code=self.status, headers=headers)


def _caller_tenant(ctx: EmulatorContext, request: Request) -> str:
    """The tenant of a valid ARM token, or the :class:`ArmError` ARM answers with."""
    from provisioner.emulator.identity.tokens import InvalidToken, verify_access_token

    if not request.query_params.get("api-version"):
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        )
    try:
        claims = verify_access_token(ctx, token)
    except InvalidToken as exc:
        if exc.reason == "expired":
            now = ctx.clock.now().astimezone(UTC).strftime("%m/%d/%Y %H:%M:%S")
            raise ArmError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time is earlier than current UTC time '{now}'.",
            ) from None
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    if not accepts_audience(claims.get("aud")):
        allowed = ",".join(f"'{a}','{a.rstrip('/')}'" for a in AUDIENCES)
        raise ArmError(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. It should"
            f" exactly match with one of the allowed audiences {allowed}.",
        )
    return str(claims["tid"])


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    async def tenants(request: Request) -> Response:
        try:
            tenant_id = _caller_tenant(ctx, request)
        except ArmError as error:
            return error.response(ctx)
        return JSONResponse({"value": [tenant_entry(ctx, tenant_id)]})

    async def subscriptions(request: Request) -> Response:
        try:
            _caller_tenant(ctx, request)
        except ArmError as error:
            return error.response(ctx)
        return JSONResponse({"value": []})

    async def subscription(request: Request) -> Response:
        try:
            _caller_tenant(ctx, request)
        except ArmError as error:
            return error.response(ctx)
        subscription_id = request.path_params["subscription"]
        return ArmError(
            404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
        ).response(ctx)

    return [
        Route("/tenants", tenants, methods=["GET"]),
        Route("/subscriptions", subscriptions, methods=["GET"]),
        Route("/subscriptions/{subscription}", subscription, methods=["GET"]),
    ]
