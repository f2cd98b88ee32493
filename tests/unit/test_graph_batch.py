"""$batch plumbing that needs no server: wire format, packing, URLs, and the AIMD limiter."""

from __future__ import annotations

import asyncio
import base64
import json

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from provisioner.graph.batch import (
    MAX_BATCH,
    AdaptiveLimiter,
    Request,
    _decode,
    _pack,
    _Unit,
    envelope,
    relative_url,
)


def _info(method: Method, url: str, body: dict[str, object] | None = None) -> RequestInformation:
    info = RequestInformation(method, url, {})
    info.headers.try_add("Accept", "application/json")
    if body is not None:
        info.headers.try_add("Content-Type", "application/json")
        info.content = json.dumps(body).encode()
    return info


def _steps() -> list[tuple[str, Request, str | None]]:
    first = Request(
        _info(Method.PATCH, "https://h/v1.0/applications(uniqueName='a')", {"displayName": "Ä \u2028"})
    )
    second = Request(
        _info(Method.POST, "https://h/v1.0/applications/x/addPassword", {"passwordCredential": {}})
    )
    third = Request(_info(Method.GET, "https://h/v1.0/servicePrincipals?$filter=appId eq 'x'"))
    return [("0.0", first, None), ("0.1", second, "0.0"), ("1.0", third, None)]


def test_batch_items_are_written_with_graphs_dependson_name() -> None:
    sent = json.loads(envelope(_steps()))
    steps = {step["id"]: step for step in sent["requests"]}
    assert list(steps) == ["0.0", "0.1", "1.0"]
    assert steps["0.1"]["dependsOn"] == ["0.0"] and "depends_on" not in steps["0.1"]
    assert "dependsOn" not in steps["0.0"]
    assert steps["0.0"]["body"] == {"displayName": "Ä \u2028"}
    assert steps["0.0"]["headers"]["content-type"] == "application/json"
    assert steps["0.0"]["url"] == "/applications(uniqueName='a')"
    assert steps["0.1"]["method"] == "POST"
    assert "body" not in steps["1.0"] and steps["1.0"]["method"] == "GET"


def test_envelope_says_what_msgraph_cores_batch_content_says() -> None:
    """Same steps, same JSON as msgraph-core's own serialisation (apart from its ``depends_on`` name)."""
    content = BatchRequestContent()
    for step, request, depends_on in _steps():
        item = BatchRequestItem(request.info, id=step, depends_on=[depends_on] if depends_on else None)
        item.url = relative_url(request.url())
        content.add_request(step, item)
    writer = JsonSerializationWriter()
    writer.write_object_value(None, content)
    theirs = json.loads(writer.get_serialized_content())
    for item in theirs["requests"]:
        depends = item.pop("depends_on", None)
        if depends:
            item["dependsOn"] = depends
    assert json.loads(envelope(_steps())) == theirs


def test_inner_answers_decode_to_json_models_and_errors() -> None:
    from msgraph.generated.models.application import Application

    plain = Request(_info(Method.GET, "https://h/v1.0/applications"))
    typed = Request(_info(Method.GET, "https://h/v1.0/applications/x"), model=Application)
    ok = {"id": "1", "status": 200, "headers": {"Content-Type": "application/json"}, "body": {"appId": "a"}}
    assert _decode(ok, plain).value == {"appId": "a"}
    assert _decode(ok, typed).value.app_id == "a"
    encoded = {**ok, "body": base64.b64encode(b'{"appId": "b"}').decode()}
    assert _decode(encoded, plain).value == {"appId": "b"}
    error = {"id": "1", "status": 404, "headers": {}, "body": {"error": {"code": "Request_ResourceNotFound"}}}
    failed = _decode(error, plain)
    assert not failed.ok and failed.status == 404
    assert failed.error is not None and failed.error.error.code == "Request_ResourceNotFound"
    missing = _decode(None, plain)
    assert missing.status == 599 and "no answer" in str(missing.error.error.message)


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


def test_waiting_batches_wake_in_proportion_to_the_batches_not_their_square() -> None:
    """Each answer wakes as many waiting batches as there is room for, not every one of them."""

    class Counting(asyncio.Condition):
        wakeups = 0

        async def wait(self) -> bool:
            result = await super().wait()
            Counting.wakeups += 1
            return result

    def wakeups(batches: int) -> int:
        Counting.wakeups = 0
        limiter = AdaptiveLimiter(maximum=4, initial=4)

        async def one() -> None:
            async with limiter.slot() as window:
                await asyncio.sleep(0)
            limiter.feedback(window, throttled=False)

        async def main() -> None:
            limiter._cond = Counting()
            await asyncio.gather(*(one() for _ in range(batches)))

        asyncio.run(main())
        return Counting.wakeups

    small, large = wakeups(100), wakeups(400)
    assert large <= 4 * 400  # at most one wake-up per slot of the window per answer
    assert large <= 4.5 * small
