"""Starlette glue for the Graph v1.0 surface: ``routes(ctx)`` is mounted under ``/v1.0``.

One catch-all route hands every request to the Graph router (the table is in
:mod:`.urls`, the matching in :mod:`.routing`), because Graph's key segments
(``applications(appId='…')``) and ``$``-segments do not fit a path-template
router, and because ``$batch`` must reach the same handlers without HTTP.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import dispatch
from provisioner.emulator.graph.errors import GraphApiError
from provisioner.emulator.graph.routing import (
    JSON_CONTENT_TYPE,
    GraphRequest,
    GraphResponse,
    Router,
    decode_body,
)
from provisioner.emulator.graph.urls import build_beta_router, build_router

METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    return _routes(ctx, build_router())


def beta_routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """The few beta endpoints (mounted under ``/beta``), with the same auth and error rules."""
    return _routes(ctx, build_beta_router())


def _routes(ctx: EmulatorContext, router: Router) -> list[BaseRoute]:

    async def graph_endpoint(request: Request) -> Response:
        raw = await request.body()
        graph_request = GraphRequest(
            method=request.method,
            path="/" + str(request.path_params.get("path", "")).strip("/"),
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        try:
            graph_request.body = decode_body(raw)
        except GraphApiError as error:
            graph_request.body_error = error
        return to_starlette(dispatch.handle(ctx, router, graph_request))

    return [Route("/{path:path}", graph_endpoint, methods=METHODS)]


def to_starlette(response: GraphResponse) -> Response:
    headers = dict(response.headers)
    if response.body is None:
        return Response(status_code=response.status, headers=headers)
    if isinstance(response.body, str):
        media_type = headers.pop("Content-Type", "text/plain")
        return Response(response.body, status_code=response.status, headers=headers, media_type=media_type)
    content = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False)
    return Response(content, status_code=response.status, headers=headers, media_type=JSON_CONTENT_TYPE)
