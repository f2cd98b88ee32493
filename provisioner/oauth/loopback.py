"""The loopback leg of the authorization-code flow: which redirect URI, and a one-shot listener.

Redirect URI choice: only URIs the manifest registers are used (the tool never
adds one to the registration behind the user's back). A loopback URI is
``http://localhost[:port][/path]`` or ``http://127.0.0.1...`` on the web or
public-client platform; Entra ignores the port of loopback URIs when matching,
so the listener may take another port than the registered one, but host, path
and query must stay exactly as registered (a URI without a path is stored by
Graph with a trailing ``/``).

The listener is a stdlib :class:`http.server.HTTPServer` in a daemon thread: it
answers the one redirect carrying ``code``/``error`` with the expected ``state``
and wakes the waiting caller through a :class:`threading.Event` (bounded wait,
no polling sleeps). Request logging is switched off: a request line holds the code.

Any local process (or a web page the user visits) can send requests to the
port. A request that is not the real redirect — another path, no ``state`` or a
wrong one, neither ``code`` nor ``error`` — is answered with an error page and
otherwise ignored: the listener keeps waiting for the real redirect until its
timeout. Failing the sign-in on the first forged request would let anyone on
the machine abort every ``authorize`` with one ``curl``.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from provisioner.core.errors import ProvisionerError
from provisioner.manifest.loader import LoadedApp
from provisioner.model.redirects import LOOPBACK_HOSTS
from provisioner.oauth.token_errors import AuthorizationFailed

Platform = Literal["web", "public_client"]
SUGGESTED_URI = "http://localhost:8400/callback"


@dataclass(frozen=True)
class RegisteredLoopback:
    """A loopback redirect URI as registered, and the platform it is registered on."""

    uri: str
    platform: Platform

    @property
    def host(self) -> str:
        return (urlsplit(self.uri).hostname or "localhost").lower()

    @property
    def port(self) -> int | None:
        return urlsplit(self.uri).port

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.uri).query

    def with_port(self, port: int) -> str:
        """The redirect_uri to send: the registered URI on ``port`` (path gains ``/`` if empty)."""
        parts = urlsplit(self.uri)
        return urlunsplit(("http", f"{self.host}:{port}", parts.path or "/", parts.query, ""))


def is_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() == "http" and (parts.hostname or "").lower() in LOOPBACK_HOSTS


def loopback_redirects(loaded: LoadedApp) -> list[RegisteredLoopback]:
    """Every loopback redirect URI of the app, web first, in manifest order."""
    uris = loaded.app.redirect_uris
    found = [RegisteredLoopback(u.strip(), "web") for u in uris.web if is_loopback(u)]
    found += [RegisteredLoopback(u.strip(), "public_client") for u in uris.public_client if is_loopback(u)]
    return found


def choose_redirect(loaded: LoadedApp, *, confidential: bool) -> RegisteredLoopback:
    """The loopback URI ``authorize`` listens on.

    A confidential client (the connection file holds a client secret) prefers a web URI:
    the refresh token then belongs to the web platform and the product refreshes it
    with its secret. A public client prefers a public-client URI (PKCE alone, no secret).
    No loopback URI at all is an error naming the manifest line to add.
    """
    found = loopback_redirects(loaded)
    if not found:
        platform = "web" if confidential else "public_client"
        where = loaded.locate(("redirect_uris", platform), key=True)
        raise ProvisionerError(
            f"app {loaded.app.name!r} has no loopback redirect URI for authorize; add "
            f"'- {SUGGESTED_URI}' under redirect_uris.{platform}, then run provisioner apply",
            where,
        )
    preferred: Platform = "web" if confidential else "public_client"
    return next((r for r in found if r.platform == preferred), found[0])


@dataclass
class CallbackResult:
    """What came back to the redirect URI: ``code`` or ``error``/``error_description``."""

    params: dict[str, str] = field(repr=False)

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def error_description(self) -> str:
        return self.params.get("error_description", "")


_DONE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
    '<body style="font-family:system-ui,sans-serif;margin:48px"><h1 id="result" data-status="{status}">'
    "{title}</h1><p>{detail}</p></body></html>"
)


def _page(status: str, title: str, detail: str) -> bytes:
    return _DONE_PAGE.format(status=status, title=escape(title), detail=escape(detail)).encode()


class _Server(ThreadingHTTPServer):
    """Threaded: browsers open speculative connections that never send a request, and a
    single-threaded server would sit on one of those instead of the redirect."""

    daemon_threads = True
    listener: LoopbackListener

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the address with getfqdn (a DNS round trip).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "provisioner-authorize"
    sys_version = ""
    timeout = 30  # an idle (preconnected) socket is dropped instead of holding a thread forever

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the request line carries the authorization code."""

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.close_connection = True
        status, body = self.server.listener.handle(self.path)
        self._send(status, body)


