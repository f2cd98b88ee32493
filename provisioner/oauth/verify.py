"""``provisioner verify``: do the emitted connection values actually work, with every permission?

Per app, with the connection file's values:

* application permissions - a client-credentials token per resource
  (``<resource>/.default``: Graph ``https://graph.microsoft.com/.default``, Exchange
  ``https://outlook.office365.com/.default``); every declared permission must be in ``roles``;
* a confidential client without application permissions still gets one client-credentials
  request (Graph ``.default``): it proves the secret is valid and not expired;
* delegated permissions - when a token file exists, its refresh token is redeemed once per
  resource; every declared scope (OIDC names aside: they never appear in ``scp``) must be in
  ``scp``. Refresh tokens rotate, so the newest one is written back atomically. A token file
  issued to another client ID (the app was re-created) is reported as invalidated without
  being sent anywhere.

JWT claims are decoded without checking the signature: the token came straight from the
token endpoint over TLS, and only the claims are of interest. Failures are typed
(:mod:`provisioner.oauth.token_errors`) and end up as one-line, actionable rows; no token or secret
value is ever part of a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt

from provisioner.core.errors import ProvisionerError
from provisioner.manifest.loader import LoadedApp
from provisioner.model.connections import MICROSOFT_GRAPH, OIDC_SCOPES, Resource, resolve_resource
from provisioner.oauth.client_config import ClientConfig
from provisioner.oauth.loopback import choose_redirect
from provisioner.oauth.token_client import TokenClient
from provisioner.oauth.token_errors import TokenError, TokenInvalidated
from provisioner.oauth.token_file import build_token_file, read_token_file, write_token_file

Status = Literal["ok", "gap", "error", "skipped"]
CheckKind = Literal["connection", "secret", "certificate", "application", "delegated"]


@dataclass
class Check:
    """One row of the report."""

    kind: CheckKind
    resource: str
    status: Status
    message: str
    expected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    error: str | None = None  # TokenError.kind, e.g. "revoked", "expired", "secret_expired"

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.kind,
            "resource": self.resource,
            "status": self.status,
            "expected": self.expected,
            "missing": self.missing,
            "error": self.error,
            "message": self.message,
        }


@dataclass
class AppReport:
    app: str
    client_id: str | None = None
    token_file: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "ok": self.ok,
            "client_id": self.client_id,
            "token_file": self.token_file,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class VerifyReport:
    apps: list[AppReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(app.ok for app in self.apps)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "apps": [a.to_dict() for a in self.apps]}


def claims_of(access_token: str) -> dict[str, Any]:
    """Unverified JWT claims (see the module docstring); a non-JWT token yields no claims."""
    try:
        return dict(jwt.decode(access_token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return {}


def _missing(expected: list[str], present: list[str]) -> list[str]:
    have = {p.lower() for p in present}
    return [e for e in expected if e.lower() not in have]


def _error_check(kind: CheckKind, resource: str, exc: ProvisionerError, expected: list[str]) -> Check:
    return Check(
        kind=kind,
        resource=resource,
        status="error",
        message=str(exc),
        expected=expected,
        error=getattr(exc, "kind", "error"),
    )


@dataclass(frozen=True)
class _Declared:
    resource: Resource
    key: str
    application: list[str]
    delegated: list[str]  # without OIDC names


def _declared(loaded: LoadedApp) -> list[_Declared]:
    out = []
    for key, perms in loaded.app.permissions.items():
        resource = resolve_resource(key)
        delegated = [s for s in perms.delegated if s.lower() not in OIDC_SCOPES]
        out.append(_Declared(resource, key, list(perms.application), delegated))
    return out


def _sends_secret(loaded: LoadedApp, config: ClientConfig) -> bool:
    """Refresh like authorize redeemed: with the secret for a web (confidential) redirect URI."""
    if not config.confidential:
        return False
    try:
        return choose_redirect(loaded, confidential=True).platform == "web"
    except ProvisionerError:
        return True


def verify_app(
    loaded: LoadedApp,
    config: ClientConfig,
    *,
    token_path: Path,
    client_factory: Callable[[ClientConfig], TokenClient] | None = None,
) -> AppReport:
    """Run every check of one app (see the module docstring)."""
    report = AppReport(app=loaded.app.name, client_id=config.client_id)
    try:
        declared = _declared(loaded)
    except ProvisionerError as exc:
        report.checks.append(_error_check("connection", "-", exc, []))
        return report
    make_client = client_factory or (lambda c: TokenClient(c.token_url, verify=c.verify))
    with make_client(config) as client:
        report.checks += _application_checks(declared, config, client)
        delegated = [d for d in declared if d.delegated]
        if delegated:
            report.token_file = str(token_path)
            report.checks += _delegated_checks(loaded, delegated, config, client, token_path)
    if not report.checks:
        report.checks.append(
            Check("connection", "-", "skipped", "no permissions and no client secret: nothing to check")
        )
    return report


def _client_auth(config: ClientConfig) -> Callable[[], dict[str, str]] | None:
    """How the client authenticates: its secret, else a fresh assertion signed with its certificate's key."""
    if config.client_secret:
        secret = config.client_secret
        return lambda: {"client_secret": secret}
    if config.certificate_path and config.certificate_thumbprint:
        from provisioner.oauth.assertion import client_assertion

        path, thumbprint = config.certificate_path, config.certificate_thumbprint
        return lambda: {
            "client_assertion": client_assertion(
                key_path=path, thumbprint=thumbprint, client_id=config.client_id, token_url=config.token_url
            )
        }
    return None


