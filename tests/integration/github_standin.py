"""A loopback HTTPS stand-in for the few GitHub REST endpoints the ``github_secret`` sink uses.

Repository, environment and organisation Actions secrets (public key, create/update, get, list) and
variables (create, update, get, list), repositories and environments (get). Like GitHub it keeps a
key pair per secrets scope and only sealed boxes reach it; unlike GitHub it opens them with its
private key (PyNaCl ``SealedBox``) so a test can assert the value a workflow would see
(:meth:`GithubStandIn.secret_value`). Timestamps have whole seconds, as GitHub's; the clock is
real time plus :meth:`advance` (no sleeps). Shapes and status codes follow GitHub's REST docs:
401 ``Bad credentials``, 404 ``Not Found``, 409 for an existing variable, 422 for a bad key id or
value, 201/204 for create/update. :meth:`fail_next` answers the next matching requests with an
error (rate limits: 403 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``).

Served with the emulator's TLS helper and uvicorn runner on 127.0.0.1; the CLI trusts it through
``PROVISIONER_GITHUB_CA_CERT``.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from nacl.public import PrivateKey, SealedBox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provisioner.emulator.server import _bind, _Server
from provisioner.emulator.tls import ensure_tls_files

DOCS = "https://docs.github.com/rest"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Scope:
    """One secrets/variables scope: a repository, an environment or an organisation."""

    key: PrivateKey = field(default_factory=PrivateKey.generate)
    key_id: str = ""
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # NAME -> metadata + "value"
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key_id = str(abs(hash(bytes(self.key.public_key))) % 10**19)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    remaining: int


class GithubStandIn:
    def __init__(self, tls_dir: Path) -> None:
        self.tls = ensure_tls_files(tls_dir)
        self.tokens: set[str] = set()
        self.repos: dict[str, int] = {}  # "owner/name" (lower) -> id
        self.scopes: dict[str, Scope] = {}  # "repo:o/r", "env:o/r/NAME", "org:o"
        self.offset = timedelta(0)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.base_url = ""

    # ---------------------------------------------------------------- test controls

    def add_token(self, token: str) -> None:
        self.tokens.add(token)

    def add_repository(self, full_name: str, *environments: str) -> None:
        self.repos[full_name.lower()] = 100000 + len(self.repos)
        self.scopes[f"repo:{full_name.lower()}"] = Scope()
        for env in environments:
            self.scopes[f"env:{full_name.lower()}/{env.lower()}"] = Scope()

    def add_organization(self, org: str) -> None:
        self.scopes[f"org:{org.lower()}"] = Scope()

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return (datetime.now(UTC) + self.offset).replace(microsecond=0)

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "error",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path matches the regex ``path`` with ``status``."""
        body = {"message": message, "documentation_url": DOCS, "status": str(status)}
        self.faults.append(Fault(method, re.compile(path), status, headers or {}, body, times))

    def rate_limit_next(self, method: str, path: str) -> int:
        """The next matching request hits the primary rate limit; returns the reset epoch."""
        reset = int(time.time()) + 1800
        self.fail_next(
            method,
            path,
            403,
            headers={
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(reset),
            },
            message="API rate limit exceeded for user ID 1.",
        )
        return reset

    def scope(self, name: str) -> Scope:
        return self.scopes[name.lower()]

    def secret_value(self, scope: str, name: str) -> str | None:
        """The plaintext a workflow would see as ``secrets.NAME`` (None: no such secret)."""
        found = self.scope(scope).secrets.get(name.upper())
        return None if found is None else str(found["value"])

    def variable(self, scope: str, name: str) -> dict[str, Any] | None:
        return self.scope(scope).variables.get(name.upper())

    def put_secret(self, scope: str, name: str, value: str) -> None:
        """A person or another tool writes the secret (through the API, as GitHub would see it)."""
        target = self.scope(scope)
        now = _stamp(self.now())
        previous = target.secrets.get(name.upper())
        created = previous["created_at"] if previous else now
        target.secrets[name.upper()] = {
            "name": name.upper(),
            "created_at": created,
            "updated_at": now,
            "value": value,
        }

    # ---------------------------------------------------------------- HTTP

    def app(self) -> Starlette:
        routes = [
            Route("/repos/{owner}/{repo}", self.get_repo, methods=["GET"]),
            Route("/repos/{owner}/{repo}/environments/{env}", self.get_environment, methods=["GET"]),
        ]
        for prefix, kind in (
            ("/repos/{owner}/{repo}/actions", "repo"),
            ("/repos/{owner}/{repo}/environments/{env}", "env"),
            ("/orgs/{org}/actions", "org"),
        ):
            routes += [
                Route(f"{prefix}/secrets/public-key", self.public_key, methods=["GET"], name=f"{kind}-pk"),
                Route(f"{prefix}/secrets", self.list_secrets, methods=["GET"], name=f"{kind}-ls"),
                Route(f"{prefix}/secrets/{{name}}", self.secret, methods=["GET", "PUT"], name=f"{kind}-s"),
                Route(f"{prefix}/variables", self.variables, methods=["GET", "POST"], name=f"{kind}-lv"),
                Route(
                    f"{prefix}/variables/{{name}}",
                    self.one_variable,
                    methods=["GET", "PATCH"],
                    name=f"{kind}-v",
                ),
            ]
        return Starlette(routes=routes, middleware=[])

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"message": message, "documentation_url": DOCS, "status": str(status)}
        return JSONResponse(body, status_code=status, headers=self._limits(headers))

    def _limits(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-github-api-version-selected": "2022-11-28",
        }
        return {**base, **(extra or {})}

    def _gate(self, request: Request) -> Response | None:
        """Authentication and injected faults, in GitHub's order (credentials first)."""
        self.requests.append((request.method, request.url.path))
        auth = request.headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if auth.split(" ", 1)[0].lower() not in ("bearer", "token") or token not in self.tokens:
            return self._error(401, "Bad credentials")
        for fault in self.faults:
            if fault.remaining > 0 and fault.method == request.method and fault.path.search(request.url.path):
                fault.remaining -= 1
                return JSONResponse(fault.body, status_code=fault.status, headers=self._limits(fault.headers))
        return None

    def _scope_of(self, request: Request) -> tuple[str, Scope] | None:
        params = request.path_params
        if "org" in params:
            name = f"org:{params['org'].lower()}"
        elif "env" in params:
            name = f"env:{params['owner'].lower()}/{params['repo'].lower()}/{params['env'].lower()}"
        else:
            name = f"repo:{params['owner'].lower()}/{params['repo'].lower()}"
        found = self.scopes.get(name)
        return (name, found) if found is not None else None

    async def get_repo(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        full = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
        if full not in self.repos:
            return self._error(404, "Not Found")
        owner, name = full.split("/")
        return JSONResponse(
            {
                "id": self.repos[full],
                "name": name,
                "full_name": full,
                "owner": {"login": owner},
                "private": True,
            },
            headers=self._limits(),
        )

    async def get_environment(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        env = request.path_params["env"]
        return JSONResponse({"id": 1, "name": env, "protection_rules": []}, headers=self._limits())

    async def public_key(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        scope = found[1]
        key = base64.b64encode(bytes(scope.key.public_key)).decode()
        return JSONResponse({"key_id": scope.key_id, "key": key}, headers=self._limits())

    def _public(self, secret: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in secret.items() if k != "value"}

    async def list_secrets(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        items = [self._public(s) for s in found[1].secrets.values()]
        return JSONResponse({"total_count": len(items), "secrets": items}, headers=self._limits())

    async def secret(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        scope_name, scope = found
        name = request.path_params["name"].upper()
        if request.method == "GET":
            secret = scope.secrets.get(name)
            if secret is None:
                return self._error(404, "Not Found")
            return JSONResponse(self._public(secret), headers=self._limits())
        if not NAME.match(name) or name.startswith("GITHUB_"):
            return self._error(422, "Secret names can only contain alphanumeric characters or underscores")
        body = await request.json()
        if body.get("key_id") != scope.key_id:
            return self._error(422, "Bad request: key_id does not match the current public key")
        try:
            value = SealedBox(scope.key).decrypt(base64.b64decode(body.get("encrypted_value", ""))).decode()
        except Exception:
            return self._error(422, "Bad request: encrypted_value cannot be decrypted")
        extra: dict[str, Any] = {}
        if scope_name.startswith("org:"):
            if body.get("visibility") not in ("all", "private", "selected"):
                return self._error(422, "Invalid request: visibility is required")
            extra["visibility"] = body["visibility"]
            extra["selected_repository_ids"] = list(body.get("selected_repository_ids") or [])
        existed = name in scope.secrets
        self.put_secret(scope_name, name, value)
        scope.secrets[name].update(extra)
        if existed:
            return Response(status_code=204, headers=self._limits())
        return JSONResponse({}, status_code=201, headers=self._limits())

    async def variables(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        scope_name, scope = found
        if request.method == "GET":
            items = list(scope.variables.values())
            return JSONResponse({"total_count": len(items), "variables": items}, headers=self._limits())
        body = await request.json()
        name = str(body.get("name", "")).upper()
        if not NAME.match(name) or name.startswith("GITHUB_") or not body.get("value"):
            return self._error(422, "Invalid request: name and value are required")
        if name in scope.variables:
            return self._error(409, "Already exists - Variable already exists")
        now = _stamp(self.now())
        scope.variables[name] = {
            "name": name,
            "value": str(body["value"]),
            "created_at": now,
            "updated_at": now,
        }
        if scope_name.startswith("org:"):
            scope.variables[name]["visibility"] = body.get("visibility")
        return JSONResponse({}, status_code=201, headers=self._limits())

    async def one_variable(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        found = self._scope_of(request)
        if found is None:
            return self._error(404, "Not Found")
        scope = found[1]
        name = request.path_params["name"].upper()
        variable = scope.variables.get(name)
        if variable is None:
            return self._error(404, "Not Found")
        if request.method == "GET":
            return JSONResponse(variable, headers=self._limits())
        body = await request.json()
        if "value" in body and body["value"] != variable["value"]:
            variable["value"] = str(body["value"])
            variable["updated_at"] = _stamp(self.now())  # an unchanged value keeps its timestamp
        return Response(status_code=204, headers=self._limits())


@dataclass
class RunningStandIn:
    standin: GithubStandIn
    base_url: str
    ca_cert: Path
    _server: _Server
    _thread: threading.Thread
    _sockets: list[socket.socket]

    def stop(self) -> None:
        self._server.request_exit()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()


def start_standin(tls_dir: Path) -> RunningStandIn:
    standin = GithubStandIn(tls_dir)
    sockets = _bind("127.0.0.1", 0)
    port = int(sockets[0].getsockname()[1])
    standin.base_url = f"https://localhost:{port}"
    config = uvicorn.Config(
        standin.app(),
        ssl_certfile=str(standin.tls.server_cert),
        ssl_keyfile=str(standin.tls.server_key),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=75,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run_in_thread, args=(sockets,), daemon=True)
    thread.start()
    waited = 0.0
    while not server.ready.wait(0.05):  # bounded: a dead thread means start-up failed
        waited += 0.05
        if not thread.is_alive() or waited > 30:
            server.should_exit = True
            raise RuntimeError(f"GitHub stand-in did not start: {server.failure!r}")
    return RunningStandIn(standin, standin.base_url, standin.tls.ca_cert, server, thread, sockets)
