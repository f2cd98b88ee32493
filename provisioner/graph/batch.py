"""JSON batching (``POST /$batch``) through msgraph-sdk, paced by a per-run adaptive concurrency limit.

Why: against Graph the cost of a run is round trips, not requests. Reading 100
apps takes ~20 GETs and applying them ~500 writes; folded into batches of
:data:`MAX_BATCH` they cost a handful of HTTP requests, several in flight at
once. Every inner request is still built by the SDK's fluent request builders
(``to_get_request_information`` / ``to_patch_request_information`` ...) and the
batch is sent to msgraph-core's ``$batch`` URL through the SDK's request adapter, so
authentication, the retry middleware and telemetry are the SDK's own.

A *chain* is a list of requests that must run in order (one app's writes:
application -> service principal -> consent -> secrets): inside one batch each
request ``dependsOn`` its predecessor, so Graph runs them in order and answers
424 for the rest of a chain whose step failed. Independent chains share batches.

Throttling: Graph evaluates every inner request against its limits and answers
429 (with ``Retry-After``) for that request alone. Such requests (and the ones
of their chain that were skipped with 424 because of them) are re-sent in a
later batch after ``Retry-After``, and the run's :class:`AdaptiveLimiter`
halves the number of batches in flight (AIMD: +1 per clean batch, x0.5 per
throttled window) and pauses every sender until ``Retry-After`` has passed.
Failures of the ``$batch`` request itself (429/503/504, resets) are the retry
middleware's job (:mod:`provisioner.graph.retry`), which never replays a batch
that carries ``addPassword``.

``addPassword`` answers the secret value exactly once: its inner response is
decoded into the SDK model as soon as the batch answer arrives. After an
ambiguous failure (an inner 504, a lost batch answer) it is never replayed (a
second secret would be minted that nobody holds); the request fails and the
next run repairs the orphan (:mod:`provisioner.engine.rotation`). 429 and 503 mean
"not executed" and are retried for every request, as the retry middleware does.

The ``$batch`` envelope is written by :func:`envelope` and its answer read as
plain JSON, not through msgraph-core's ``BatchRequestContent`` /
``BatchResponseContent``: kiota's serialisation writer and parse nodes cost a
fifth of a 1,000-app apply's CPU there, and that also sidesteps two
msgraph-core defects: ``BatchRequestItem`` writes ``depends_on`` where Graph
reads ``dependsOn`` (msgraph-sdk-python-core PR 996; Graph ignores the unknown
name and runs the chain unordered) and ``BatchResponseItem`` drops an inner
body that is a JSON object (kiota-python issue 737). Inner answers that decode
into SDK models (``Request.model``) and error bodies still go through kiota's
JSON parse node. msgraph-core imports ``deprecated`` without declaring it
(msgraph-sdk-python-core issue 1030; declared in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from provisioner.graph.retry import RetryPolicy, describe_wait, parse_retry_after
from provisioner.graph.urls import request_url

if TYPE_CHECKING:
    from kiota_abstractions.request_information import RequestInformation
    from kiota_abstractions.serialization import ParseNode
    from msgraph.graph_service_client import GraphServiceClient

    from provisioner.core.errors import ProvisionerError

MAX_BATCH = 20  # Graph's limit of requests per $batch
MAX_IN_FLIGHT = 8  # default ceiling of concurrent $batch requests (a run's AIMD window)
CONGESTION = frozenset({429, 503})  # inner answers that mean "slow down", not executed: always retried
NEVER_REPLAY = ("/addpassword", "/addkey")  # a repeat mints a second credential nobody holds

Report = Callable[[str], None]


# ---------------------------------------------------------------- the wire format


def envelope(steps: Sequence[tuple[str, Request, str | None]]) -> bytes:
    """The ``$batch`` body for ``(id, request, dependsOn)`` steps, each request as the SDK built it.

    Method, headers and body are the SDK's ``RequestInformation`` as built by the fluent request
    builders; only the envelope around them is written here, with the standard library's JSON
    encoder and each body spliced in as the SDK serialised it. msgraph-core's
    ``BatchRequestContent`` wrote the same envelope through kiota's serialisation writer, which
    decodes every inner body and writes it again value by value (a tenth of a 1,000-app apply's
    CPU), and it names the dependency ``depends_on`` where Graph reads ``dependsOn``
    (msgraph-sdk-python-core PR 996; Graph ignores the unknown name and runs a chain unordered).
    """
    items: list[str] = []
    for step, request, depends_on in steps:
        info = request.info
        method = info.http_method.name if isinstance(info.http_method, enum.Enum) else str(info.http_method)
        head: dict[str, Any] = {"id": step, "method": method, "url": relative_url(request.url())}
        if depends_on:
            head["dependsOn"] = [depends_on]
        head["headers"] = info.request_headers or {}
        text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
        body = info.content
        if body:
            text = f'{text[:-1]},"body":{bytes(body).decode("utf-8")}}}'
        items.append(text)
    return ('{"requests":[' + ",".join(items) + "]}").encode("utf-8")


def relative_url(url: str) -> str:
    """A batch step's URL relative to the version segment (Graph refuses absolute ones)."""
    lowered = url.lower()
    for version in ("/v1.0/", "/beta/"):
        index = lowered.find(version)
        if index >= 0 and "://" in url[:index]:
            return url[index + len(version) - 1 :]
    return url if url.startswith("/") else "/" + url


