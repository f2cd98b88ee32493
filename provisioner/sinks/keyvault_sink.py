"""Azure Key Vault sink: the current client secret (and generated certificate) as vault secrets.

``azure-keyvault-secrets`` is an optional extra (``provisioner[keyvault]``),
imported only when a manifest uses this sink, so plain installs stay small.
The vault secret carries its provenance in tags — ``keyId`` (which Entra
secret the value is), ``expires``, ``app``, ``clientId``, ``tenantId`` — so
``held_key_id`` can answer "which secret does the vault hold" from the tag
without comparing values. ``expires_on`` mirrors the Entra expiry so Key
Vault's own expiry monitoring sees the same date.

Only the secret goes to the vault (the other connection values are not
secret). When the values carry no secret, nothing is written.

An app with a generated certificate also gets a second vault secret (``certificate_name``,
default ``<secret name>-certificate``) holding the PEM of its newest certificate — private key
and certificate, content type ``application/x-pem-file``, the form Key Vault itself gives a
PEM-backed certificate's secret — tagged ``keyId`` (the key credential), ``thumbprint``,
``expires``, ``app``, ``clientId``, ``tenantId``. The PEM is read from the key file delivery wrote
just before (the connection values carry its path, never the key). :func:`held_key_ids` reads both
tags, so rotation counts the vault as a holder of the certificate exactly as of the secret.

A loopback ``vault_url`` is the emulator's vault (``provisioner emulator serve``
serves one at its own URL): the SDK would refuse its challenge, whose resource
``https://vault.azure.net`` is not a suffix of ``localhost``, so such a client
gets ``verify_challenge_resource=False``, and the default credential skips
instance discovery; both trust ``PROVISIONER_CA_CERT``. The token authority is
``AZURE_AUTHORITY_HOST``, which azure-identity reads itself. Real vault hosts
keep every check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceNotFoundError  # azure-core ships with azure-identity

from provisioner.core import settings
from provisioner.core.errors import SinkError
from provisioner.model.manifest import KEYVAULT_SECRET_NAME, App, KeyVaultSink
from provisioner.sinks.common import DeliveryReceipt, held_secret_id, reason

CONTENT_TYPE = "application/vnd.provisioner.client-secret"
#: What Key Vault sets on the secret behind a PEM-backed certificate (``CertificateContentType.Pem``).
CERTIFICATE_CONTENT_TYPE = "application/x-pem-file"


def secret_name(sink: KeyVaultSink, app: App) -> str:
    """The vault secret name; the default replaces characters Key Vault refuses ('.', '_') by '-'.

    ``mail.sync``, ``mail_sync`` and ``mail-sync`` share a default name (and Key Vault names ignore
    case): ``validate`` refuses two sinks that meet in one vault secret.
    """
    name = sink.name_for(app.name)
    if not KEYVAULT_SECRET_NAME.match(name):  # the model checks this; kept for models built in code
        raise SinkError(
            f"app {app.name!r}: Key Vault secret name {name!r} may hold only letters, digits and '-'"
        )
    return name


def extra_missing() -> bool:
    """True when the optional ``azure-keyvault-secrets`` package is not installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("azure.keyvault.secrets") is None
    except ModuleNotFoundError:  # the azure.keyvault namespace itself is missing
        return True


def delivers_certificate(app: App) -> bool:
    """True when the app declares a generated certificate (one given by ``file`` has no key to store)."""
    return any(cert.file is None for cert in app.certificates or [])


def certificate_secret_name(sink: KeyVaultSink, app: App) -> str:
    """The vault secret name of the app's generated certificate (``certificate_name`` or the default)."""
    name = sink.certificate_name_for(app.name)
    if not KEYVAULT_SECRET_NAME.match(name):  # a long default name; validate says so at file:line
        raise SinkError(
            f"app {app.name!r}: Key Vault certificate secret name {name!r} is longer than 127 characters "
            "or holds characters other than letters, digits and '-'; set certificate_name"
        )
    return name


def describe(sink: KeyVaultSink, app: App) -> str:
    """The vault secret(s) the sink writes: the client secret's, and the certificate's when there is one."""
    url = sink.vault_url.rstrip("/")
    if not delivers_certificate(app):
        return f"Key Vault {url}/secrets/{secret_name(sink, app)}"
    cert = f"{url}/secrets/{certificate_secret_name(sink, app)}"
    if not app.secrets:
        return f"Key Vault {cert}"
    return f"Key Vault {url}/secrets/{secret_name(sink, app)} and {cert}"


