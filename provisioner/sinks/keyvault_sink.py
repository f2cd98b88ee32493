"""Azure Key Vault sink: the current client secret as a vault secret.

``azure-keyvault-secrets`` is an optional extra (``provisioner[keyvault]``),
imported only when a manifest uses this sink, so plain installs stay small.
The vault secret carries its provenance in tags — ``keyId`` (which Entra
secret the value is), ``expires``, ``app``, ``clientId``, ``tenantId`` — so
``held_key_id`` can answer "which secret does the vault hold" from the tag
without comparing values. ``expires_on`` mirrors the Entra expiry so Key
Vault's own expiry monitoring sees the same date.

Only the secret goes to the vault (the other connection values are not
secret). When the values carry no secret, nothing is written.

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


def describe(sink: KeyVaultSink, app: App) -> str:
    return f"Key Vault {sink.vault_url.rstrip('/')}/secrets/{secret_name(sink, app)}"


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
    """Set the vault secret (a new version unless the current one already is this) with provenance tags.

    ``credential`` defaults to DefaultAzureCredential.
    """
    where = describe(sink, app)
    key_id = held_secret_id(values)
    if key_id is None:
        return DeliveryReceipt(where, held_key_id(sink, app, credential=credential))
    client = _client(sink, app, credential)
    expires_text = str(values.get("client_secret_expires", ""))
    tags = {
        "keyId": key_id,
        "expires": expires_text,
        "app": app.name,
        "clientId": str(values.get("client_id", "")),
        "tenantId": str(values.get("tenant_id", "")),
    }
    expires_on = None
    if expires_text:
        try:
            expires_on = datetime.fromisoformat(expires_text.replace("Z", "+00:00"))
        except ValueError:
            expires_on = None
    if _current_version_matches(client, secret_name(sink, app), str(values["client_secret"]), tags):
        return DeliveryReceipt(where, key_id)
    try:
        client.set_secret(
            secret_name(sink, app),
            str(values["client_secret"]),
            tags=tags,
            content_type=CONTENT_TYPE,
            expires_on=expires_on,
        )
    except Exception as exc:  # azure-core raises many types; all become one SinkError
        raise SinkError(f"app {app.name!r}: cannot set {where}: {reason(exc, values)}") from None
    return DeliveryReceipt(where, key_id)


def _current_version_matches(client: Any, name: str, value: str, tags: Mapping[str, str]) -> bool:
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
        and current.properties.content_type == CONTENT_TYPE
        and (current.properties.tags or {}) == dict(tags)
    )


def held_key_id(sink: KeyVaultSink, app: App, *, credential: Any | None = None) -> str | None:
    """The ``keyId`` tag of the vault secret's current version (None when there is none)."""
    client = _client(sink, app, credential)
    try:
        secret = client.get_secret(secret_name(sink, app))
    except ResourceNotFoundError:
        return None
    except Exception as exc:  # auth, network, permissions: one actionable line
        raise SinkError(f"app {app.name!r}: cannot read {describe(sink, app)}: {reason(exc)}") from None
    tags = secret.properties.tags or {}
    key_id = tags.get("keyId")
    return key_id if isinstance(key_id, str) else None
