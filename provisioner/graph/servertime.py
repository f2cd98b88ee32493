"""The current time, as Graph sees it: the ``Date`` header of a Graph response.

Entra decides whether a secret is expired by its own clock, so rotation
windows, overlaps and "days left" are measured against the same clock rather
than the machine's (a CI runner with a drifting clock must not retire a
secret early). The emulator sets ``Date`` from its controllable clock, so tests
that move the emulator's time move the tool's "now" with it.

One small request (``GET /applications?$top=1&$select=id``) through the
unmodified SDK; kiota's HeadersInspectionHandlerOption exposes the response
headers. An error response carries a Date too. Without a usable header the
local clock is used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


def parse_http_date(value: str | None) -> datetime | None:
    """An RFC 9110 HTTP-date as an aware UTC datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _first(headers: Any, name: str) -> str | None:
    """First value of ``name`` in a kiota HeadersCollection or a plain mapping (case-insensitive)."""
    if headers is None:
        return None
    values: Any = None
    if hasattr(headers, "try_get"):  # kiota HeadersCollection (lower-cases names)
        values = headers.get(name)
    elif hasattr(headers, "items"):
        values = next((v for k, v in headers.items() if str(k).lower() == name), None)
    if isinstance(values, str):
        return values
    if values:
        return str(next(iter(values)))
    return None


async def graph_now(client: Any) -> datetime:
    """Graph's current time (falls back to the local clock when Graph sends no Date header)."""
    from kiota_abstractions.api_error import APIError
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_http.middleware.options import HeadersInspectionHandlerOption

    from provisioner.graph.failures import graph_errors

    option = HeadersInspectionHandlerOption(inspect_response_headers=True)
    builder = client.applications
    query = builder.ApplicationsRequestBuilderGetQueryParameters(top=1, select=["id"])
    config = RequestConfiguration(query_parameters=query, options=[option])
    date: str | None = None
    async with graph_errors("read Graph's clock"):
        try:
            await builder.get(config)
        except APIError as exc:  # an error answer carries the server's Date as well
            date = _first(getattr(exc, "response_headers", None), "date")
    date = date or _first(option.response_headers, "date")
    return parse_http_date(date) or datetime.now(UTC)