# ---------------------------------------------------------------- requests and outcomes


@dataclass
class Request:
    """One Graph call to batch: the SDK's RequestInformation, and what its 2xx body decodes to.

    Without ``model`` the body is handed back as parsed JSON (dicts and lists in
    Graph's shape). That is what the reader and apply use: decoding into SDK
    models costs msgraph-sdk ~7 ms per directory object (``Entity``'s field
    table runs ~2,400 import statements per call) plus ~1.5 s of imports the
    first time, more than all the round trips of a 100-app plan together.
    """

    info: RequestInformation
    model: Any = None  # an SDK model class (ParsableFactory); None: the parsed JSON
    # False: after an ambiguous failure (504) report it instead of re-sending; for calls whose repeat
    # answers an error although the first one worked (removePassword: "no password credential found").
    replay_ambiguous: bool = True

    def url(self) -> str:
        """The request's absolute URL, expanded from the SDK's URL template once and pinned on ``info``.

        ``RequestInformation.url`` re-expands its RFC 6570 template on every read (percent-encoding
        character by character), and a batched request is read several times (its batch item, its
        relative URL, replay decisions): a fifth of a 1,000-app apply's CPU went there.
        """
        url = request_url(self.info)  # = str(self.info.url), without re-expanding the template per request
        # The setter clears the path and query parameters in place, and the SDK's request builders
        # share their path-parameter dict with the RequestInformation they build (and with the
        # client): detach both first, so pinning this URL changes nothing but this request.
        self.info.path_parameters = {}
        self.info.query_parameters = {}
        self.info.url = url  # later reads (msgraph-core's BatchRequestItem among them) return it as is
        return url

    @property
    def replayable(self) -> bool:
        """May it be re-sent although Graph may have executed it (503/504)? Not for addPassword/addKey."""
        path = relative_url(self.url()).split("?")[0].lower()
        return self.replay_ambiguous and not path.endswith(NEVER_REPLAY)


@dataclass
class Outcome:
    """The answer to one batched request: status, decoded body or error (an SDK ``ODataError``)."""

    status: int
    value: Any = None
    error: Exception | None = None
    headers: dict[str, str] = field(default_factory=dict)
    final: bool = False  # the $batch request itself failed after the retry middleware: not retried again

    @property
    def ok(self) -> bool:
        return self.error is None and self.status < 400

    def result(self) -> Any:
        """The decoded body; raises the error (mapped by :func:`~provisioner.graph.failures.graph_errors`)."""
        if self.error is not None:
            raise self.error
        return self.value

    async def failure(self, action: str) -> ProvisionerError:
        """This failed answer as the one-line error ``graph_errors(action)`` makes of the same exception.

        Callers that batch independent operations (removals, deletions) keep one
        error per item this way instead of raising on the first.
        """
        from provisioner.core.errors import GraphError, ProvisionerError
        from provisioner.graph.failures import graph_errors

        try:
            async with graph_errors(action):
                self.result()
        except ProvisionerError as exc:
            return exc
        return GraphError(f"{action}: Graph {self.status}", status=self.status)


