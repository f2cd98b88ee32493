"""``provisioner authorize``: authorization code + PKCE (S256) + ``state`` on a loopback redirect.

Steps: pick the loopback redirect URI the manifest registers (:mod:`loopback`), listen
on it, send the browser to the v2.0 authorize URL (``response_mode=query``, the
connection file's scope string, optional ``prompt``/``login_hint``), wait (bounded)
for the redirect, check ``state``, redeem the code at the token endpoint with the PKCE
verifier - plus the client secret when the redirect URI is on the web platform
(confidential client); public-client URIs send none - and write the token file.

The code is redeemed for the first resource of the scope string (the endpoint issues
one resource per token; the refresh token works for every consented resource).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt

from provisioner.core.errors import ProvisionerError
from provisioner.manifest.loader import LoadedApp
from provisioner.model.redirects import normalize
from provisioner.oauth.client_config import ClientConfig
from provisioner.oauth.loopback import LoopbackListener, RegisteredLoopback, choose_redirect
from provisioner.oauth.pkce import PkcePair, new_state
from provisioner.oauth.scopes import group_scopes
from provisioner.oauth.token_client import TokenClient
from provisioner.oauth.token_errors import AuthorizationFailed
from provisioner.oauth.token_file import build_token_file, write_token_file

DEFAULT_TIMEOUT_SECONDS = 300.0
PROMPTS = ("login", "consent")
Notice = Callable[[str], None]


def select_app(apps: Sequence[LoadedApp], name: str | None, *, command: str) -> LoadedApp:
    """The app named ``name``; without a name, the only app (several apps need --app)."""
    if name is None:
        if len(apps) == 1:
            return apps[0]
        names = ", ".join(a.app.name for a in apps) or "none"
        raise ProvisionerError(f"{command} needs --app NAME when the manifests hold several apps ({names})")
    for loaded in apps:
        if loaded.app.name == name:
            return loaded
    names = ", ".join(a.app.name for a in apps) or "none"
    raise ProvisionerError(f"no app named {name!r} in the manifests (apps: {names})")


def authorize_url(
    config: ClientConfig,
    *,
    redirect_uri: str,
    scope: str,
    state: str,
    pkce: PkcePair,
    prompt: str | None = None,
    login_hint: str | None = None,
) -> str:
    params = {
        "client_id": config.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "response_mode": "query",
        "scope": scope,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    if prompt:
        params["prompt"] = prompt
    if login_hint:
        params["login_hint"] = login_hint
    return f"{config.authorization_url}?{urlencode(params)}"


@dataclass(frozen=True)
class AuthorizeResult:
    """What ``authorize`` prints (never a token)."""

    app: str
    token_file: Path
    client_id: str
    tenant_id: str
    scope: str
    expires_at: int
    redirect_uri: str
    user: str | None
    has_refresh_token: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "token_file": str(self.token_file),
            "client_id": self.client_id,
            "tenant_id": self.tenant_id,
            "user": self.user,
            "scope": self.scope,
            "expires_at": self.expires_at,
            "redirect_uri": self.redirect_uri,
            "refresh_token": self.has_refresh_token,
        }


def _check_registered(loaded: LoadedApp, config: ClientConfig, chosen: RegisteredLoopback) -> None:
    if chosen.platform == "web" and not config.confidential:
        raise ProvisionerError(
            f"app {loaded.app.name!r}: the loopback redirect URI {chosen.uri} is on the web platform, which "
            "needs the client secret, but the connection file has none; run provisioner rotate, or register "
            "the URI under redirect_uris.public_client"
        )
    applied = {normalize(u) for u in config.redirect_uris}
    if applied and normalize(chosen.uri) not in applied:
        raise ProvisionerError(
            f"app {loaded.app.name!r}: redirect URI {chosen.uri} is in the manifest but not in the tenant yet; "
            "run provisioner apply first"
        )


def _listen(chosen: RegisteredLoopback, port: int | None, state: str, notice: Notice) -> LoopbackListener:
    wanted = port if port is not None else (chosen.port or 0)
    listener = LoopbackListener(chosen.host, wanted, chosen.path, chosen.query, state)
    try:
        return listener.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port is not None or wanted == 0:
            raise ProvisionerError(
                f"cannot listen on {chosen.host}:{wanted} for the redirect: {exc.strerror or exc}; "
                "pass --redirect-port 0 for any free port"
            ) from None
    notice(
        f"port {wanted} is in use; listening on a free port instead "
        "(Entra ignores the port of loopback redirect URIs)"
    )
    listener = LoopbackListener(chosen.host, 0, chosen.path, chosen.query, state)
    return listener.start()


def _user_of(access_token: str) -> str | None:
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    value = claims.get("preferred_username") or claims.get("upn")
    return str(value) if value else None


def run_authorize(
    loaded: LoadedApp,
    config: ClientConfig,
    *,
    token_path: Path,
    open_url: Callable[[str], None],
    redirect_port: int | None = None,
    prompt: str | None = None,
    login_hint: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    notice: Notice = lambda message: None,
) -> AuthorizeResult:
    """Run the whole flow for one app and write ``token_path``; see the module docstring."""
    if prompt is not None and prompt not in PROMPTS:
        raise ProvisionerError(f"--prompt must be one of {', '.join(PROMPTS)}")
    groups = group_scopes(config.scopes)
    if not groups.resources and not groups.oidc:
        raise ProvisionerError(
            f"app {loaded.app.name!r} declares no delegated permissions; authorize has nothing to ask for"
        )
    if "offline_access" not in groups.oidc:
        notice("the app does not request offline_access: the token file will hold no refresh token")
    chosen = choose_redirect(loaded, confidential=config.confidential)
    _check_registered(loaded, config, chosen)
    state, pkce = new_state(), PkcePair.generate()
    listener = _listen(chosen, redirect_port, state, notice)
    try:
        redirect_uri = chosen.with_port(listener.port)
        open_url(
            authorize_url(
                config,
                redirect_uri=redirect_uri,
                scope=config.scopes,
                state=state,
                pkce=pkce,
                prompt=prompt,
                login_hint=login_hint,
            )
        )
        callback = listener.wait(timeout)
    finally:
        listener.close()
    if callback.error or not callback.code:
        detail = callback.error_description.replace("\r", "\n").split("\n", 1)[0].strip()
        raise AuthorizationFailed(
            f"sign-in did not complete: {callback.error or 'no code'}"
            + (f" ({detail})" if detail else "")
            + "; run provisioner authorize again",
            error=callback.error,
        )
    with TokenClient(config.token_url, verify=config.verify) as client:
        response = client.redeem_code(
            client_id=config.client_id,
            code=callback.code,
            redirect_uri=redirect_uri,
            code_verifier=pkce.verifier,
            scope=groups.for_resource(0),
            client_secret=config.client_secret if chosen.platform == "web" else None,
        )
    wanted_refresh = "offline_access" in groups.oidc or any(
        "offline_access" in grants.delegated for grants in loaded.app.permissions.values()
    )
    if wanted_refresh and not response.get("refresh_token"):
        # A product given this file would stop working after an hour: fail instead of writing it
        asked = "offline_access" in groups.oidc
        raise ProvisionerError(
            f"app {loaded.app.name!r}: the token endpoint returned no refresh token although the manifest "
            "asks for offline_access"
            + (
                "; check that offline_access is consented for the app (admin_consent) and run provisioner "
                "authorize again"
                if asked
                else "; the connection values' scopes lack it: run provisioner apply, then authorize again"
            )
        )
    data = build_token_file(
        response, client_id=config.client_id, tenant_id=config.tenant_id, token_url=config.token_url
    )
    write_token_file(token_path, data)
    return AuthorizeResult(
        app=loaded.app.name,
        token_file=token_path,
        client_id=config.client_id,
        tenant_id=config.tenant_id,
        scope=str(data["scope"]),
        expires_at=int(data["expires_at"]),
        redirect_uri=redirect_uri,
        user=_user_of(str(response["access_token"])),
        has_refresh_token=bool(data["refresh_token"]),
    )