def _is_loopback(vault_url: str) -> bool:
    host = urlsplit(vault_url).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_options(vault_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(client kwargs, credential kwargs) for the emulator's vault; empty for a real vault."""
    if not _is_loopback(vault_url):
        return {}, {}
    verify = {"connection_verify": ca} if (ca := settings.env(settings.CA_CERT)) else {}
    return {"verify_challenge_resource": False, **verify}, {"disable_instance_discovery": True, **verify}


def _client(sink: KeyVaultSink, app: App, credential: Any | None) -> Any:
    try:
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise SinkError(
            f"app {app.name!r}: the keyvault sink needs the optional extra; "
            "install provisioner[keyvault] (pip install 'provisioner[keyvault]')"
        ) from None
    client_options, credential_options = _local_options(sink.vault_url)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(**credential_options)
    return SecretClient(vault_url=sink.vault_url, credential=credential, **client_options)


def deliver(
    sink: KeyVaultSink, app: App, values: Mapping[str, Any], *, credential: Any | None = None
) -> DeliveryReceipt:
    """Set the vault secret(s) (a new version unless the current one already is this) with provenance tags.

    ``credential`` defaults to DefaultAzureCredential.
    """
    where = describe(sink, app)
    key_id = held_secret_id(values)
    certificate = _current_certificate(app, values)
    if key_id is None and certificate is None:
        return DeliveryReceipt(where, held_key_id(sink, app, credential=credential))
    client = _client(sink, app, credential)
    common = {
        "app": app.name,
        "clientId": str(values.get("client_id", "")),
        "tenantId": str(values.get("tenant_id", "")),
    }
    if key_id is not None:
        expires_text = str(values.get("client_secret_expires", ""))
        tags = {"keyId": key_id, "expires": expires_text, **common}
        _set(
            client,
            sink,
            app,
            secret_name(sink, app),
            str(values["client_secret"]),
            tags,
            CONTENT_TYPE,
            values,
        )
    if certificate is not None:
        pem = _read_pem(app, certificate)
        if pem is not None:
            tags = {
                "keyId": str(certificate["key_id"]),
                "thumbprint": str(certificate.get("thumbprint") or ""),
                "expires": str(certificate.get("expires") or ""),
                **common,
            }
            name = certificate_secret_name(sink, app)
            _set(client, sink, app, name, pem, tags, CERTIFICATE_CONTENT_TYPE, values)
    if key_id is None and app.secrets:  # a run whose values carry no secret: the vault keeps its own
        return DeliveryReceipt(where, _tag_key_id(client, app, secret_name(sink, app), _where(sink, app)))
    return DeliveryReceipt(where, key_id)


def _set(
    client: Any,
    sink: KeyVaultSink,
    app: App,
    name: str,
    value: str,
    tags: Mapping[str, str],
    content_type: str,
    values: Mapping[str, Any],
) -> None:
    """One vault secret: a new version with ``tags`` and ``expires_on`` unless the current one is this."""
    if _current_version_matches(client, name, value, tags, content_type):
        return
    expires_on = None
    if tags.get("expires"):
        try:
            expires_on = datetime.fromisoformat(tags["expires"].replace("Z", "+00:00"))
        except ValueError:
            expires_on = None
    try:
        client.set_secret(name, value, tags=dict(tags), content_type=content_type, expires_on=expires_on)
    except Exception as exc:  # azure-core raises many types; all become one SinkError
        # the value and each of its lines (a PEM) are scrubbed before reason() cuts the message short
        scrub = [{"value": value}, *({"value": line} for line in value.splitlines() if len(line) >= 16)]
        text = reason(exc, {"connection": values, "written": scrub})
        raise SinkError(f"app {app.name!r}: cannot set {_where(sink, app, name)}: {text}") from None


def _current_certificate(app: App, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The newest generated certificate of ``values`` (the one the client signs with), or None.

    Only for an app that declares a generated certificate: its entry names the key file.
    """
    if not delivers_certificate(app):
        return None
    entries = [
        entry
        for entry in values.get("certificates") or []
        if isinstance(entry, Mapping)
        and not entry.get("provided")
        and isinstance(entry.get("key_id"), str)
        and isinstance(entry.get("private_key_path"), str)
    ]
    return max(entries, key=lambda entry: str(entry.get("expires") or "")) if entries else None


def _read_pem(app: App, certificate: Mapping[str, Any]) -> str | None:
    """The key file's PEM (private key and certificate); None when the file is gone (its key is lost).

    A lost key file leaves the vault's version as it is: that version still holds a working key
    until rotation replaces the certificate.
    """
    from pathlib import Path

    path = Path(str(certificate["private_key_path"]))
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SinkError(
            f"app {app.name!r}: cannot read the private key file {path} for Key Vault: "
            f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__}"
        ) from None


def _current_version_matches(
    client: Any, name: str, value: str, tags: Mapping[str, str], content_type: str = CONTENT_TYPE
) -> bool:
    """True when the vault's current version already is this delivery (same value, same provenance).

    Re-running ``apply`` must not add a vault version for nothing: every new version notifies
    whatever watches the vault (Event Grid ``SecretNewVersionCreated``, apps that reload on a
    change). A failed read means "write it": the write then reports its own error.
    """
    try:
        current = client.get_secret(name)
    except Exception:  # not found, forbidden (set-only access), network: write as usual
        return False
    return (
        current.value == value
        and current.properties.content_type == content_type
        and (current.properties.tags or {}) == dict(tags)
    )


def held_key_id(sink: KeyVaultSink, app: App, *, credential: Any | None = None) -> str | None:
    """The ``keyId`` tag of the client secret's current vault version (None when there is none)."""
    client = _client(sink, app, credential)
    return _tag_key_id(client, app, secret_name(sink, app), _where(sink, app))


def held_key_ids(sink: KeyVaultSink, app: App, *, credential: Any | None = None) -> frozenset[str]:
    """Lower-case keyIds the vault holds for ``app``: the client secret's and the certificate's tag."""
    client = _client(sink, app, credential)
    names = [secret_name(sink, app)]
    if delivers_certificate(app):
        names.append(certificate_secret_name(sink, app))
    found = (_tag_key_id(client, app, name, _where(sink, app, name)) for name in names)
    return frozenset(key_id.lower() for key_id in found if key_id)


def _where(sink: KeyVaultSink, app: App, name: str | None = None) -> str:
    """One vault secret as messages name it (the client secret's unless ``name`` is given)."""
    return f"Key Vault {sink.vault_url.rstrip('/')}/secrets/{name or secret_name(sink, app)}"


def _tag_key_id(client: Any, app: App, name: str, where: str) -> str | None:
    try:
        secret = client.get_secret(name)
    except ResourceNotFoundError:
        return None
    except Exception as exc:  # auth, network, permissions: one actionable line
        raise SinkError(f"app {app.name!r}: cannot read {where}: {reason(exc)}") from None
    tags = secret.properties.tags or {}
    key_id = tags.get("keyId")
    return key_id if isinstance(key_id, str) else None