def _odata_error(
    status: int, node: ParseNode | None, headers: dict[str, str], message: str = ""
) -> Exception:
    from msgraph.generated.models.o_data_errors.main_error import MainError
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    error: ODataError | None = None
    if node is not None:
        try:
            error = node.get_object_value(ODataError)
        except Exception:  # not an error object (a text or base64 body): keep the status
            error = None
    if error is None:
        error = ODataError(error=MainError(code=str(status), message=message or f"HTTP {status}"))
    error.response_status_code = status
    error.response_headers = headers
    return error


def _decode(item: Any, request: Request) -> Outcome:
    """One inner answer of a ``$batch`` response (a JSON object: id, status, headers, body)."""
    from kiota_serialization_json.json_parse_node import JsonParseNode

    if not isinstance(item, dict) or item.get("status") is None:
        return Outcome(599, error=_odata_error(599, None, {}, "Graph sent no answer for this request"))
    status = int(item["status"])
    headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    if isinstance(body, str):  # JSON sent base64-encoded (some content types), or text
        body = _text_body(body, headers)
    if status >= 400:
        node = JsonParseNode(body) if body is not None else None
        return Outcome(status, error=_odata_error(status, node, headers), headers=headers)
    value = body
    if body is not None and request.model is not None:
        value = JsonParseNode(body).get_object_value(request.model)
    return Outcome(status, value=value, headers=headers)


def _safe_decode(item: Any, request: Request) -> Outcome:
    """Decode one answer; an undecodable one fails that step only (never the whole batch)."""
    try:
        return _decode(item, request)
    except Exception as exc:
        raw = item.get("status") if isinstance(item, dict) else None
        status = int(raw) if isinstance(raw, int) else 599
        return Outcome(status if status >= 400 else 599, error=exc, final=True)


