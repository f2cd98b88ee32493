"""AADSTS errors exactly as the v2.0 token and authorize endpoints report them.

Clients (MSAL, azure-identity, people reading CI logs) key on the OAuth ``error``
value and show ``error_description``; tests and users match on the AADSTS code.
Messages follow the identity platform's wording (reference-error-codes and the
texts the service really returns). None of them ever contains a secret value,
code or refresh token: only identifiers (app IDs, tenants, scopes, URIs).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

from provisioner.emulator.context import EmulatorContext


class OAuthError(Exception):
    """A protocol error: OAuth ``error`` string + AADSTS code + one-line message + HTTP status."""

    def __init__(self, code: int, error: str, message: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.code = code
        self.error = error
        self.message = message
        self.status = status

    @property
    def description(self) -> str:
        return f"AADSTS{self.code}: {self.message}"


def _err(code: int, error: str, message: str) -> OAuthError:
    # RFC 6749 5.2: failed client authentication may answer 401; Entra does for invalid_client.
    return OAuthError(code, error, message, 401 if error == "invalid_client" else 400)


# -- tenants and clients -------------------------------------------------------------------------


def tenant_not_found(tenant: str) -> OAuthError:
    return _err(
        90002,
        "invalid_request",
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no "
        "active subscriptions for the tenant.",
    )


def app_not_found(client_id: str, tenant: str) -> OAuthError:
    return _err(
        700016,
        "unauthorized_client",
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
    )


def not_multi_tenant(app_id: str, name: str) -> OAuthError:
    return _err(
        50194,
        "invalid_request",
        f"Application '{app_id}'({name}) is not configured as a multi-tenant application. Usage of the "
        "/common endpoint is not supported for such applications created after '10/15/2018'. Use a "
        "tenant-specific endpoint or configure the application to be multi-tenant.",
    )


def invalid_client_secret(app_id: str) -> OAuthError:
    return _err(
        7000215,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        f"value, not the client secret ID, for a secret added to app '{app_id}'.",
    )


def expired_client_secret(app_id: str) -> OAuthError:
    return _err(
        7000222,
        "invalid_client",
        f"The provided client secret keys for app '{app_id}' are expired. Visit the Azure portal to create "
        "new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials "
        "for added security: https://aka.ms/certCreds.",
    )


def credential_required() -> OAuthError:
    return _err(
        7000218,
        "invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def public_client_with_credential() -> OAuthError:
    return _err(
        700025,
        "invalid_client",
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )


def missing_service_principal(app_id: str, tenant_id: str) -> OAuthError:
    return _err(
        7000229,
        "invalid_client",
        f"The client application {app_id} is missing service principal in the tenant {tenant_id}. "
        "See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
    )


def assertion_signature(reason: str, thumbprint: str | None) -> OAuthError:
    return _err(
        700027,
        "invalid_client",
        f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by "
        f"client: '{thumbprint or ''}']",
    )


def assertion_time(now: str, nbf: str, exp: str) -> OAuthError:
    return _err(
        700024,
        "invalid_client",
        f"Client assertion is not within its valid time range. Current time: {now}, assertion valid from "
        f"{nbf}, expiry time of assertion {exp}.",
    )


def assertion_client_mismatch() -> OAuthError:
    return _err(
        700021,
        "invalid_client",
        "Client assertion application identifier doesn't match 'client_id' parameter.",
    )


def assertion_malformed(detail: str) -> OAuthError:
    return _err(50027, "invalid_request", f"JWT token is invalid or malformed. {detail}")


# -- request shape -------------------------------------------------------------------------------


def missing_parameter(name: str) -> OAuthError:
    return _err(
        900144, "invalid_request", f"The request body must contain the following parameter: '{name}'."
    )


def unsupported_grant_type(grant_type: str) -> OAuthError:
    return _err(
        70003, "unsupported_grant_type", f"The app requested an unsupported grant type '{grant_type}'."
    )


def invalid_scope(scope: str) -> OAuthError:
    return _err(
        70011,
        "invalid_scope",
        f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
    )


def client_credentials_scope(scope: str) -> OAuthError:
    return _err(
        1002012,
        "invalid_scope",
        f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
        "value with /.default suffixed to the resource identifier (application ID URI).",
    )


def multiple_resources(scope: str) -> OAuthError:
    return _err(
        28000,
        "invalid_scope",
        "Provided value for the input parameter scope is not valid because it contains more than one "
        f"resource. Scope {scope} is not valid.",
    )


def resource_not_found(resource: str, tenant: str) -> OAuthError:
    return _err(
        500011,
        "invalid_resource",
        f"The resource principal named {resource} was not found in the tenant named {tenant}. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
    )


def unsupported_response_type(response_type: str) -> OAuthError:
    return _err(
        700054,
        "unsupported_response_type",
        f"response_type '{response_type}' is not enabled for the application.",
    )


# -- grants --------------------------------------------------------------------------------------


def consent_required(app_id: str, name: str, error: str = "invalid_grant") -> OAuthError:
    return _err(
        65001,
        error,
        f"The user or administrator has not consented to use the application with ID '{app_id}' named "
        f"'{name}'. Send an interactive authorization request for this user and resource.",
    )


def admin_consent_required() -> OAuthError:
    return _err(90094, "access_denied", "The grant requires admin permission.")


def consent_declined() -> OAuthError:
    return _err(65004, "access_denied", "User declined to consent to access the app.")


def user_not_assigned(app_id: str, name: str, upn: str, error: str = "invalid_grant") -> OAuthError:
    """The app's service principal requires assignment (appRoleAssignmentRequired) and the user holds none,
    directly or through a group; the authorize endpoint sends it back as ``access_denied``."""
    return _err(
        50105,
        error,
        f"Your administrator has configured the application {name} ('{app_id}') to block users unless they "
        "are specifically granted ('assigned') access to the application. The signed in user "
        f"'{upn}' is blocked because they are not a direct member of a group with access, nor had access "
        "directly assigned by an administrator. Please contact your administrator to assign access to this "
        "application.",
    )


def login_required() -> OAuthError:
    return _err(50058, "login_required", "A silent sign-in request was sent but no user is signed in.")


def redirect_uri_mismatch(uri: str, app_id: str) -> OAuthError:
    return _err(
        50011,
        "invalid_request",
        f"The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for "
        f"the application '{app_id}'. Make sure the redirect URI sent in the request matches one added to "
        "your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn "
        "more about how to fix this.",
    )


def invalid_code() -> OAuthError:
    return _err(70000, "invalid_grant", "The provided value for the 'code' parameter is not valid.")


def invalid_refresh_token() -> OAuthError:
    return _err(
        70000,
        "invalid_grant",
        "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
    )


def code_redeemed() -> OAuthError:
    return _err(
        54005,
        "invalid_grant",
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
        "existing refresh token.",
    )


def code_expired() -> OAuthError:
    return _err(
        70008,
        "invalid_grant",
        "The provided authorization code or refresh token has expired due to inactivity. Send a new "
        "interactive authorization request for this user and resource.",
    )


def pkce_mismatch() -> OAuthError:
    return _err(
        501481,
        "invalid_grant",
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )


def refresh_token_revoked(auth_time: str, valid_from: str) -> OAuthError:
    return _err(
        50173,
        "invalid_grant",
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "might have changed or reset their password. The grant was issued on "
        f"'{auth_time}' and the TokensValidFrom date (before which tokens are not valid) for this user is "
        f"'{valid_from}'.",
    )


def refresh_token_inactive(issued: str, inactive_days: int) -> OAuthError:
    return _err(
        700082,
        "invalid_grant",
        f"The refresh token has expired due to inactivity. The token was issued on {issued} and was "
        f"inactive for {inactive_days}.00:00:00.",
    )


def spa_refresh_token_expired(issued: str) -> OAuthError:
    return _err(
        700084,
        "invalid_grant",
        "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited "
        "lifetime of 1.00:00:00, which can't be extended. It is now expired and a new sign in request must "
        f"be sent by the SPA to the sign in page. The token was issued on '{issued}'.",
    )


def user_disabled() -> OAuthError:
    return _err(50057, "invalid_grant", "The user account is disabled.")


# -- rendering -----------------------------------------------------------------------------------


def error_body(ctx: EmulatorContext, err: OAuthError, correlation_id: str | None = None) -> dict[str, Any]:
    """The JSON body of a token-endpoint error (also used for discovery errors)."""
    timestamp = ctx.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id = str(uuid.uuid4())
    correlation_id = correlation_id or str(uuid.uuid4())
    return {
        "error": err.error,
        "error_description": (
            f"{err.description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\n"
            f"Timestamp: {timestamp}"
        ),
        "error_codes": [err.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{ctx.base_url}/error?code={err.code}",
    }


def error_response(
    ctx: EmulatorContext, err: OAuthError, correlation_id: str | None = None, *, error: str | None = None
) -> JSONResponse:
    body = error_body(ctx, err, correlation_id)
    if error:
        body["error"] = error
    return JSONResponse(body, status_code=err.status, headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
