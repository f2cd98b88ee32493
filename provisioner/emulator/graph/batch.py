"""JSON batching (``POST /$batch``), executed in-process through the same handlers.

Rules from the JSON-batching docs: at most 20 requests, unique ids
(case-insensitive), relative URLs (the SDK sends absolute ones under the same
version, which Graph accepts too), a body needs a Content-Type header,
``dependsOn`` sequences requests and a failed dependency yields 424. Each inner
request gets its own status, headers and body; the batch itself is 200 when
its envelope parses and 400 otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from provisioner.emulator.faults import inner_fault
from provisioner.emulator.graph import dispatch
from provisioner.emulator.graph.errors import GraphApiError
from provisioner.emulator.graph.routing import JSON_CONTENT_TYPE, Call, GraphRequest, GraphResponse, Router

MAX_REQUESTS = 20
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})


def _invalid(message: str) -> GraphApiError:
    return GraphApiError(400, "BadRequest", message)


def _parse(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise _invalid("Invalid batch payload format: a 'requests' array is required.")
    requests = body["requests"]
    if not requests:
        raise _invalid("Invalid batch payload format: the 'requests' array is empty.")
    if len(requests) > MAX_REQUESTS:
        raise _invalid(
            f"Number of requests in the batch ({len(requests)}) exceeds the limit of {MAX_REQUESTS}."
        )
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict):
            raise _invalid("Invalid batch payload format: each request must be an object.")
        request_id, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(request_id, str) or not request_id:
            raise _invalid("Invalid batch payload format: every request needs a string 'id'.")
        if request_id.lower() in seen:
            raise _invalid(f"Batch request contains duplicate id '{request_id}'.")
        seen.add(request_id.lower())
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise _invalid(f"Invalid HTTP method '{method}' in request '{request_id}'.")
        if not isinstance(url, str) or not url:
            raise _invalid(f"Request '{request_id}' needs a relative 'url'.")
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise _invalid(f"Invalid 'headers' in request '{request_id}'.")
        if item.get("body") is not None and not any(k.lower() == "content-type" for k in headers):
            raise _invalid(f"Content-Type header is required for request '{request_id}' with a body.")
    for item in requests:
        for dependency in _depends_on(item):
            if dependency.lower() not in seen:
                raise _invalid(f"Request '{item['id']}' depends on unknown request '{dependency}'.")
    return requests


def _depends_on(item: dict[str, Any]) -> list[str]:
    # msgraph-core serialises the property as "depends_on"; Graph's documented name is "dependsOn".
    value = item.get("dependsOn", item.get("depends_on")) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"Invalid 'dependsOn' in request '{item.get('id')}'.")
    return value


def _order(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dependencies first, otherwise in the order given; a cycle is a malformed batch."""
    by_id = {r["id"].lower(): r for r in requests}
    ordered: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    def visit(item: dict[str, Any]) -> None:
        key = item["id"].lower()
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise _invalid("Batch request dependencies form a cycle.")
        state[key] = "visiting"
        for dependency in _depends_on(item):
            visit(by_id[dependency.lower()])
        state[key] = "done"
        ordered.append(item)

    for item in requests:
        visit(item)
    return ordered


def _inner_request(item: dict[str, Any], outer: GraphRequest) -> GraphRequest:
    parts = urlsplit(item["url"])
    path = parts.path
    if parts.scheme:  # absolute URL (the SDK sends these): keep what follows the version segment
        lowered = path.lower()
        index = lowered.find("/v1.0/")
        path = path[index + len("/v1.0") :] if index >= 0 else path
    if not path.startswith("/"):
        path = "/" + path
    headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    headers["authorization"] = outer.header("authorization")
    headers.setdefault("client-request-id", outer.header("client-request-id"))
    body = item.get("body")
    body_error = None
    if isinstance(body, str):
        try:
            body = json.loads(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            body_error = _invalid(f"Request '{item['id']}' has a body that is neither JSON nor base64 JSON.")
    return GraphRequest(
        method=item["method"].upper(),
        path=path.rstrip("/") or "/",
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=body,
        body_error=body_error,
    )


def handler(router: Router) -> Any:
    def run_batch(call: Call) -> GraphResponse:
        requests = _order(_parse(call.request.body))
        statuses: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        for item in requests:
            failed = [d for d in _depends_on(item) if statuses.get(d.lower(), 200) >= 400]
            if failed:
                status = 424
                entry: dict[str, Any] = {
                    "id": item["id"],
                    "status": 424,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"error": {"code": "FailedDependency", "message": "Failed Dependency"}},
                }
            else:
                inner = _inner_request(item, call.request)
                throttled = inner_fault(  # Graph throttles (and counts) each inner request
                    call.ctx,
                    call.caller.app_id,
                    tenant=call.caller.tenant,
                    method=inner.method,
                    path=inner.path,
                    query=inner.query,
                )
                if throttled is not None:
                    result = GraphResponse(*throttled)
                elif inner.path.lower() == "/$batch":
                    result = dispatch.error_response(
                        call.ctx, inner, _invalid("Nested batch requests are not allowed.")
                    )
                else:
                    result = dispatch.execute(call.ctx, router, inner, call.caller)
                status = result.status
                entry = {"id": item["id"], "status": result.status, "headers": _inner_headers(result)}
                if result.body is not None:
                    entry["body"] = result.body
            statuses[item["id"].lower()] = status
            responses.append(entry)
        return GraphResponse(200, {"responses": responses})

    return run_batch


def _inner_headers(result: GraphResponse) -> dict[str, str]:
    headers = {
        k: v for k, v in result.headers.items() if k.lower() not in ("request-id", "client-request-id")
    }
    if result.body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = JSON_CONTENT_TYPE if not isinstance(result.body, str) else "text/plain"
    return headers


def register(router: Router) -> None:
    router.add("POST", r"/\$batch", handler(router), transactional=False)
