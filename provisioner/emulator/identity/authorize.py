"""``/{tenant}/oauth2/v2.0/authorize``: sign-in, consent and the redirect with ``code`` and ``state``.

Order of checks follows the platform: problems with the tenant, the client or
the redirect URI are shown on an error page (never redirected: the redirect URI
is not trusted yet); everything after that goes back to the app as
``error``/``error_description``. Sign-in picks one of the tenant's users (the
emulator has no passwords). A short-lived signed *ticket* carries the signed-in
user from the sign-in form to the consent form, and a session cookie enables
single sign-on and ``prompt=none``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity import authorize_page, errors
from provisioner.emulator.identity.directory import (
    MULTI_TENANT_AUDIENCES,
    MULTI_TENANT_SEGMENTS,
    assignment_refusal,
    ensure_client_service_principal,
    find_application,
    find_application_home,
    find_service_principal,
    get_user,
    is_admin_user,
    list_users,
    resolve_tenant,
    tenant_domain,
)
from provisioner.emulator.identity.errors import OAuthError
from provisioner.emulator.identity.grants import issue_code
from provisioner.emulator.identity.models import precise_iso
from provisioner.emulator.identity.permissions import (
    MissingConsent,
    ScopeRequest,
    missing_consent,
    parse_scopes,
    record_consent,
)
from provisioner.emulator.identity.redirect_uris import match_redirect_uri
from provisioner.emulator.identity.redirect_uris import (
    redirect_uri_matches as redirect_uri_matches,  # re-export
)
from provisioner.emulator.identity.tickets import read_ticket, sign_ticket

SESSION_COOKIE = "emulator_session"
SESSION_LIFETIME_SECONDS = 24 * 3600
TICKET_LIFETIME_SECONDS = 600
PARAMS = (
    "client_id",
    "response_type",
    "redirect_uri",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
)
_NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class PageError(Exception):
    """Shown on the emulator's own error page; the browser is NOT sent back to the app."""

    def __init__(self, err: OAuthError, back_url: str | None = None) -> None:
        super().__init__(err.description)
        self.err = err
        self.back_url = back_url


class RedirectError(Exception):
    """Sent back to the (already validated) redirect URI as ``error`` + ``error_description``."""

    def __init__(self, err: OAuthError) -> None:
        super().__init__(err.description)
        self.err = err


@dataclass
class Target:
    """A validated authorization request."""

    segment: str
    tenant_id: str
    tenant_name: str
    app: dict[str, Any]
    params: dict[str, str]
    redirect_uri: str
    platform: str
    response_mode: str
    scopes: ScopeRequest | None = None

    @property
    def prompt(self) -> str:
        return self.params.get("prompt", "").lower()

    @property
    def app_name(self) -> str:
        return str(self.app.get("displayName") or self.app["appId"])


# -- validation -------------------------------------------------------------------------------------


def _params(source: Mapping[str, str]) -> dict[str, str]:
    return {k: source[k].strip() for k in PARAMS if source.get(k) is not None and source[k].strip() != ""}


def validate(ctx: EmulatorContext, segment: str, source: Mapping[str, str]) -> Target:
    """Tenant, client and redirect URI; failures are shown on an error page (:class:`PageError`)."""
    params = _params(source)
    client_id = params.get("client_id")
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        if not client_id:
            raise PageError(errors.missing_parameter("client_id"))
        home = find_application_home(ctx, client_id)
        if home is None:
            raise PageError(errors.app_not_found(client_id, segment))
        tenant_id, app = home
        if app.get("signInAudience", "AzureADMyOrg") not in MULTI_TENANT_AUDIENCES:
            raise PageError(errors.not_multi_tenant(client_id, str(app.get("displayName") or "")))
    else:
        resolved = resolve_tenant(ctx, segment)
        if resolved is None:
            raise PageError(errors.tenant_not_found(segment))
        tenant_id = resolved
        if not client_id:
            raise PageError(errors.missing_parameter("client_id"))
        found = find_application(ctx, tenant_id, client_id)
        if found is None:
            home = find_application_home(ctx, client_id)
            multi = home is not None and home[1].get("signInAudience") in MULTI_TENANT_AUDIENCES
            if not multi or home is None:
                raise PageError(errors.app_not_found(client_id, segment))
            found = home[1]
        app = found
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        registered = [
            uri
            for p in ("web", "spa", "publicClient")
            for uri in (app.get(p) or {}).get("redirectUris") or []
        ]
        if len(registered) != 1:
            raise PageError(errors.redirect_uri_mismatch("", client_id))
        redirect_uri = registered[0]
    platform = match_redirect_uri(app, redirect_uri)
    if platform is None:
        raise PageError(errors.redirect_uri_mismatch(redirect_uri, client_id))
    response_mode = params.get("response_mode", "query").lower()
    target = Target(
        segment=segment,
        tenant_id=tenant_id,
        tenant_name=tenant_domain(ctx, tenant_id),
        app=app,
        params=params,
        redirect_uri=redirect_uri,
        platform=platform,
        response_mode=response_mode if response_mode in ("query", "fragment", "form_post") else "query",
    )
    return target


