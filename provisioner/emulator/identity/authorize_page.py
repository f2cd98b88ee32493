"""HTML for the emulator's sign-in, consent and error pages.

Plain forms, no JavaScript (except the optional auto-submit of ``form_post``), so
they work with a headless browser, with httpx, and with a person clicking through.
Stable ``id``/``name`` attributes are part of the contract for test automation:
sign-in buttons ``name="user"`` (value = user id, ``data-upn`` = UPN), consent buttons
``name="decision"`` (``accept`` / ``cancel``), the admin box ``name="admin_consent"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from provisioner.emulator.identity.errors import OAuthError
from provisioner.emulator.identity.permissions import MissingConsent

_STYLE = """
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{max-width:440px;margin:48px auto;background:#fff;padding:32px 40px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:1.5rem;font-weight:600;margin:.2em 0 .8em}
.brand{font-size:.9rem;color:#5e5e5e}
.account{display:block;width:100%;text-align:left;padding:10px 12px;margin:6px 0;border:1px solid #ccc;
background:#fff;font-size:1rem;cursor:pointer}
.account:hover,.account.hint{border-color:#0067b8;background:#f3f9fd}
.account small{display:block;color:#5e5e5e}
ul.scopes{padding-left:1.2em}
ul.scopes li{margin:.4em 0}
.admin{font-size:.8rem;color:#a4262c}
.buttons{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}
.buttons button{padding:6px 24px;font-size:1rem;border:1px solid #8c8c8c;background:#ccc;cursor:pointer}
.buttons button.primary{background:#0067b8;color:#fff;border-color:#0067b8}
.error code{font-size:1rem}
.details{font-size:.8rem;color:#5e5e5e;word-break:break-word}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _hidden(fields: Mapping[str, str | None]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in fields.items()
        if v is not None
    )


def render_sign_in(
    *,
    action: str,
    app_name: str,
    tenant_name: str,
    users: Iterable[dict[str, Any]],
    hidden: Mapping[str, str | None],
    login_hint: str | None,
) -> str:
    hint = (login_hint or "").lower()
    buttons = []
    for user in users:
        upn = str(user.get("userPrincipalName") or "")
        enabled = user.get("accountEnabled") is not False
        css = "account hint" if hint and upn.lower() == hint else "account"
        buttons.append(
            f'<button class="{css}" type="submit" name="user" value="{escape(str(user["id"]))}" '
            f'data-upn="{escape(upn)}"{"" if enabled else " disabled"}>'
            f"{escape(str(user.get('displayName') or upn))}<small>{escape(upn)}</small></button>"
        )
    accounts = "".join(buttons) or "<p>This tenant has no users.</p>"
    body = (
        f'<div class="brand">provisioner emulator &middot; {escape(tenant_name)}</div>'
        "<h1>Pick an account</h1>"
        f"<p>to continue to <strong>{escape(app_name)}</strong></p>"
        f'<form id="signin" method="post" action="{escape(action)}">'
        f'<input type="hidden" name="action" value="signin">{_hidden(hidden)}{accounts}</form>'
    )
    return _page("Sign in to your account", body)


def render_consent(
    *,
    action: str,
    app_name: str,
    user: dict[str, Any],
    missing: list[MissingConsent],
    hidden: Mapping[str, str | None],
    ticket: str,
    can_consent_for_org: bool,
) -> str:
    items = []
    for group in missing:
        resource = str(group.sp.get("displayName") or group.sp.get("appId"))
        for scope in group.scopes:
            label = (
                scope.get("userConsentDisplayName") or scope.get("adminConsentDisplayName") or scope["value"]
            )
            admin = (
                ' <span class="admin">(admin consent required)</span>' if scope.get("type") == "Admin" else ""
            )
            items.append(
                f'<li data-scope="{escape(scope["value"])}">{escape(str(label))}{admin}'
                f"<br><small>{escape(resource)}: {escape(scope['value'])}</small></li>"
            )
    org_box = (
        '<p><label><input type="checkbox" name="admin_consent" value="true"> '
        "Consent on behalf of your organization</label></p>"
        if can_consent_for_org
        else ""
    )
    body = (
        f'<div class="brand">{escape(str(user.get("userPrincipalName") or ""))}</div>'
        "<h1>Permissions requested</h1>"
        f"<p><strong>{escape(app_name)}</strong> would like to:</p>"
        f'<ul class="scopes">{"".join(items)}</ul>'
        f'<form id="consent" method="post" action="{escape(action)}">'
        f'<input type="hidden" name="action" value="consent">'
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">{_hidden(hidden)}{org_box}'
        '<p class="details">Accepting lets this app use the data and permissions listed above.</p>'
        '<div class="buttons"><button type="submit" name="decision" value="cancel">Cancel</button>'
        '<button class="primary" type="submit" name="decision" value="accept">Accept</button></div></form>'
    )
    return _page("Permissions requested", body)


def render_error(
    err: OAuthError,
    *,
    title: str = "Sorry, but we're having trouble signing you in.",
    back_url: str | None = None,
) -> str:
    back = (
        f'<p><a id="back" href="{escape(back_url)}">Return to the application without granting consent</a></p>'
        if back_url
        else ""
    )
    body = (
        '<div class="brand">provisioner emulator</div>'
        f'<h1 class="error">{escape(title)}</h1>'
        f'<p id="error-code" data-error="{escape(err.error)}" data-code="{err.code}">'
        f"<code>AADSTS{err.code}</code>: {escape(err.message)}</p>{back}"
    )
    return _page("Sign in error", body)


def render_form_post(redirect_uri: str, fields: Mapping[str, str | None]) -> str:
    """response_mode=form_post: a form the browser submits to the app (auto-submit if JS is on)."""
    body = (
        f'<form id="response" method="post" action="{escape(redirect_uri)}">{_hidden(fields)}'
        "<noscript><p>Script is disabled. Click Submit to continue.</p>"
        '<button type="submit">Submit</button></noscript></form>'
        "<script>document.getElementById('response').submit()</script>"
    )
    return _page("Working...", body)


def render_signed_out() -> str:
    return _page("Signed out", "<h1>You signed out of your account</h1><p>You can close this window.</p>")
