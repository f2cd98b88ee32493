"""What ``authorize`` and ``verify`` need from a connection file, and where its endpoints really are.

The connection file written by ``apply`` (``<state_dir>/connections/<app>.json``) holds
the client ID, tenant, secret, authorize/token URLs and scope string. Against an
emulator the URLs name the port that emulator had when ``apply`` ran; with
``--emulator`` the CLI starts a fresh in-process emulator on another port, so for a
local target the URLs are rebased onto the running authority (same tenant path) and
TLS trusts the emulator's CA. For Microsoft's clouds the file's URLs are used as written.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from provisioner.core.errors import ProvisionerError
from provisioner.core.layout import default_sink_path, find_connection_files, tenant_key, tenant_scope
from provisioner.model.connections import read_connection_file


def connection_path(state_dir: Path, app: str, target: Any | None = None) -> Path:
    """The app's default connection file: the target tenant's, or the only one the state dir has.

    Connection files are kept per tenant (:mod:`provisioner.core.layout`); a target whose
    tenant is known picks its own, otherwise the app must have exactly one.
    """
    key = tenant_key(target.cloud, target.tenant_id, local=target.is_local) if target is not None else None
    if key is not None:
        with tenant_scope(key):
            return default_sink_path(app, state_dir)
    found = find_connection_files(state_dir, app)
    if len(found) > 1:
        listed = ", ".join(str(p) for p in found)
        raise ProvisionerError(
            f"app {app!r} has connection files for several tenants ({listed}); name the tenant"
        )
    return found[0] if found else Path(state_dir).absolute() / "connections" / f"{app}.json"


def rebase(url: str, authority: str) -> str:
    """``url`` with the scheme and host:port of ``authority`` (path and query kept)."""
    parts, base = urlsplit(url), urlsplit(authority)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def tls_verify(ca_cert_path: str | None) -> ssl.SSLContext | bool:
    """httpx ``verify``: the system store, or a context trusting only the given CA (the emulator's)."""
    return ssl.create_default_context(cafile=ca_cert_path) if ca_cert_path else True


@dataclass(frozen=True)
class ClientConfig:
    """One app's client as the token endpoint sees it. The secret never reaches a repr."""

    app: str
    tenant_id: str
    client_id: str
    authorization_url: str
    token_url: str
    scopes: str = ""
    redirect_uris: tuple[str, ...] = ()
    client_secret: str | None = field(default=None, repr=False)
    verify: ssl.SSLContext | bool = field(default=True, repr=False, compare=False)
    #: The current certificate: the PEM file holding its private key, and its SHA-1 thumbprint (hex).
    certificate_path: str | None = None
    certificate_thumbprint: str | None = None

    @property
    def confidential(self) -> bool:
        return bool(self.client_secret)

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], *, app: str, target: Any | None = None, source: str = ""
    ) -> ClientConfig:
        """Build from connection values; ``target`` (a ``graph.target.Target``) decides rebasing and TLS."""
        missing = [k for k in ("tenant_id", "client_id", "token_url") if not values.get(k)]
        if missing:
            raise ProvisionerError(
                f"connection file {source or app} lacks {', '.join(missing)}; run provisioner apply"
            )
        token_url = str(values["token_url"])
        authorization_url = str(
            values.get("authorization_url") or token_url.rsplit("/token", 1)[0] + "/authorize"
        )
        verify: ssl.SSLContext | bool = True
        if target is not None and getattr(target, "is_local", False):
            authority = str(target.authority_host)
            token_url, authorization_url = rebase(token_url, authority), rebase(authorization_url, authority)
            verify = tls_verify(target.ca_cert_path)
        secret = values.get("client_secret")
        uris = values.get("redirect_uris") or []
        return cls(
            app=app,
            tenant_id=str(values["tenant_id"]),
            client_id=str(values["client_id"]),
            authorization_url=authorization_url,
            token_url=token_url,
            scopes=str(values.get("scopes") or ""),
            redirect_uris=tuple(str(u) for u in uris if isinstance(u, str)),
            client_secret=str(secret) if secret else None,
            verify=verify,
            certificate_path=str(values["client_certificate_path"])
            if values.get("client_certificate_path")
            else None,
            certificate_thumbprint=str(values["client_certificate_thumbprint"])
            if values.get("client_certificate_thumbprint")
            else None,
        )


def load_client_config(state_dir: Path, app: str, *, target: Any | None = None) -> ClientConfig:
    """The app's :class:`ClientConfig` from its connection file; a missing file says to run apply."""
    path = connection_path(state_dir, app, target)
    values = read_connection_file(path)
    if values is None:
        raise ProvisionerError(f"no connection file {path} for app {app!r}; run provisioner apply first")
    return ClientConfig.from_values(values, app=app, target=target, source=str(path))
