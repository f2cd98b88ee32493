"""Connection values: what a product needs to talk to its app registration.

After ``apply`` the tool knows the tenant, the application's client ID and any
secret minted in this run. Products ask for these in different shapes (the
manifests in ``manifests/`` show five of them): some want the tenant-specific v2.0 authorize/token
URLs, multi-tenant products want ``organizations``/``common``, mail products
want a space-separated scope string, daemon products a ``.default`` scope and
the secret *ID* next to its value. :func:`connection_values` builds one flat
dict holding all of them; the sinks decide which keys to write and how.

A client secret's value is returned by Graph exactly once (``addPassword``).
When a run mints nothing, the value only survives in the previous connection
file, so :func:`merge_previous` carries it forward.

Nothing here calls Graph: this module is pure and runs in unit tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provisioner.core.errors import ProvisionerError, SinkError
from provisioner.model.catalog import ALIASES
from provisioner.model.manifest import App

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"

# OpenID Connect scopes are never prefixed with a resource, whatever resource
# publishes them; listed first in this conventional order.
OIDC_SCOPES: tuple[str, ...] = ("openid", "profile", "email", "offline_access")

# Keys whose values are secrets wherever they appear (top level or nested).
# ``access_token``/``refresh_token`` are not produced here but may be added to
# connection files by the token helpers; masking must cover them too.
SECRET_KEYS: frozenset[str] = frozenset(
    {
        "client_secret",
        "sp_client_secret",
        "value",
        "access_token",
        "refresh_token",
        "pfx_password",
        "client_certificate_pfx_password",
    }
)

#: Who a client secret belongs to: the application (registration) or its service principal.
APPLICATION = "application"
SERVICE_PRINCIPAL = "servicePrincipal"


@dataclass(frozen=True)
class SecretKeys:
    """The connection-value keys of one owner's secrets: the current one's value, keyId and expiry, and
    the list of every held secret (carried forward together)."""

    value: str
    key_id: str
    expires: str
    entries: str

    @property
    def current(self) -> tuple[str, str, str]:
        return (self.value, self.key_id, self.expires)


SECRET_KEYS_BY_OWNER: dict[str, SecretKeys] = {
    APPLICATION: SecretKeys("client_secret", "client_secret_id", "client_secret_expires", "secrets"),
    SERVICE_PRINCIPAL: SecretKeys(
        "sp_client_secret", "sp_client_secret_id", "sp_client_secret_expires", "sp_secrets"
    ),
}
# ... and the current certificate (non-secret but for the PFX password; the private key is in a file).
_CERT_FIELDS = (
    "client_certificate_key_id",
    "client_certificate_thumbprint",
    "client_certificate_expires",
    "client_certificate_path",
    "client_certificate_pfx_path",
    "client_certificate_pfx_password",
)

# Every key connection_values() may compute; extra_values may not shadow them
# (a product reading ``scopes`` must get the computed string, not a typo'd override).
COMPUTED_KEYS: frozenset[str] = frozenset(
    {
        "app",
        "display_name",
        "audience",
        "tenant_id",
        "client_id",
        "authority_host",
        "authorization_url",
        "token_url",
        "tenant_authorization_url",
        "tenant_token_url",
        "graph_endpoint",
        "scopes",
        "app_scopes",
        "redirect_uri",
        "redirect_uris",
        *(key for keys in SECRET_KEYS_BY_OWNER.values() for key in (*keys.current, keys.entries)),
        *_CERT_FIELDS,
        "certificates",
        *(
            # product-shaped values (issue 17)
            "scopes_joined",
            "ews_url",
            "imap_host",
            "imap_port",
            "pop_host",
            "pop_port",
            "smtp_host",
            "smtp_port",
        ),
    }
)

#: The keys a ``token_sinks`` entry receives from ``provisioner authorize`` (a template may name any of them).
TOKEN_KEYS: tuple[str, ...] = (
    "app",
    "client_id",
    "tenant_id",
    "token_url",
    "access_token",
    "refresh_token",
    "expires_in",
    "expires_at",
    "scope",
)

#: Exchange Online protocol hosts per login host (public cloud for any other, e.g. the emulator, whose
#: Exchange tokens carry the public audience https://outlook.office365.com).
EXCHANGE_HOSTS: dict[str, tuple[str, str]] = {
    "login.microsoftonline.com": ("outlook.office365.com", "smtp.office365.com"),
    "login.microsoftonline.us": ("outlook.office365.us", "smtp.office365.us"),
    "login.chinacloudapi.cn": ("partner.outlook.cn", "smtp.partner.outlook.cn"),
}
#: Graph delegated permissions that are Exchange protocol permissions (IMAP/POP/SMTP AUTH via OAuth).
EXCHANGE_PROTOCOL_SCOPES: frozenset[str] = frozenset(
    {"imap.accessasuser.all", "pop.accessasuser.all", "smtp.send", "ews.accessasuser.all"}
)


@dataclass(frozen=True)
class MintedSecret:
    """A client secret minted in this run. ``value`` never appears in repr/str (it is a secret)."""

    name: str
    key_id: str
    value: str = field(repr=False)
    hint: str
    expires: datetime
    #: :data:`APPLICATION` or :data:`SERVICE_PRINCIPAL`, and that object's id (a take-back removes it there).
    owner: str = APPLICATION
    owner_id: str | None = None


@dataclass(frozen=True)
class MintedCertificate:
    """A certificate put on the application in this run.

    ``material`` holds a generated certificate's private key (hidden from repr/str; it goes to
    files only); a certificate given by file has none (``provided``). ``private_key_path`` and
    ``pfx_path`` are where delivery writes the key (set by delivery before building values).
    """

    name: str
    key_id: str
    thumbprint: str
    expires: datetime
    material: Any = field(repr=False)
    provided: bool = False
    pfx_password: str | None = field(default=None, repr=False)
    private_key_path: str | None = None
    pfx_path: str | None = None


@dataclass(frozen=True)
class Resource:
    """How a resource API is named in scope strings.

    ``identifier_uri`` is the token audience: app-only tokens ask for
    ``<identifier_uri>/.default``. ``delegated_prefix`` prefixes delegated
    scopes; ``None`` means unprefixed, which the identity platform reads as
    Microsoft Graph. Exchange Online differs between the two on purpose: the
    public scripts and Microsoft's EWS/IMAP docs use ``https://outlook.office.com/<Scope>``
    for delegated and ``https://outlook.office365.com/.default`` for app-only
    (see ``provisioner/data/SOURCES.md``).
    """

    app_id: str
    display_name: str
    identifier_uri: str
    delegated_prefix: str | None

    def delegated_scope(self, scope: str) -> str:
        if scope in OIDC_SCOPES or self.delegated_prefix is None:
            return scope
        return f"{self.delegated_prefix.rstrip('/')}/{scope}"

    @property
    def default_scope(self) -> str:
        return f"{self.identifier_uri.rstrip('/')}/.default"


MICROSOFT_GRAPH = Resource(
    app_id="00000003-0000-0000-c000-000000000000",
    display_name="Microsoft Graph",
    identifier_uri="https://graph.microsoft.com",
    delegated_prefix=None,
)
EXCHANGE_ONLINE = Resource(
    app_id="00000002-0000-0ff1-ce00-000000000000",
    display_name="Office 365 Exchange Online",
    identifier_uri="https://outlook.office365.com",
    delegated_prefix="https://outlook.office.com",
)
KNOWN_RESOURCES: tuple[Resource, ...] = (MICROSOFT_GRAPH, EXCHANGE_ONLINE)


def resolve_resource(key: str, extra: Iterable[Resource] = ()) -> Resource:
    """Find the resource a manifest ``permissions:`` key names (display name or appId).

    ``extra`` lets callers add resources the tool does not know (a custom API
    with its identifier URI read from Graph); they take precedence.
    """
    wanted = key.strip().lower()
    wanted = ALIASES.get(wanted, wanted)  # the short names validate accepts (graph, exchange, ...)
    for resource in (*extra, *KNOWN_RESOURCES):
        if wanted in (resource.app_id.lower(), resource.display_name.lower()):
            return resource
    raise ProvisionerError(
        f"no identifier URI known for resource {key!r}; use 'Microsoft Graph', "
        "'Office 365 Exchange Online' or pass the resource to connection_values(resources=...)"
    )


def iso_utc(moment: datetime) -> str:
    """Graph's timestamp format (``2026-01-01T00:00:00Z``); naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scope_strings(app: App, resources: Iterable[Resource]) -> tuple[str, str]:
    """(delegated scope string, app-only scope string), both space separated.

    OIDC scopes come first, then each resource's scopes in manifest order of
    resources, sorted within a resource so reordering a manifest list does not
    change the connection file.
    """
    extra = tuple(resources)
    oidc: set[str] = set()
    delegated: list[str] = []
    app_only: list[str] = []
    for key, perms in app.permissions.items():
        resource = resolve_resource(key, extra)
        for scope in sorted(set(perms.delegated), key=str.lower):
            if scope in OIDC_SCOPES:
                oidc.add(scope)
            else:
                qualified = resource.delegated_scope(scope)
                if qualified not in delegated:
                    delegated.append(qualified)
        if perms.application and resource.default_scope not in app_only:
            app_only.append(resource.default_scope)
    ordered = [scope for scope in OIDC_SCOPES if scope in oidc] + delegated
    return " ".join(ordered), " ".join(app_only)


