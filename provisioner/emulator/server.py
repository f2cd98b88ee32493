"""Run the emulator: uvicorn with TLS on a socket we bind ourselves, in a daemon thread.

Binding the socket first (port 0 = any free port) means the URL is known before
the server starts and two emulators never race for a port. ``start_emulator``
returns once uvicorn reports it is serving (no sleeps). ``serve`` is the blocking
variant behind ``provisioner emulator serve``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.emulator.admin import ADMIN_TOKEN_ENV, admin_headers
from provisioner.emulator.app import build_app
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.errors import EmulatorError
from provisioner.emulator.faults import FaultConfig
from provisioner.emulator.identity.tokens import signing_key
from provisioner.emulator.store import Store
from provisioner.emulator.tls import ensure_tls_files

if TYPE_CHECKING:
    from provisioner.emulator.seed import TenantInfo

__all__ = ["EmulatorError", "RunningEmulator", "connection_info", "serve", "start_emulator"]

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0


class _Server(uvicorn.Server):
    """uvicorn server that signals a threading.Event once it is accepting connections, and stops at once.

    uvicorn notices ``should_exit`` on a 0.1 s tick and then sleeps another 0.1 s before
    waiting for connections: a test suite starting hundreds of private emulators spent
    that idle time on every stop. :meth:`request_exit` wakes the loop instead, and
    :meth:`shutdown` polls for the last connections in milliseconds.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        if self.started:
            self.ready.set()

    def request_exit(self) -> None:
        """Ask the serving thread to stop now; safe from any thread, before or after the loop runs."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            if self._wake is None:
                await asyncio.sleep(0.1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, close idle keep-alive connections at once, let in-flight requests finish.

        uvicorn closes idle connections gracefully, which over TLS waits for the peer's
        close_notify (clients with pooled connections never send it until they are closed):
        stop() would take the whole graceful timeout. In-flight requests still complete,
        within ``timeout_graceful_shutdown``; tasks still running after it are cancelled.
        """
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
            transport = getattr(connection, "transport", None)
            if transport is not None and transport.is_closing():
                transport.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout_graceful_shutdown
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(0.002)
        for task in list(state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def run_in_thread(self, sockets: list[socket.socket]) -> None:
        try:
            self.run(sockets=sockets)
        except BaseException as exc:  # SystemExit from uvicorn on startup failure included
            self.failure = exc


class RequestLog:
    """ASGI middleware writing one line per request: method, path, status, milliseconds.

    The path is the raw (still percent-encoded) path without its query string, so no
    query parameter, header, body, token or secret ever reaches the log, and a path
    cannot smuggle control characters into the terminal.
    """

    def __init__(self, app: ASGIApp, out: TextIO) -> None:
        self.app = app
        self.out = out
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.write(scope, status, started)

        try:
            await self.app(scope, receive, send_logged)
        except BaseException:
            self.write(scope, status or 500, started)
            raise

    def write(self, scope: Scope, status: int, started: float) -> None:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("ascii", "backslashreplace").split("?", 1)[0]
        path = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in path)
        elapsed = (time.perf_counter() - started) * 1000
        line = f"{scope['method']} {path} {status} {elapsed:.1f}ms\n"
        with self.lock:
            self.out.write(line)
            self.out.flush()