def check_parameters(ctx: EmulatorContext, target: Target) -> None:
    """Checks whose failures go back to the (validated) redirect URI; fills ``target.scopes``."""
    params = target.params
    response_mode = params.get("response_mode", "query").lower()
    if response_mode not in ("query", "fragment", "form_post"):
        raise RedirectError(
            OAuthError(900144, "invalid_request", f"Invalid response_mode '{response_mode}'.")
        )
    response_type = params.get("response_type", "")
    if response_type != "code":
        raise RedirectError(errors.unsupported_response_type(response_type))
    method = params.get("code_challenge_method")
    if method is not None and method not in ("S256", "plain"):
        raise RedirectError(
            OAuthError(
                5000751,
                "invalid_request",
                f"The code_challenge_method '{method}' is not supported. Supported values: S256, plain.",
            )
        )
    if method is not None and not params.get("code_challenge"):
        raise RedirectError(errors.missing_parameter("code_challenge"))
    if target.prompt not in ("", "login", "consent", "none", "select_account"):
        raise RedirectError(OAuthError(90023, "invalid_request", f"Invalid prompt value '{target.prompt}'."))
    scope = params.get("scope")
    if not scope:
        raise RedirectError(errors.missing_parameter("scope"))
    try:
        target.scopes = parse_scopes(ctx, target.tenant_id, target.tenant_name, scope)
    except OAuthError as err:
        raise RedirectError(err) from None


# -- responses --------------------------------------------------------------------------------------


def _reply(target: Target, fields: dict[str, str | None]) -> Response:
    fields = {k: v for k, v in fields.items() if v is not None}
    if target.params.get("state") is not None:
        fields["state"] = target.params["state"]
    if target.response_mode == "form_post":
        return HTMLResponse(authorize_page.render_form_post(target.redirect_uri, fields), headers=_NO_CACHE)
    query = urlencode(fields)
    if target.response_mode == "fragment":
        location = f"{target.redirect_uri.split('#')[0]}#{query}"
    else:
        location = f"{target.redirect_uri}{'&' if '?' in target.redirect_uri else '?'}{query}"
    return RedirectResponse(location, status_code=302, headers=_NO_CACHE)


def _error_reply(ctx: EmulatorContext, target: Target, err: OAuthError) -> Response:
    body = errors.error_body(ctx, err)
    return _reply(
        target,
        {"error": err.error, "error_description": body["error_description"], "error_uri": body["error_uri"]},
    )


def _error_page(err: PageError) -> Response:
    status = 200 if err.back_url else 400
    return HTMLResponse(
        authorize_page.render_error(err.err, back_url=err.back_url), status_code=status, headers=_NO_CACHE
    )


def _back_url(ctx: EmulatorContext, target: Target, err: OAuthError) -> str:
    reply = _error_reply(ctx, target, err)
    return str(reply.headers.get("location") or target.redirect_uri)


def _action(request: Request) -> str:
    return request.url.path


def _sign_in_page(ctx: EmulatorContext, request: Request, target: Target) -> Response:
    html = authorize_page.render_sign_in(
        action=_action(request),
        app_name=target.app_name,
        tenant_name=target.tenant_name,
        users=list_users(ctx, target.tenant_id),
        hidden=target.params,
        login_hint=target.params.get("login_hint"),
    )
    return HTMLResponse(html, headers=_NO_CACHE)