class LoopbackListener:
    """Listens on ``host:port`` for the one redirect to ``path`` whose ``state`` matches.

    ``port`` 0 picks a free port (see :attr:`port` after :meth:`start`). For
    ``localhost`` it listens on 127.0.0.1 and, when available, on ::1 with the same
    port, since browsers may resolve either.
    """

    def __init__(self, host: str, port: int, path: str, query: str, expected_state: str) -> None:
        self.host = host
        self.requested_port = port
        self.path = path or "/"
        self.query = dict(parse_qsl(query, keep_blank_values=True))
        self._state = expected_state
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._result: CallbackResult | None = None
        self.ignored = 0  # requests answered but not taken as the redirect (wrong state, ...)
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackListener:
        """Bind and serve; raises OSError (e.g. EADDRINUSE) when the port is taken."""
        primary = self._bind(_Server, "127.0.0.1", self.requested_port)
        self.port = int(primary.server_address[1])
        if self.host == "localhost" and socket.has_ipv6:
            with contextlib.suppress(OSError):
                self._bind(_Server6, "::1", self.port)
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name=f"authorize-loopback-{self.port}",
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self, server_cls: type[_Server], address: str, port: int) -> _Server:
        server = server_cls((address, port), _Handler)
        server.listener = self
        self._servers.append(server)
        return server

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> LoopbackListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the callback --------------------------------------------------------------------------

    def handle(self, raw_path: str) -> tuple[int, bytes]:
        """Answer one request; records the first real redirect for :meth:`wait`, ignores the rest."""
        parts = urlsplit(raw_path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        registered = all(params.get(key) == value for key, value in self.query.items())
        if (parts.path or "/") != self.path or not registered:
            # A registered query must come back unchanged; anything else is not the redirect.
            return self._ignore(
                404, _page("not_found", "Not found", "This address only receives the sign-in redirect.")
            )
        with self._lock:
            if self._done.is_set():
                return 200, _page("done", "Already handled", "You can close this window.")
        if not self._state_matches(params.get("state")):
            return self._ignore(
                400,
                _page(
                    "error",
                    "Sign-in rejected",
                    "The response did not match this sign-in; provisioner keeps waiting for the real one.",
                ),
            )
        if "code" not in params and "error" not in params:
            return self._ignore(
                400, _page("error", "Missing response", "The redirect carried neither a code nor an error.")
            )
        with self._lock:
            if self._done.is_set():
                return 200, _page("done", "Already handled", "You can close this window.")
            self._result = CallbackResult(params)
            self._done.set()
        if "error" in params:
            return 200, _page(
                "error",
                "Sign-in failed",
                f"{params['error']}. See the terminal for details; close this window.",
            )
        return 200, _page(
            "ok", "Signed in", "provisioner received the authorization. You can close this window."
        )

    def _state_matches(self, state: str | None) -> bool:
        # Constant-time: the state is this sign-in's only guard against a forged redirect.
        return state is not None and hmac.compare_digest(state.encode(), self._state.encode())

    def _ignore(self, status: int, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.ignored += 1
        return status, body

    def wait(self, timeout: float) -> CallbackResult:
        """Block until the real redirect arrives (at most ``timeout`` seconds); other requests do not end it."""
        if not self._done.wait(timeout):
            ignored = (
                f" ({self.ignored} request(s) that were not this sign-in's redirect were ignored)"
                if self.ignored
                else ""
            )
            raise AuthorizationFailed(
                f"no sign-in response within {timeout:g} s{ignored}; run provisioner authorize again "
                "(use --timeout to wait longer)"
            )
        assert self._result is not None
        return self._result
