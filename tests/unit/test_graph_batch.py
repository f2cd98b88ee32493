"""$batch plumbing that needs no server: wire format, packing, URLs, and the AIMD limiter."""

from __future__ import annotations

import asyncio
import json

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph_core.requests.batch_request_content import BatchRequestContent

from provisioner.graph.batch import (
    MAX_BATCH,
    AdaptiveLimiter,
    Request,
    _pack,
    _RequestItem,
    _Unit,
    relative_url,
)


def _info(method: Method, url: str, body: dict[str, object] | None = None) -> RequestInformation:
    info = RequestInformation(method, url, {})
    info.headers.try_add("Accept", "application/json")
    if body is not None:
        info.headers.try_add("Content-Type", "application/json")
        info.content = json.dumps(body).encode()
    return info


def test_batch_items_are_written_with_graphs_dependson_name() -> None:
    first = _RequestItem(_info(Method.PATCH, "/applications(uniqueName='a')", {"displayName": "A"}), id="0.0")
    second = _RequestItem(
        _info(Method.POST, "/applications/x/addPassword", {"passwordCredential": {}}),
        id="0.1",
        depends_on=["0.0"],
    )
    content = BatchRequestContent()
    content.add_request(first.id, first)
    content.add_request(second.id, second)
    writer = JsonSerializationWriter()
    writer.write_object_value(None, content)
    sent = json.loads(writer.get_serialized_content())
    steps = {step["id"]: step for step in sent["requests"]}
    assert steps["0.1"]["dependsOn"] == ["0.0"] and "depends_on" not in steps["0.1"]
    assert "dependsOn" not in steps["0.0"]
    assert steps["0.0"]["body"] == {"displayName": "A"}
    assert steps["0.0"]["headers"]["content-type"] == "application/json"
    assert steps["0.1"]["method"] == "POST"


def test_relative_urls() -> None:
    assert relative_url("/servicePrincipals?$top=1") == "/servicePrincipals?$top=1"
    assert (
        relative_url("https://localhost:8443/v1.0/applications?$skiptoken=x") == "/applications?$skiptoken=x"
    )
    assert relative_url("https://graph.microsoft.com/beta/users") == "/users"
    assert relative_url("applications") == "/applications"


def test_add_password_is_never_replayed() -> None:
    assert not Request(_info(Method.POST, "/applications/x/addPassword", {})).replayable
    assert Request(_info(Method.POST, "/oauth2PermissionGrants", {})).replayable
    assert Request(_info(Method.PATCH, "/applications(uniqueName='addpassword')", {})).replayable


def test_packing_fills_batches_and_keeps_chains_whole() -> None:
    units = [_Unit(i, 0, 3) for i in range(13)] + [_Unit(99, 0, 20), _Unit(100, 0, 1)]
    batches = _pack(units)
    assert all(sum(u.length for u in batch) <= MAX_BATCH for batch in batches)
    assert sorted(u.chain for batch in batches for u in batch) == sorted(u.chain for u in units)
    assert len(batches) == 4  # 20 | 6 x 3 + 1 | ... : 60 requests in the fewest batches of 20


def test_limiter_grows_on_clean_answers_and_halves_once_per_throttled_window() -> None:
    limiter = AdaptiveLimiter(maximum=8)
    assert limiter.limit == 4
    limiter.feedback(limiter.window, throttled=False)
    assert limiter.limit == 5
    sent_in = limiter.window
    limiter.feedback(sent_in, throttled=True, retry_after=0.01)
    limiter.feedback(sent_in, throttled=True, retry_after=0.01)  # same window: no second halving
    assert limiter.limit == 2.5 and limiter.throttled == 2
    limiter.feedback(limiter.window, throttled=True)
    limiter.feedback(limiter.window, throttled=True)
    limiter.feedback(limiter.window, throttled=True)
    assert limiter.limit == 1  # never below one batch in flight
    for _ in range(20):
        limiter.feedback(limiter.window, throttled=False)
    assert limiter.limit == 8


def test_limiter_bounds_batches_in_flight_and_honours_retry_after() -> None:
    limiter = AdaptiveLimiter(maximum=2, initial=2)
    peak = 0
    running = 0

    async def one() -> None:
        nonlocal peak, running
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1

    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter.feedback(limiter.window, throttled=True, retry_after=0.05)  # pause everybody for 50 ms
        started = loop.time()
        await asyncio.gather(*(one() for _ in range(6)))
        return loop.time() - started

    waited = asyncio.run(main())
    assert peak == 1  # halved from 2 by the throttled answer
    assert waited >= 0.04