@dataclass
class RunningEmulator:
    """A started emulator. Stop it with :meth:`stop` or use it as a context manager."""

    ctx: EmulatorContext
    base_url: str
    tenant: TenantInfo
    ca_cert_path: Path
    port: int
    data_dir: Path
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _sockets: list[socket.socket] = field(repr=False)
    _temp_dir: Path | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def authority(self) -> str:
        return self.base_url

    @property
    def admin_token(self) -> str:
        """The bearer token the admin routes (``/_emulator/...``) require; new for every start."""
        return self.ctx.admin_token

    def admin_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <admin token>"}`` for requests to the admin routes."""
        return admin_headers(self.ctx.admin_token)

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting the emulator's CA (e.g. ``httpx.Client(verify=...)``)."""
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    def env(self) -> dict[str, str]:
        """Environment variables pointing tools at this emulator (what ``serve`` prints)."""
        ca = str(self.ca_cert_path)
        return {
            "PROVISIONER_EMULATOR_URL": self.base_url,
            "AZURE_TENANT_ID": self.tenant.tenant_id,
            "AZURE_CLIENT_ID": self.tenant.admin_client_id,
            "AZURE_CLIENT_SECRET": self.tenant.admin_client_secret,
            "AZURE_AUTHORITY_HOST": self.authority,
            "PROVISIONER_GRAPH_URL": self.graph_url,
            "PROVISIONER_CA_CERT": ca,
            ADMIN_TOKEN_ENV: self.admin_token,
        }

    def stop(self) -> None:
        """Stop serving, close the store, remove a temporary TLS directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.request_exit()
        self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT_SECONDS)
        for sock in self._sockets:
            sock.close()
        self.ctx.store.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); an empty host means every interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_address(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless asked: tokens, tenants and admin secrets would be reachable."""
    if not allow_remote and not is_loopback(host):
        raise EmulatorError(
            f"refusing to listen on {host!r}: not a loopback address, so other machines could get tokens"
            " from this emulator; pass --allow-remote (allow_remote=True) to do it anyway"
        )


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets; for loopback also [::1] on the same port so "localhost" works either way.

    Created with ``IPPROTO_TCP`` (not the default protocol 0): asyncio switches Nagle's algorithm
    off (``TCP_NODELAY``) only on accepted sockets whose ``proto`` says TCP. With Nagle on, a
    response written as headers then body waited for the client's delayed ACK: ~40 ms per
    request on loopback, more than the emulator's own work for a whole plan.
    """
    loopback = host in ("127.0.0.1", "localhost")
    primary_host = "127.0.0.1" if loopback else host
    family = socket.AF_INET6 if ":" in primary_host else socket.AF_INET
    sockets = []
    try:
        primary = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        primary.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        primary.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        primary.bind((primary_host, port))
    except OSError as exc:
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sockets.append(primary)
    if loopback and socket.has_ipv6:
        with contextlib.suppress(OSError):
            extra = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                extra.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                extra.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                extra.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                extra.bind(("::1", primary.getsockname()[1]))
                sockets.append(extra)
            except OSError:
                extra.close()
    return sockets


def _data_dir(state_path: Path | None, data_dir: Path | str | None) -> tuple[Path, Path | None]:
    if data_dir is not None:
        return Path(data_dir), None
    if state_path is not None:
        return state_path.parent / "emulator-tls", None
    temp = Path(tempfile.mkdtemp(prefix="provisioner-emulator-"))
    # stop() removes it; this covers a process that exits without stopping the emulator.
    atexit.register(shutil.rmtree, temp, ignore_errors=True)
    return temp, temp


def start_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_path: Path | str | None = None,
    tenant_id: str | None = None,
    data_dir: Path | str | None = None,
    faults: FaultConfig | None = None,
    allow_remote: bool = False,
    request_log: TextIO | None = None,
) -> RunningEmulator:
    """Start an emulator in a background thread and return once it serves HTTPS.

    ``state_path`` None keeps state in memory; otherwise state (tenant, apps, secrets,
    signing key) survives restarts and the TLS CA is kept next to it. ``faults`` switches
    fault injection on from the start (seeding the tenant is never faulted). ``host``
    must be a loopback address unless ``allow_remote`` (:class:`EmulatorError` otherwise).
    ``request_log`` gets one line per request (:class:`RequestLog`).
    """
    from provisioner.emulator.seed import ensure_tenant

    check_bind_address(host, allow_remote)
    state = Path(state_path) if state_path is not None else None
    tls_dir, temp_dir = _data_dir(state, data_dir)
    sockets: list[socket.socket] = []
    store: Store | None = None
    try:
        tls = ensure_tls_files(tls_dir)
        sockets = _bind(host, port)
        bound_port = int(sockets[0].getsockname()[1])
        base_url = f"https://localhost:{bound_port}"
        try:
            store = Store(state)
        except Exception as exc:  # sqlite3.DatabaseError and OSError: an unusable state file
            raise EmulatorError(f"cannot open emulator state {state}: {exc}") from None
        ctx = EmulatorContext(store=store, base_url=base_url, faults=faults or FaultConfig())
        signing_key(ctx)  # generate (first run) or load the token key before serving
        tenant = ensure_tenant(ctx, tenant_id)
        app: ASGIApp = build_app(ctx)
        if request_log is not None:
            app = RequestLog(app, request_log)
        config = uvicorn.Config(
            app,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
            # Date comes from the emulator clock (app.DateHeaderMiddleware), not the wall clock.
            date_header=False,
            # Longer than any client's idle pool timeout (httpx: 5 s): otherwise the server may
            # close a pooled connection just as a client reuses it ("Server disconnected").
            timeout_keep_alive=75,
        )
        server = _Server(config)
        thread = threading.Thread(
            target=server.run_in_thread,
            args=(sockets,),
            name=f"provisioner-emulator-{bound_port}",
            daemon=True,
        )
        thread.start()
        # Bounded waits on the ready event; a dead thread means startup failed.
        waited = 0.0
        while not server.ready.wait(0.05):
            waited += 0.05
            if not thread.is_alive() or waited > START_TIMEOUT_SECONDS:
                server.should_exit = True
                reason = server.failure or "timed out"
                raise EmulatorError(f"emulator did not start on {base_url}: {reason}")
    except BaseException:
        for sock in sockets:
            sock.close()
        if store is not None:
            store.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return RunningEmulator(
        ctx=ctx,
        base_url=base_url,
        tenant=tenant,
        ca_cert_path=Path(tls.ca_cert).resolve(),  # absolute: the exports are sourced from anywhere
        port=bound_port,
        data_dir=tls_dir,
        _server=server,
        _thread=thread,
        _sockets=sockets,
        _temp_dir=temp_dir,
    )


def connection_info(emulator: RunningEmulator) -> dict[str, Any]:
    """What ``serve --json`` prints: the connection values plus the environment block."""
    tenant = emulator.tenant
    return {
        "schema_version": 1,  # the shape of this document, as every --json output of the CLI carries
        "url": emulator.base_url,
        "graph_url": emulator.graph_url,
        "authority": emulator.authority,
        "tenant_id": tenant.tenant_id,
        "domain": tenant.domain,
        "client_id": tenant.admin_client_id,
        "client_secret": tenant.admin_client_secret,
        "ca_cert": str(emulator.ca_cert_path),
        "admin_token": emulator.admin_token,
        "env": emulator.env(),
    }


def write_env_file(path: Path, text: str) -> None:
    """Write the exports to ``path`` in one step (a temporary file renamed over it), mode 0600.

    ``serve > emulator.env &`` followed at once by ``. ./emulator.env`` races the server: the
    shell may read the file before anything is in it. With ``--env-file`` the file appears only
    when the emulator is serving and then holds every line (it carries the tenant admin secret).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _print_exports(emulator: RunningEmulator, out: TextIO) -> None:
    ca = shlex.quote(str(emulator.ca_cert_path))
    out.write(
        f"# provisioner emulator serving {emulator.base_url} (tenant {emulator.tenant.domain}); "
        "Ctrl+C stops it\n"
    )
    for name, value in emulator.env().items():
        out.write(f"export {name}={shlex.quote(value)}\n")
    out.write(f"# other HTTP clients: export REQUESTS_CA_BUNDLE={ca} SSL_CERT_FILE={ca}\n")


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    state_path: Path | str | None = None,
    tenant_id: str | None = None,
    json_output: bool = False,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    faults: FaultConfig | None = None,
    allow_remote: bool = False,
    log_requests: bool = False,
    env_file: Path | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, printing shell exports (or one JSON object) once serving.

    ``env_file`` also receives the exports (or the JSON object), written atomically once serving.

    A non-loopback ``host`` needs ``allow_remote`` and then costs a one-line warning on ``err``.
    ``log_requests`` writes one line per request to ``err`` (method, path, status, ms).
    """
    stream = out or sys.stdout
    check_bind_address(host, allow_remote)
    stop = threading.Event()
    previous: dict[int, Any] = {}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
    try:
        with start_emulator(
            host=host,
            port=port,
            state_path=state_path,
            tenant_id=tenant_id,
            faults=faults,
            allow_remote=allow_remote,
            request_log=(err or sys.stderr) if log_requests else None,
        ) as emulator:
            if not is_loopback(host):
                warnings = err or sys.stderr
                warnings.write(
                    f"warning: the emulator listens on {host!r}, not only on loopback: whoever reaches its"
                    " port can get tokens for its tenants (the admin routes still need the admin token)\n"
                )
                warnings.flush()
            text = io.StringIO()
            if json_output:
                text.write(json.dumps(connection_info(emulator)) + "\n")
            else:
                _print_exports(emulator, text)
            if env_file is not None:
                write_env_file(env_file, text.getvalue())
            stream.write(text.getvalue())
            stream.flush()
            # Wake up now and then to notice a server thread that died on its own.
            while not stop.wait(1.0) and emulator._thread.is_alive():
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