def _text_body(text: str, headers: dict[str, str]) -> Any:
    """A string body: JSON sent base64-encoded, as Graph does for some content types; else not parsed."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" not in content_type.lower():
        return None
    try:
        return json.loads(base64.b64decode(text, validate=True))
    except ValueError:
        try:
            return json.loads(text)
        except ValueError:
            return None


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    return parse_retry_after(value)


# ---------------------------------------------------------------- adaptive concurrency


class AdaptiveLimiter:
    """AIMD on the number of ``$batch`` requests in flight, shared by one run.

    Starts at half of ``maximum``; every batch answered without throttling adds
    one (up to ``maximum``), the first throttled answer of a window halves it
    (down to 1; answers to batches sent before that decrease do not halve it
    again), and ``Retry-After`` pauses every sender until it has passed, since
    Graph throttles the calling app in the tenant, not one connection.
    """

    def __init__(self, maximum: int = MAX_IN_FLIGHT, initial: int | None = None) -> None:
        self.maximum = max(1, maximum)
        self.limit = float(min(self.maximum, initial or max(1, self.maximum // 2)))
        self.in_flight = 0
        self.resume_at = 0.0
        self.window = 0  # bumped by every decrease
        self.throttled = 0  # throttled answers seen (tests and the benchmark report it)
        self.lowest = self.limit
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Wait for room in the window and for any pause; yields the window the batch is sent in."""
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            window = self.window
        try:
            while (delay := self.resume_at - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            yield window
        finally:
            async with cond:
                self.in_flight -= 1
                # Wake only as many waiters as there is room for: waking all of them per answer made
                # every waiting batch re-check the window each time, quadratic in batches per run.
                cond.notify(max(1, int(self.limit) - self.in_flight))

    def feedback(self, window: int, *, throttled: bool, retry_after: float | None = None) -> None:
        if not throttled:
            self.limit = min(float(self.maximum), self.limit + 1)
            return
        self.throttled += 1
        if window == self.window:
            self.limit = max(1.0, self.limit / 2)
            self.lowest = min(self.lowest, self.limit)
            self.window += 1
        if retry_after:
            self.resume_at = max(self.resume_at, time.monotonic() + retry_after)


# ---------------------------------------------------------------- the batcher


@dataclass
class _Unit:
    """Consecutive requests of one chain sent in the same batch (from ``start``)."""

    chain: int
    start: int
    length: int


@dataclass
class _Pending:
    unit: _Unit
    ready_at: float = 0.0


class Batcher:
    """Runs chains of SDK requests as ``$batch`` calls; one per run, so its limiter learns the run's pace."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        limiter: AdaptiveLimiter | None = None,
        policy: RetryPolicy | None = None,
        on_wait: Report | None = None,
        label: str = "batched requests",
    ) -> None:
        self.client = client
        self.label = label  # what the batches do, in wait reports ("... on apply")
        self.limiter = limiter or AdaptiveLimiter()
        self.policy = policy or RetryPolicy.from_env()
        self.on_wait = on_wait
        self.http_requests = 0  # $batch POSTs sent: the round trips this batcher cost
        self.inner_requests = 0
        self.server_date: str | None = None  # Date header of the latest batch answer (Graph's clock)

    def server_time(self) -> datetime | None:
        """Graph's clock as of the latest answer (Entra judges secret expiry by it, not by ours)."""
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(self.server_date) if self.server_date else None
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)

    async def one(self, request: Request) -> Outcome:
        (outcome,) = (await self.run([[request]]))[0]
        return outcome

    async def each(self, requests: Sequence[Request]) -> list[Outcome]:
        """Independent requests (no ordering between them)."""
        return [chain[0] for chain in await self.run([[r] for r in requests])]

    async def run(self, chains: Sequence[Sequence[Request]]) -> list[list[Outcome]]:
        """Execute ``chains``; each chain in order, all chains as concurrently as the limiter allows.

        Returns one Outcome per request. A request after a failed step of its
        chain gets the 424 Graph answered for it (its ``error`` says so).
        """
        outcomes: list[list[Outcome | None]] = [[None] * len(chain) for chain in chains]
        attempts: Counter[tuple[int, int]] = Counter()
        queue = [_Pending(_Unit(i, 0, min(len(c), MAX_BATCH))) for i, c in enumerate(chains) if c]
        waited = 0.0
        reasons: Counter[str] = Counter()
        while queue:
            now = time.monotonic()
            due = [p for p in queue if p.ready_at <= now]
            if not due:
                pause = min(p.ready_at for p in queue) - now
                await asyncio.sleep(pause)
                waited += pause
                continue
            queue = [p for p in queue if p.ready_at > now]
            batches = _pack([p.unit for p in due])
            sent = await asyncio.gather(*(self._send(chains, b) for b in batches), return_exceptions=True)
            for batch, answers in zip(batches, sent, strict=True):
                if isinstance(answers, BaseException):  # not even answered: every step of it failed
                    if not isinstance(answers, Exception):
                        raise answers  # KeyboardInterrupt, CancelledError
                    answers = {
                        _step_id(u.chain, p): Outcome(599, error=answers, final=True)
                        for u in batch
                        for p in range(u.start, u.start + u.length)
                    }
                for unit in batch:
                    follow = self._settle(chains, unit, answers, outcomes, attempts, reasons)
                    if follow is not None:
                        queue.append(follow)
        if reasons and self.on_wait:
            self.on_wait(describe_wait(waited, reasons, self.label))
        return [[o if o is not None else Outcome(599) for o in chain] for chain in outcomes]

    def _settle(
        self,
        chains: Sequence[Sequence[Request]],
        unit: _Unit,
        answers: dict[str, Outcome],
        outcomes: list[list[Outcome | None]],
        attempts: Counter[tuple[int, int]],
        reasons: Counter[str],
    ) -> _Pending | None:
        """Record a unit's answers; return what must be sent again (a throttled step onwards) or next."""
        chain = chains[unit.chain]
        for pos in range(unit.start, unit.start + unit.length):
            outcome = answers[_step_id(unit.chain, pos)]
            retryable = outcome.status in CONGESTION or (outcome.status == 504 and chain[pos].replayable)
            key = (unit.chain, pos)
            if retryable and not outcome.final and attempts[key] < self.policy.max_retries:
                attempts[key] += 1
                after = _retry_after(outcome.headers)
                delay = self.policy.backoff(attempts[key]) if after is None else after
                if delay <= self.policy.max_wait:  # a longer Retry-After is reported, not waited for
                    reasons[_REASON.get(outcome.status, f"HTTP {outcome.status}")] += 1
                    rest = min(len(chain) - pos, MAX_BATCH)
                    return _Pending(_Unit(unit.chain, pos, rest), time.monotonic() + delay)
            outcomes[unit.chain][pos] = outcome
            if not outcome.ok:
                for later in range(pos + 1, len(chain)):  # not attempted: its predecessor failed
                    outcomes[unit.chain][later] = _failed_dependency()
                return None
        end = unit.start + unit.length
        if end < len(chain):  # a chain longer than one batch: its next part, now that this one is done
            return _Pending(_Unit(unit.chain, end, min(len(chain) - end, MAX_BATCH)))
        return None

    async def _send(self, chains: Sequence[Sequence[Request]], batch: list[_Unit]) -> dict[str, Outcome]:
        from kiota_abstractions.api_error import APIError
        from kiota_http.middleware.options import HeadersInspectionHandlerOption
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        # The batch is built once it has a slot, not before: a run gathers all its batches at once,
        # and building every one of them up front kept the first answers waiting behind that CPU.
        async with self.limiter.slot() as window:
            requests: dict[str, Request] = {}
            steps: list[tuple[str, Request, str | None]] = []
            for unit in batch:
                previous: str | None = None
                for pos in range(unit.start, unit.start + unit.length):
                    request = chains[unit.chain][pos]
                    step = _step_id(unit.chain, pos)
                    steps.append((step, request, previous))
                    requests[step] = request
                    previous = step
            info = _batch_request(self.client, envelope(steps))
            inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
            info.add_request_options([inspect])
            self.http_requests += 1
            self.inner_requests += len(requests)
            try:
                send: Any = self.client.request_adapter.send_primitive_async  # typed as returning None
                raw = await send(info, "bytes", {"XXX": ODataError})
                answer: Any = json.loads(raw) if raw else {}
            except Exception as exc:  # the batch failed as a whole (after the retry middleware)
                # Every step failed with it. Not raised: answers of the run's other batches (minted
                # secret values among them) must still reach the caller.
                status = exc.response_status_code if isinstance(exc, APIError) else None
                self.limiter.feedback(window, throttled=status in CONGESTION)
                return {step: Outcome(status or 599, error=exc, final=True) for step in requests}
        dates = inspect.response_headers.get("date") if inspect.response_headers else None
        if dates:
            self.server_date = next(iter(dates))
        listed = answer.get("responses") if isinstance(answer, dict) else None
        items = (
            {str(i.get("id")): i for i in listed if isinstance(i, dict)} if isinstance(listed, list) else {}
        )
        outcomes = {step: _safe_decode(items.get(step), request) for step, request in requests.items()}
        congested = [o for o in outcomes.values() if o.status in CONGESTION]
        retry_after = max((_retry_after(o.headers) or 0.0 for o in congested), default=0.0)
        self.limiter.feedback(window, throttled=bool(congested), retry_after=retry_after or None)
        return outcomes


