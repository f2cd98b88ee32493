"""HTTPS_PROXY / NO_PROXY reach every client the tool builds: Graph (httpx) and the token endpoint (azure-identity).

A tiny CONNECT proxy on loopback counts the tunnels it opens; ``plan`` against the
emulator via ``localhost`` must go through it when HTTPS_PROXY names it, and
around it when NO_PROXY lists localhost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engine_support
import pytest
from reliability_support import cli_env, copy_scenarios, fresh_tenant

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class ConnectProxy:
    """An HTTP CONNECT proxy (loopback only) counting tunnels per target; runs its own event loop."""

    def __init__(self) -> None:
        self.tunnels: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.server = server
        self.ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            method, target, _ = request.split("\r\n", 1)[0].split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host.strip("[]") not in LOOPBACK:
                writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            self.tunnels[target] += 1
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()

    def __enter__(self) -> ConnectProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as running:
        yield running


def _plan(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **proxy_env: str) -> Any:

    tenant = fresh_tenant(emulator)
    for key, value in (cli_env(emulator, tenant) | proxy_env).items():
        monkeypatch.setenv(key, value)
    for key in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    manifests = copy_scenarios(tmp_path, ["03-logistics-app"])
    return engine_support.plan(manifests, tmp_path / ".p")


def test_https_proxy_carries_token_and_graph_traffic(
    emulator: Any, proxy: ConnectProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _plan(
        emulator, tmp_path, monkeypatch, HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}", NO_PROXY=""
    )
    assert not outcome.plan.is_empty
    assert proxy.tunnels, "no tunnel through HTTPS_PROXY"
    assert set(proxy.tunnels) == {f"localhost:{emulator.port}"}
    # at least one tunnel for the token (aiohttp, azure-identity) and one for Graph (httpx)
    assert sum(proxy.tunnels.values()) >= 2, proxy.tunnels


def test_no_proxy_bypasses_the_proxy(
    emulator: Any, proxy: ConnectProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _plan(
        emulator, tmp_path, monkeypatch, HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}", NO_PROXY="localhost"
    )
    assert not outcome.plan.is_empty
    assert not proxy.tunnels, proxy.tunnels
