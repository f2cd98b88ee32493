"""Typed Graph errors and the documented error body.

Handlers raise :class:`GraphApiError`; the dispatcher turns it into Graph's
``{"error": {"code", "message", "innerError": {...}}}`` body so clients (the
msgraph-sdk's ``ODataError``, retry middleware, users' scripts) see exactly the
shape and codes the real service sends. Messages follow the texts Graph sends
(the documented examples and real responses) so code that matches on them in CI
behaves as it would against a real tenant.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND_TEMPLATE = (
    "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
)


class GraphApiError(Exception):
    """One Graph error response: HTTP status, error code and one-line message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self, *, date: str, request_id: str, client_request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        error["innerError"] = {
            "date": date,
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
        return {"error": error}


def not_found(key: str) -> GraphApiError:
    return GraphApiError(404, "Request_ResourceNotFound", NOT_FOUND_TEMPLATE.format(key=key))


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphApiError:
    return GraphApiError(400, code, message)


def invalid_value(prop: str, resource: str) -> GraphApiError:
    """Graph's wording for a property value that fails validation (e.g. a bad redirect URI)."""
    return bad_request(f"Invalid value specified for property '{prop}' of resource '{resource}'.")


def unknown_property(prop: str, type_name: str) -> GraphApiError:
    return bad_request(
        f"The property '{prop}' does not exist on type '{type_name}'. Make sure to only use property"
        " names that are defined by the type or mark the type as open type."
    )


def read_only(prop: str) -> GraphApiError:
    return bad_request(f"Property '{prop}' is read-only and cannot be set.")


def unsupported_query(message: str) -> GraphApiError:
    return GraphApiError(400, "Request_UnsupportedQuery", message)


def insufficient_privileges() -> GraphApiError:
    return GraphApiError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def mailbox_access_denied() -> GraphApiError:
    """Exchange-backed endpoints (messages) answer with Outlook's code, not the directory's."""
    return GraphApiError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def conflict(message: str) -> GraphApiError:
    return GraphApiError(409, "Request_MultipleObjectsWithSameKeyValue", message)


def invalid_token(message: str, authority: str) -> GraphApiError:
    """401 with the challenge header Graph sends, pointing at the emulator's own authority."""
    challenge = (
        f'Bearer realm="", authorization_uri="{authority}/common/oauth2/authorize",'
        ' client_id="00000003-0000-0000-c000-000000000000"'
    )
    return GraphApiError(401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": challenge})