def app_only(app: App) -> bool:
    """The app has application permissions and no delegated ones: only client credentials use it."""
    return any(p.application for p in app.permissions.values()) and not any(
        p.delegated for p in app.permissions.values()
    )


def _authority_segment(app: App, tenant_id: str) -> str:
    """The tenant segment of authorize/token URLs: the manifest's ``authority``, else by audience."""
    if app.authority == "tenant":
        return tenant_id
    if app.authority is not None:
        return app.authority
    return app.audience.authority_segment or tenant_id


def exchange_hosts(app: App, authority_host: str, resources: Iterable[Resource] = ()) -> dict[str, Any]:
    """EWS URL and IMAP/POP/SMTP hosts for apps with Exchange Online (or Exchange protocol) permissions.

    Products that speak EWS, IMAP or SMTP AUTH ask for a host next to the token settings; the
    values are Exchange Online's documented endpoints (IMAP 993 and POP 995 over TLS, SMTP 587
    with STARTTLS).
    """
    uses_exchange = False
    extra = tuple(resources)
    for key, perms in app.permissions.items():
        try:
            resource = resolve_resource(key, extra)
        except ProvisionerError:
            continue
        if resource.app_id == EXCHANGE_ONLINE.app_id and (perms.delegated or perms.application):
            uses_exchange = True
        if any(name.lower() in EXCHANGE_PROTOCOL_SCOPES for name in perms.delegated):
            uses_exchange = True
    if not uses_exchange:
        return {}
    login = authority_host.split("://", 1)[-1].split("/", 1)[0].lower()
    mail, smtp = EXCHANGE_HOSTS.get(login, EXCHANGE_HOSTS["login.microsoftonline.com"])
    return {
        "ews_url": f"https://{mail}/EWS/Exchange.asmx",
        "imap_host": mail,
        "imap_port": "993",
        "pop_host": mail,
        "pop_port": "995",
        "smtp_host": smtp,
        "smtp_port": "587",
    }