def _application_checks(declared: list[_Declared], config: ClientConfig, client: TokenClient) -> list[Check]:
    with_roles = [d for d in declared if d.application]
    auth = _client_auth(config)
    kind: CheckKind = "secret" if config.client_secret else "certificate"
    if auth is None:
        return [
            Check(
                "application",
                d.resource.display_name,
                "error",
                "the connection file holds no client_secret or certificate for application permissions; run "
                "provisioner rotate",
                expected=d.application,
                error="no_secret",
            )
            for d in with_roles
        ]
    accepted = (
        "client secret accepted"
        if kind == "secret"
        else f"certificate {config.certificate_thumbprint} accepted (signed client assertion)"
    )
    if not with_roles:
        # Delegated-only confidential client: still prove the credential works.
        try:
            client.client_credentials(
                client_id=config.client_id, scope=MICROSOFT_GRAPH.default_scope, **auth()
            )
        except (TokenError, ProvisionerError) as exc:
            return [_error_check(kind, MICROSOFT_GRAPH.display_name, exc, [])]
        return [Check(kind, MICROSOFT_GRAPH.display_name, "ok", accepted)]
    checks: list[Check] = []
    for d in with_roles:
        name = d.resource.display_name
        try:
            response = client.client_credentials(
                client_id=config.client_id, scope=d.resource.default_scope, **auth()
            )
            if kind == "certificate" and not any(c.kind == "certificate" for c in checks):
                checks.append(Check("certificate", name, "ok", accepted))
        except (TokenError, ProvisionerError) as exc:
            checks.append(_error_check("application", name, exc, d.application))
            continue
        roles = claims_of(str(response["access_token"])).get("roles") or []
        missing = _missing(d.application, [str(r) for r in roles])
        if missing:
            checks.append(
                Check(
                    "application",
                    name,
                    "gap",
                    f"not in the token's roles: {', '.join(missing)}; grant admin consent "
                    "(admin_consent: true) and run provisioner apply",
                    expected=d.application,
                    missing=missing,
                )
            )
        else:
            checks.append(
                Check("application", name, "ok", f"{len(d.application)} in roles", expected=d.application)
            )
    return checks


def _delegated_checks(
    loaded: LoadedApp,
    delegated: list[_Declared],
    config: ClientConfig,
    client: TokenClient,
    token_path: Path,
) -> list[Check]:
    app = loaded.app.name
    try:
        stored = read_token_file(token_path)
    except ProvisionerError as exc:
        return [_error_check("delegated", d.resource.display_name, exc, d.delegated) for d in delegated]
    if stored is None:
        return [
            Check(
                "delegated",
                d.resource.display_name,
                "skipped",
                f"no token file {token_path}; run provisioner authorize --app {app} to check delegated access",
                expected=d.delegated,
            )
            for d in delegated
        ]
    problem = _stale(stored, config)
    if problem is not None:
        return [_error_check("delegated", d.resource.display_name, problem, d.delegated) for d in delegated]
    secret = config.client_secret if _sends_secret(loaded, config) else None
    refresh_token = str(stored["refresh_token"])
    first: dict[str, Any] | None = None
    checks: list[Check] = []
    for d in delegated:
        name = d.resource.display_name
        scope = " ".join(d.resource.delegated_scope(s) for s in d.delegated)
        try:
            response = client.refresh(
                client_id=config.client_id, refresh_token=refresh_token, scope=scope, client_secret=secret
            )
        except TokenError as exc:
            checks.append(_error_check("delegated", name, exc, d.delegated))
            # A revoked/expired refresh token or a bad secret fails every resource alike.
            break
        refresh_token = str(response.get("refresh_token") or refresh_token)
        first = first or response
        scp = str(claims_of(str(response["access_token"])).get("scp") or "").split()
        missing = _missing(d.delegated, scp)
        if missing:
            checks.append(
                Check(
                    "delegated",
                    name,
                    "gap",
                    f"not in the token's scp: {', '.join(missing)}; run provisioner apply (consent), then "
                    f"provisioner authorize --app {app} --prompt consent",
                    expected=d.delegated,
                    missing=missing,
                )
            )
        else:
            checks.append(Check("delegated", name, "ok", f"{len(d.delegated)} in scp", expected=d.delegated))
    if first is not None:
        data = build_token_file(
            first,
            client_id=config.client_id,
            tenant_id=config.tenant_id,
            token_url=config.token_url,
            previous=stored,
        )
        data["refresh_token"] = refresh_token
        write_token_file(token_path, data)
    return checks


def _stale(stored: dict[str, Any], config: ClientConfig) -> TokenError | None:
    """Why a stored token file cannot belong to this connection any more (checked before any request)."""
    stored_client = stored.get("client_id")
    if stored_client and stored_client != config.client_id:
        return TokenInvalidated(
            f"token file is invalidated: issued to client ID {stored_client}, the connection has "
            f"{config.client_id} (client ID changed; re-run provisioner authorize)"
        )
    stored_tenant = stored.get("tenant_id")
    if stored_tenant and str(stored_tenant).lower() != config.tenant_id.lower():
        return TokenInvalidated(
            f"token file was issued in tenant {stored_tenant}, the connection is for {config.tenant_id}; "
            "re-run provisioner authorize"
        )
    if not stored.get("refresh_token"):
        return TokenError(
            "the token file holds no refresh token (the app lacks offline_access); add offline_access to "
            "its delegated permissions, run provisioner apply, then provisioner authorize"
        )
    return None


def connection_error(app: str, exc: ProvisionerError) -> AppReport:
    """A report for an app whose connection file is missing or unusable."""
    return AppReport(app=app, checks=[_error_check("connection", "connection file", exc, [])])