def _session(ctx: EmulatorContext, request: Request, tenant_id: str) -> dict[str, Any] | None:
    body = read_ticket(ctx, request.cookies.get(SESSION_COOKIE))
    if body is None or body.get("t") != tenant_id:
        return None
    user = get_user(ctx, tenant_id, str(body.get("u")))
    if user is None or user.get("accountEnabled") is False:
        return None
    valid_from = user.get("_signInSessionsValidFrom") or user.get("signInSessionsValidFromDateTime")
    if valid_from and parse_iso(body["at"]) < parse_iso(valid_from):
        return None  # sessions are revoked with the refresh tokens
    return body


def _set_session(
    ctx: EmulatorContext, response: Response, tenant_id: str, user_id: str, auth_time: str
) -> None:
    value = sign_ticket(ctx, {"t": tenant_id, "u": user_id, "at": auth_time}, SESSION_LIFETIME_SECONDS)
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_LIFETIME_SECONDS, httponly=True, secure=True, samesite="lax"
    )


def _continue(
    ctx: EmulatorContext, request: Request, target: Target, user: dict[str, Any], auth_time: str
) -> Response:
    """Signed in: consent page if anything is missing (or prompt=consent), else the code."""
    assert target.scopes is not None
    _require_assignment(ctx, target, user)
    client_sp = find_service_principal(ctx, target.tenant_id, target.app["appId"])
    missing = missing_consent(
        ctx, target.tenant_id, target.app, client_sp["id"] if client_sp else None, user["id"], target.scopes
    )
    if target.prompt == "consent":
        # Ask again for everything requested, including what was consented before.
        missing = missing_consent(ctx, target.tenant_id, target.app, None, user["id"], target.scopes)
    if not missing:
        return _issue(ctx, target, user, auth_time)
    if any(m.needs_admin for m in missing) and not is_admin_user(user):
        err = errors.admin_consent_required()
        back = _back_url(
            ctx, target, errors.consent_required(target.app["appId"], target.app_name, "access_denied")
        )
        raise PageError(err, back_url=back)
    ticket = sign_ticket(
        ctx,
        {"t": target.tenant_id, "u": user["id"], "at": auth_time, "c": target.app["appId"]},
        TICKET_LIFETIME_SECONDS,
    )
    html = authorize_page.render_consent(
        action=_action(request),
        app_name=target.app_name,
        user=user,
        missing=missing,
        hidden=target.params,
        ticket=ticket,
        can_consent_for_org=is_admin_user(user),
    )
    return HTMLResponse(html, headers=_NO_CACHE)


def _issue(ctx: EmulatorContext, target: Target, user: dict[str, Any], auth_time: str) -> Response:
    assert target.scopes is not None
    code = issue_code(
        ctx,
        tenant_id=target.tenant_id,
        client_id=target.app["appId"],
        user_id=user["id"],
        redirect_uri=target.redirect_uri,
        platform=target.platform,
        scopes=target.scopes.items,
        auth_time=parse_iso(auth_time),
        nonce=target.params.get("nonce"),
        code_challenge=target.params.get("code_challenge"),
        code_challenge_method=target.params.get("code_challenge_method"),
    )
    response = _reply(target, {"code": code})
    _set_session(ctx, response, target.tenant_id, user["id"], auth_time)
    return response


async def authorize_get(ctx: EmulatorContext, request: Request) -> Response:
    try:
        target = validate(ctx, request.path_params["tenant"], request.query_params)
    except PageError as err:
        return _error_page(err)
    return _after_validation(ctx, request, target)


def _after_validation(ctx: EmulatorContext, request: Request, target: Target) -> Response:
    try:
        check_parameters(ctx, target)
        session = _session(ctx, request, target.tenant_id)
        hint = target.params.get("login_hint", "").lower()
        if target.prompt == "none":
            if session is None:
                raise RedirectError(errors.login_required())
            user = get_user(ctx, target.tenant_id, session["u"]) or {}
            if hint and str(user.get("userPrincipalName", "")).lower() != hint:
                raise RedirectError(errors.login_required())
            return _silent(ctx, target, user, session["at"])
        if session is None or target.prompt in ("login", "select_account"):
            return _sign_in_page(ctx, request, target)
        user = get_user(ctx, target.tenant_id, session["u"]) or {}
        if hint and str(user.get("userPrincipalName", "")).lower() != hint:
            return _sign_in_page(ctx, request, target)
        return _continue(ctx, request, target, user, session["at"])
    except RedirectError as err:
        return _error_reply(ctx, target, err.err)
    except PageError as err:
        return _error_page(err)


