"""The tool's "now" is Graph's Date header; the emulator sets it from its (movable) clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from provisioner.graph.servertime import parse_http_date


def test_parse_http_date() -> None:
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    assert parse_http_date("") is None
    assert parse_http_date(None) is None
    assert parse_http_date("yesterday") is None


def test_emulator_date_header_follows_its_clock() -> None:
    from provisioner.emulator.app import build_app
    from provisioner.emulator.context import EmulatorContext
    from provisioner.emulator.store import Store

    ctx = EmulatorContext(store=Store(None))
    try:
        ctx.clock.advance(100 * 86400)

        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=build_app(ctx, graph_routes=[]))
            async with httpx.AsyncClient(transport=transport, base_url="https://emulator.test") as client:
                return await client.get("/_emulator/health")

        before = ctx.clock.now()
        response = asyncio.run(get())
        after = ctx.clock.now()
        dates = response.headers.get_list("date")
        assert len(dates) == 1
        seen = parse_http_date(dates[0])
        # bracketed by the clock before and after (the header has whole seconds), whatever the load
        assert seen is not None and before.replace(microsecond=0) <= seen <= after, (before, seen, after)
    finally:
        ctx.store.close()