def _batch_request(client: GraphServiceClient, body: bytes) -> RequestInformation:
    """``POST /$batch`` with ``body``: msgraph-core's request, its content written by :func:`envelope`."""
    from kiota_abstractions.headers_collection import HeadersCollection
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation

    info = RequestInformation()
    info.http_method = Method.POST
    info.url_template = client.batch.url_template
    info.headers = HeadersCollection()
    info.headers.try_add("Content-Type", "application/json")
    info.content = body
    return info


_REASON = {429: "Graph throttling (429)", 503: "Graph unavailable (503)", 504: "Graph gateway timeout (504)"}


def _step_id(chain: int, pos: int) -> str:
    return f"{chain}.{pos}"


def _failed_dependency() -> Outcome:
    return Outcome(
        424, error=_odata_error(424, None, {}, "not attempted: an earlier step of this app failed")
    )


def _pack(units: list[_Unit]) -> list[list[_Unit]]:
    """First-fit: fill batches of MAX_BATCH requests, keeping every unit whole (dependsOn stays inside)."""
    batches: list[list[_Unit]] = []
    sizes: list[int] = []
    for unit in sorted(units, key=lambda u: -u.length):
        for index, size in enumerate(sizes):
            if size + unit.length <= MAX_BATCH:
                batches[index].append(unit)
                sizes[index] += unit.length
                break
        else:
            batches.append([unit])
            sizes.append(unit.length)
    return batches