def _require_assignment(ctx: EmulatorContext, target: Target, user: dict[str, Any]) -> None:
    """An app requiring assignment turns an unassigned user away (AADSTS50105, ``access_denied``)."""
    refusal = assignment_refusal(ctx, target.tenant_id, target.app, user, "access_denied")
    if refusal is not None:
        raise RedirectError(refusal)


def _silent(ctx: EmulatorContext, target: Target, user: dict[str, Any], auth_time: str) -> Response:
    assert target.scopes is not None
    _require_assignment(ctx, target, user)
    client_sp = find_service_principal(ctx, target.tenant_id, target.app["appId"])
    missing = missing_consent(
        ctx, target.tenant_id, target.app, client_sp["id"] if client_sp else None, user["id"], target.scopes
    )
    if missing:
        raise RedirectError(
            errors.consent_required(target.app["appId"], target.app_name, "interaction_required")
        )
    return _issue(ctx, target, user, auth_time)


async def authorize_post(ctx: EmulatorContext, request: Request) -> Response:
    segment = request.path_params["tenant"]
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    try:
        target = validate(ctx, segment, form)
    except PageError as err:
        return _error_page(err)
    try:
        check_parameters(ctx, target)
        action = form.get("action")
        if action == "signin":
            user = get_user(ctx, target.tenant_id, form.get("user", ""))
            if user is None:
                return _sign_in_page(ctx, request, target)
            if user.get("accountEnabled") is False:
                raise PageError(errors.user_disabled())
            auth_time = precise_iso(ctx.clock.now())
            response = _continue(ctx, request, target, user, auth_time)
            _set_session(ctx, response, target.tenant_id, user["id"], auth_time)
            return response
        if action == "consent":
            return _consent(ctx, target, form)
        return _sign_in_page(ctx, request, target)
    except RedirectError as err:
        return _error_reply(ctx, target, err.err)
    except PageError as err:
        return _error_page(err)


def _consent(ctx: EmulatorContext, target: Target, form: Mapping[str, str]) -> Response:
    assert target.scopes is not None
    ticket = read_ticket(ctx, form.get("ticket"))
    if ticket is None or ticket.get("t") != target.tenant_id or ticket.get("c") != target.app["appId"]:
        raise PageError(OAuthError(50058, "invalid_request", "The sign-in session expired. Sign in again."))
    user = get_user(ctx, target.tenant_id, str(ticket["u"]))
    if user is None:
        raise PageError(errors.invalid_code())
    if form.get("decision") != "accept":
        raise RedirectError(errors.consent_declined())
    client_sp = ensure_client_service_principal(ctx, target.tenant_id, target.app)
    missing: list[MissingConsent] = missing_consent(
        ctx, target.tenant_id, target.app, client_sp["id"], user["id"], target.scopes
    )
    admin = is_admin_user(user)
    if any(m.needs_admin for m in missing) and not admin:
        raise PageError(errors.admin_consent_required())
    for_org = admin and (form.get("admin_consent") == "true" or any(m.needs_admin for m in missing))
    if missing:
        record_consent(ctx, target.tenant_id, client_sp["id"], user["id"], missing, all_principals=for_org)
    return _issue(ctx, target, user, str(ticket["at"]))


def logout(ctx: EmulatorContext, request: Request) -> Response:
    """End the emulator session; go to post_logout_redirect_uri only when an app of the tenant
    registered it (as a redirect URI or logout URL) — anything else would be an open redirect."""
    target = request.query_params.get("post_logout_redirect_uri")
    if target and not _registered_logout_target(ctx, request.path_params.get("tenant", ""), target):
        target = None
    response: Response = (
        RedirectResponse(target, status_code=302)
        if target
        else HTMLResponse(authorize_page.render_signed_out())
    )
    response.delete_cookie(SESSION_COOKIE)
    return response


def _registered_logout_target(ctx: EmulatorContext, segment: str, target: str) -> bool:
    from provisioner.emulator.identity.directory import resolve_tenant

    tenant_id = resolve_tenant(ctx, segment)
    if tenant_id is None:
        return False
    for app in ctx.store.list(tenant_id, "applications"):
        if match_redirect_uri(app, target) is not None or (app.get("web") or {}).get("logoutUrl") == target:
            return True
    return False
