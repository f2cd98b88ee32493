"""One Graph request in, one Graph response out: auth, routing, transactions, error bodies.

Shared by the HTTP endpoint and by ``$batch`` (which feeds its inner requests
through :func:`execute` with the outer request's caller), so both paths apply
identical rules. Writes run inside one store transaction: a request that fails
half-way leaves no partial state behind, as Graph's single-object writes don't.
"""

from __future__ import annotations

from datetime import UTC

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.auth import Caller, authenticate
from provisioner.emulator.graph.errors import GraphApiError
from provisioner.emulator.graph.ids import new_id
from provisioner.emulator.graph.routing import Call, GraphRequest, GraphResponse, Router


def handle(ctx: EmulatorContext, router: Router, request: GraphRequest) -> GraphResponse:
    """Authenticate the caller, then :func:`execute`; 401s get the same error envelope."""
    try:
        caller = authenticate(ctx, request.headers)
    except GraphApiError as error:
        return error_response(ctx, request, error)
    return execute(ctx, router, request, caller)


def execute(ctx: EmulatorContext, router: Router, request: GraphRequest, caller: Caller) -> GraphResponse:
    try:
        if request.body_error is not None:
            raise request.body_error
        match = router.resolve(request.method, request.path)
        call = Call(ctx, request, caller, match.params)
        if request.method != "GET" and request.path.lower() != "/$batch":
            # attempted writes (batch inner ones too), in all and per tenant; tests assert and kill on them
            ctx.count("graph_writes")
            ctx.count(f"graph_writes/{caller.tenant}")
        if match.transactional:
            with ctx.store.transaction():
                response = match.handler(call)
        else:
            response = match.handler(call)
    except GraphApiError as error:
        return error_response(ctx, request, error)
    _stamp(request, response)
    return response


def error_response(ctx: EmulatorContext, request: GraphRequest, error: GraphApiError) -> GraphResponse:
    request_id = new_id()
    body = error.body(
        date=ctx.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        request_id=request_id,
        client_request_id=request.header("client-request-id") or request_id,
    )
    response = GraphResponse(error.status, body, {**error.headers, "request-id": request_id})
    _stamp(request, response)
    return response


def _stamp(request: GraphRequest, response: GraphResponse) -> None:
    request_id = response.headers.setdefault("request-id", new_id())
    response.headers.setdefault("client-request-id", request.header("client-request-id") or request_id)
