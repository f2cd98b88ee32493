"""graph_now: Graph's clock from one small read, on an answer and on a refusal, over real HTTPS.

The runs take "now" from the Date header of their batched reads
(``TenantState.server_time``); :func:`~provisioner.graph.servertime.graph_now` is the
fallback that costs one GET. It must read the emulator's moved clock, not the local one,
also when the caller may not read applications (the 403 carries a Date as well).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from reliability_support import fresh_tenant, make_caller, target_for, token

DAY = 86400


def _graph_now(target: Any) -> datetime:
    from provisioner.graph.connect import graph_client
    from provisioner.graph.servertime import graph_now

    async def read() -> datetime:
        async with graph_client(target) as client:
            return await graph_now(client)

    return asyncio.run(read())


@pytest.mark.parametrize("roles", [["Application.Read.All"], []], ids=["answered", "refused"])
def test_graph_now_is_the_emulator_clock_for_one_request(tmp_emulator: Any, roles: list[str]) -> None:
    tenant = fresh_tenant(tmp_emulator)
    caller = make_caller(tmp_emulator, tenant, roles)
    target = target_for(tmp_emulator, tenant, caller)
    tmp_emulator.ctx.clock.advance(100 * DAY)  # far from the local clock: a fallback would show
    tmp_emulator.ctx.counters.clear()
    before = tmp_emulator.ctx.clock.now()
    now = _graph_now(target)
    after = tmp_emulator.ctx.clock.now()
    # Bracketed by the emulator's clock read before and after the call (a Date header has whole
    # seconds), not a tolerance around "now": on a loaded machine the call itself may take seconds.
    assert before - timedelta(seconds=1) <= now <= after, (before, now, after)
    assert tmp_emulator.ctx.counters.get("graph_requests") == 1, dict(tmp_emulator.ctx.counters)
    # The request graph_now sends really was answered / refused, as the case says.
    read = httpx.get(
        f"{tmp_emulator.graph_url}/applications",
        params={"$top": "1", "$select": "id"},
        headers={
            "Authorization": f"Bearer {token(tmp_emulator, tenant.tenant_id, caller.client_id, caller.secret)}"
        },
        verify=str(tmp_emulator.ca_cert_path),
        timeout=30,
    )
    assert read.status_code == (200 if roles else 403), read.text