def _redirect_uris(app: App) -> list[str]:
    uris: list[str] = []
    for uri in (*app.redirect_uris.web, *app.redirect_uris.spa, *app.redirect_uris.public_client):
        if uri not in uris:
            uris.append(uri)
    return uris


def _secret_entry(secret: MintedSecret) -> dict[str, str]:
    return {
        "name": secret.name,
        "key_id": secret.key_id,
        "hint": secret.hint,
        "expires": iso_utc(secret.expires),
        "value": secret.value,
    }


def _certificate_entry(cert: MintedCertificate) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": cert.name,
        "key_id": cert.key_id,
        "thumbprint": cert.thumbprint,
        "expires": iso_utc(cert.expires),
    }
    if cert.provided:
        entry["provided"] = True
    if cert.private_key_path:
        entry["private_key_path"] = cert.private_key_path
    if cert.pfx_path:
        entry["pfx_path"] = cert.pfx_path
        entry["pfx_password"] = cert.pfx_password
    return entry


def _certificate_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``client_certificate_*`` values of one ``certificates[]`` entry."""
    out = {
        "client_certificate_key_id": entry.get("key_id"),
        "client_certificate_thumbprint": entry.get("thumbprint"),
        "client_certificate_expires": entry.get("expires"),
    }
    if entry.get("private_key_path"):
        out["client_certificate_path"] = entry["private_key_path"]
    if entry.get("pfx_path"):
        out["client_certificate_pfx_path"] = entry["pfx_path"]
        out["client_certificate_pfx_password"] = entry.get("pfx_password")
    return out


def _newest(minted: list[MintedSecret]) -> MintedSecret:
    # Latest expiry wins (a rotation's replacement outlives the old secret);
    # on a tie the one minted last in the run.
    best = minted[0]
    for secret in minted[1:]:
        if secret.expires >= best.expires:
            best = secret
    return best


def connection_values(
    app: App,
    *,
    tenant_id: str,
    client_id: str,
    authority_host: str = DEFAULT_AUTHORITY_HOST,
    graph_endpoint: str = DEFAULT_GRAPH_ENDPOINT,
    minted: list[MintedSecret],
    resources: Iterable[Resource] = (),
    certificates: Iterable[MintedCertificate] = (),
) -> dict[str, Any]:
    """Build the connection values of one app (a JSON-serialisable dict).

    Keys that do not apply are absent rather than empty: ``client_secret*``
    and ``secrets`` only when a secret was minted in this run, ``scopes`` /
    ``app_scopes`` only when the app has delegated / application permissions,
    ``redirect_uri(s)`` only when redirect URIs are declared.
    ``app_scopes`` lists one ``.default`` scope per resource; a client
    credentials request takes exactly one of them.
    """
    host = authority_host.rstrip("/")
    segment = _authority_segment(app, tenant_id)
    values: dict[str, Any] = {
        "app": app.name,
        "display_name": app.display_name,
        "audience": app.audience.value,
        "tenant_id": tenant_id,
        "client_id": client_id,
        "authority_host": host,
        "authorization_url": f"{host}/{segment}/oauth2/v2.0/authorize",
        "token_url": f"{host}/{segment}/oauth2/v2.0/token",
        "tenant_authorization_url": f"{host}/{tenant_id}/oauth2/v2.0/authorize",
        "tenant_token_url": f"{host}/{tenant_id}/oauth2/v2.0/token",
        "graph_endpoint": graph_endpoint.rstrip("/"),
    }
    scopes, app_scopes = _scope_strings(app, resources)
    if scopes:
        values["scopes"] = scopes
        if app.scope_separator is not None:
            values["scopes_joined"] = app.scope_separator.join(scopes.split())
    if app_scopes:
        values["app_scopes"] = app_scopes
    if app_only(app):  # client credentials need a tenant: never /common or /organizations
        values["token_url"] = values["tenant_token_url"]
    values.update(exchange_hosts(app, host, resources))
    uris = _redirect_uris(app)
    if uris:
        values["redirect_uri"] = uris[0]
        values["redirect_uris"] = uris
    for owner, keys in SECRET_KEYS_BY_OWNER.items():
        mine = [secret for secret in minted if secret.owner == owner]
        if mine:
            newest = _newest(mine)
            values[keys.value] = newest.value
            values[keys.key_id] = newest.key_id
            values[keys.expires] = iso_utc(newest.expires)
            values[keys.entries] = [_secret_entry(secret) for secret in mine]
    certs = sorted(certificates, key=lambda c: c.expires)
    if certs:
        # The newest certificate is the client's (a rotation's replacement outlives the old one).
        values.update(_certificate_fields(_certificate_entry(certs[-1])))
        values["certificates"] = [_certificate_entry(c) for c in certificates]
    for key, value in app.extra_values.items():
        if key in values or key in COMPUTED_KEYS:
            raise ProvisionerError(
                f"app {app.name!r}: extra_values key {key!r} collides with a computed connection value; rename it"
            )
        values[key] = value
    return values


def mask_secret(value: str) -> str:
    """Portal-style display of a secret: its first 3 characters (Graph's ``hint``) and stars.

    Values too short for a 3-character prefix to be harmless show no prefix.
    """
    return f"{value[:3]}****" if len(value) >= 16 else "****"


def masked(values: Any) -> Any:
    """A copy of ``values`` fit for display: every secret value replaced by :func:`mask_secret`."""
    if isinstance(values, Mapping):
        return {
            key: mask_secret(item) if key in SECRET_KEYS and isinstance(item, str) else masked(item)
            for key, item in values.items()
        }
    if isinstance(values, list):
        return [masked(item) for item in values]
    return values


def merge_previous(
    new: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    *,
    live_key_ids: Collection[str] | None = None,
) -> dict[str, Any]:
    """Carry secret values forward from the previous connection file.

    Graph shows a secret value once, so a run that mints nothing must keep the
    value written last time. Carried forward only when the previous file is for
    the same application (same tenant and client ID: a re-created app
    invalidates old secrets) and, if ``live_key_ids`` is given, only secrets
    Entra still lists. Secrets minted in this run replace previous entries of
    the same name; ``client_secret`` stays the newest one minted in this run.
    """
    merged = dict(new)
    if not previous or any(previous.get(key) != new.get(key) for key in ("tenant_id", "client_id")):
        return merged

    def alive(key_id: object) -> bool:
        return isinstance(key_id, str) and (live_key_ids is None or key_id in live_key_ids)

    for keys in SECRET_KEYS_BY_OWNER.values():
        new_secrets = list(new.get(keys.entries, []))
        new_names = {entry.get("name") for entry in new_secrets}
        kept = [
            dict(entry)
            for entry in previous.get(keys.entries, []) or []
            if isinstance(entry, Mapping)
            and entry.get("name") not in new_names
            and entry.get("value")
            and alive(entry.get("key_id"))
        ]
        if kept or new_secrets:
            merged[keys.entries] = sorted(kept + new_secrets, key=lambda entry: str(entry.get("name")))
        if keys.value not in new and previous.get(keys.value) and alive(previous.get(keys.key_id)):
            for key in keys.current:
                if key in previous:
                    merged[key] = previous[key]
    new_certs = list(new.get("certificates", []))
    new_cert_names = {entry.get("name") for entry in new_certs}
    kept_certs = [
        dict(entry)
        for entry in previous.get("certificates", []) or []
        if isinstance(entry, Mapping)
        and entry.get("name") not in new_cert_names
        and (entry.get("private_key_path") or entry.get("provided"))
        and alive(entry.get("key_id"))
    ]
    if kept_certs or new_certs:
        certs = sorted(kept_certs + new_certs, key=lambda entry: str(entry.get("name")))
        merged["certificates"] = certs
        if "client_certificate_key_id" not in new:
            newest = max(certs, key=lambda entry: str(entry.get("expires") or ""))
            merged.update(_certificate_fields(newest))
    return merged


def read_connection_file(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The previous connection values at ``path``, or None when there is no such file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SinkError(f"cannot read connection file {file}: {exc.strerror or type(exc).__name__}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The decoder's message names a position, never the content.
        raise SinkError(
            f"connection file {file} is not valid JSON (line {exc.lineno}); delete or fix it"
        ) from None
    if not isinstance(data, dict):
        raise SinkError(f"connection file {file} does not hold a JSON object; delete or fix it")
    return data
