"""The vault's paths (Key Vault secrets REST reference), mounted at the root of the emulator's origin.

``GET /secrets/{name}/`` (empty version) is what ``azure-keyvault-secrets`` sends for the current
version, and ``PATCH /secrets/{name}/`` updates it; ``/versions`` is matched before
``/{version}`` (versions are hex, so no secret version is called "versions"). Keys, certificates,
backup and restore are not served: 404 in the vault's error shape.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.keyvault.responses import Handler, endpoint, operations

PREFIXES = ("/secrets", "/deletedsecrets", "/keys", "/deletedkeys", "/certificates", "/deletedcertificates")


def _by_method(handlers: dict[str, Handler]) -> Handler:
    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return dispatch


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    ops = {name: endpoint(ctx, op) for name, op in operations(ctx).items()}

    def route(path: str, **handlers: Handler) -> Route:
        methods = {method.upper(): handler for method, handler in handlers.items()}
        return Route(path, _by_method(methods), methods=list(methods))

    secret = {"get": ops["get"], "patch": ops["update"]}
    not_served = ops["not_served"]
    return [
        route("/secrets", get=ops["list"]),
        route("/secrets/{name}", put=ops["set"], delete=ops["delete"], **secret),
        route("/secrets/{name}/", **secret),
        route("/secrets/{name}/versions", get=ops["versions"]),
        route("/secrets/{name}/{version}", **secret),
        route("/deletedsecrets", get=ops["list_deleted"]),
        route("/deletedsecrets/{name}", get=ops["get_deleted"], delete=ops["purge"]),
        route("/deletedsecrets/{name}/recover", post=ops["recover"]),
        *(
            route(f"{prefix}{tail}", get=not_served, put=not_served, post=not_served, delete=not_served)
            for prefix in PREFIXES[2:]
            for tail in ("", "/{rest:path}")
        ),
    ]
