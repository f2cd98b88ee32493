"""The vault and its secrets: versions, attributes, soft delete, recovery and purge.

Shapes follow the Key Vault secrets REST reference (``SecretBundle``, ``SecretItem``,
``DeletedSecretBundle``, ``DeletedSecretItem``; times are Unix seconds) and its documented examples.
Behaviour that matters to clients:

* ``set`` adds a version (a 32-hex id) and makes it the current one; the name is
  case-insensitive (kept as first written) and ``^[0-9a-zA-Z-]{1,127}$``;
* ``get`` works outside the ``nbf``/``exp`` window (Key Vault only records them) but not on a
  disabled version (403 ``SecretDisabled``);
* ``delete`` is always a soft delete (every new vault has soft delete): the secret leaves the
  listings, keeps its versions, and its name cannot be reused (409
  ``ObjectIsDeletedButRecoverable``) until it is recovered or purged, or its
  ``scheduledPurgeDate`` (deletion + retention days) passes on the emulator clock;
* ``recoveryLevel`` follows the vault: ``Recoverable+Purgeable`` (90 days), ``Recoverable`` with
  purge protection (purge is then 403), ``CustomizedRecoverable...`` below 90 days.

Everything lives in the store's global partition (kind ``keyVaultSecrets``, one record per name
holding all versions): the vault, not a tenant, owns its secrets. The emulator keeps secret
values, as a vault must; they never appear in its logs or errors.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.service_principals import models as service_principals
from provisioner.emulator.keyvault import errors
from provisioner.emulator.store import GLOBAL

VAULT_KIND = "keyVault"
VAULT_ID = "vault"
SECRETS_KIND = "keyVaultSecrets"
DEFAULT_RETENTION_DAYS = 90
# What the vault accepts as api-version: the versions azure-keyvault-secrets 4.x can send.
API_VERSIONS = frozenset(
    {"2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"}
)
MAX_RESULTS = 25  # "If not specified, the service will return up to 25 results" (and at most 25)
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_DAY = 86_400

# The Azure Key Vault first-party service principal every tenant has, so the token endpoint knows
# the resource https://vault.azure.net. Source: maciejporebski/azure-ad-first-party-apps-permissions,
# apps/Azure Key Vault.md, commit 3e6a131b526857f105c7b8b4afdb076b7aebfd7c (a live dump: service
# principal names, one delegated scope, no app roles). appOwnerOrganizationId and the scope's
# type and user-consent texts are not published there, so they stay null.
KEYVAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
KEYVAULT_RESOURCE = "https://vault.azure.net"
_KEYVAULT_CATALOG: dict[str, Any] = {
    "appId": KEYVAULT_APP_ID,
    "displayName": "Azure Key Vault",
    "appOwnerOrganizationId": None,
    "servicePrincipalNames": [KEYVAULT_RESOURCE, KEYVAULT_APP_ID],
    "appRoles": [],
    "oauth2PermissionScopes": [
        {
            "id": "f53da476-18e3-4152-8e01-aec403e6edc0",
            "value": "user_impersonation",
            "type": None,
            "adminConsentDisplayName": "Have full access to the Azure Key Vault service",
            "adminConsentDescription": "Allow the application full access to the Azure Key Vault service "
            "on behalf of the signed-in user",
            "userConsentDisplayName": None,
            "userConsentDescription": None,
            "isEnabled": None,
        }
    ],
}


def ensure_service_principal(ctx: EmulatorContext, tenant_id: str) -> None:
    """Add the Azure Key Vault service principal to a tenant that lacks it (idempotent)."""
    if not ctx.store.find_views(tenant_id, service_principals.KIND, appId=KEYVAULT_APP_ID):
        ctx.store.put(
            tenant_id, service_principals.KIND, service_principals.first_party(tenant_id, _KEYVAULT_CATALOG)
        )


# -- the vault -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vault:
    tenant_id: str
    retention_days: int = DEFAULT_RETENTION_DAYS
    purge_protection: bool = False

    @property
    def recovery_level(self) -> str:
        level = "Recoverable" if self.retention_days >= DEFAULT_RETENTION_DAYS else "CustomizedRecoverable"
        return level if self.purge_protection else f"{level}+Purgeable"

    def to_json(self, vault_url: str) -> dict[str, Any]:
        return {
            "vault_url": vault_url,
            "tenant_id": self.tenant_id,
            "soft_delete_retention_days": self.retention_days,
            "purge_protection": self.purge_protection,
            "recovery_level": self.recovery_level,
        }


def get_vault(ctx: EmulatorContext) -> Vault | None:
    """The emulator's vault; created on first use in the first tenant (None while there is no tenant)."""
    record = ctx.store.view(GLOBAL, VAULT_KIND, VAULT_ID)
    if record is None:
        tenants = ctx.store.tenants()
        if not tenants:
            return None
        return configure_vault(ctx, tenant_id=tenants[0])
    return Vault(
        tenant_id=str(record["tenantId"]),
        retention_days=int(record["softDeleteRetentionInDays"]),
        purge_protection=bool(record["enablePurgeProtection"]),
    )


def configure_vault(
    ctx: EmulatorContext,
    *,
    tenant_id: str | None = None,
    retention_days: int | None = None,
    purge_protection: bool | None = None,
) -> Vault:
    """Change the vault's tenant, retention (7..90 days, as ARM allows) or purge protection.

    Raises ValueError for a tenant the emulator does not host or a retention out of range;
    purge protection, once on, cannot be switched off (as in Azure).
    """
    with ctx.store.transaction():
        current = ctx.store.get(GLOBAL, VAULT_KIND, VAULT_ID) or {}
        if tenant_id is not None and tenant_id.lower() not in ctx.store.tenants():
            raise ValueError(f"tenant {tenant_id!r} is not hosted by this emulator")
        if retention_days is not None and not 7 <= retention_days <= DEFAULT_RETENTION_DAYS:
            raise ValueError("soft_delete_retention_days must be between 7 and 90")
        if purge_protection is False and current.get("enablePurgeProtection"):
            raise ValueError("purge protection cannot be switched off once it is on")
        first_tenant = next(iter(ctx.store.tenants()), "")
        record = {
            "id": VAULT_ID,
            "tenantId": (tenant_id or current.get("tenantId") or first_tenant).lower(),
            "softDeleteRetentionInDays": retention_days
            or current.get("softDeleteRetentionInDays")
            or DEFAULT_RETENTION_DAYS,
            "enablePurgeProtection": bool(
                purge_protection if purge_protection is not None else current.get("enablePurgeProtection")
            ),
        }
        if not record["tenantId"]:
            raise ValueError("the vault needs a tenant")
        ctx.store.put(GLOBAL, VAULT_KIND, record)
    return Vault(record["tenantId"], record["softDeleteRetentionInDays"], record["enablePurgeProtection"])


# -- secrets -------------------------------------------------------------------------------------


def _now(ctx: EmulatorContext) -> int:
    return int(ctx.clock.timestamp())


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise errors.invalid_name(name)


def _record(ctx: EmulatorContext, name: str) -> dict[str, Any] | None:
    """The secret's record after purging every deletion whose retention has run out."""
    record = ctx.store.get(GLOBAL, SECRETS_KIND, name.lower())
    if record is not None and record.get("scheduledPurgeDate") and record["scheduledPurgeDate"] <= _now(ctx):
        ctx.store.delete(GLOBAL, SECRETS_KIND, record["id"])
        return None
    return record


def _records(ctx: EmulatorContext, *, deleted: bool) -> list[dict[str, Any]]:
    out = []
    for view in ctx.store.views(GLOBAL, SECRETS_KIND):
        record = _record(ctx, str(view["id"]))
        if record is not None and bool(record.get("deletedDate")) == deleted:
            out.append(record)
    return sorted(out, key=lambda r: r["id"])


def _live(ctx: EmulatorContext, name: str) -> dict[str, Any]:
    check_name(name)
    record = _record(ctx, name)
    if record is None or record.get("deletedDate"):
        raise errors.secret_not_found(name)
    return record


def _deleted(ctx: EmulatorContext, name: str) -> dict[str, Any]:
    check_name(name)
    record = _record(ctx, name)
    if record is None or not record.get("deletedDate"):
        raise errors.deleted_secret_not_found(name)
    return record


def _version(record: dict[str, Any], version: str | None) -> dict[str, Any]:
    if not version:
        return dict(record["versions"][-1])
    for entry in record["versions"]:
        if entry["version"] == version.lower():
            return dict(entry)
    raise errors.secret_not_found(record["name"], version)


def _attributes(vault: Vault, entry: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"enabled": entry["enabled"]}
    for key in ("nbf", "exp"):
        if entry.get(key) is not None:
            attributes[key] = entry[key]
    attributes.update(
        {
            "created": entry["created"],
            "updated": entry["updated"],
            "recoverableDays": vault.retention_days,
            "recoveryLevel": vault.recovery_level,
        }
    )
    return attributes


def _described(base: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("contentType") is not None:
        base["contentType"] = entry["contentType"]
    if entry.get("tags") is not None:
        base["tags"] = dict(entry["tags"])
    return base


def bundle(
    vault_url: str, vault: Vault, record: dict[str, Any], entry: dict[str, Any], *, value: bool
) -> dict[str, Any]:
    """A ``SecretBundle`` (``value`` only where the operation returns it: get and set)."""
    out: dict[str, Any] = {}
    if value:
        out["value"] = entry["value"]
    out["id"] = f"{vault_url}/secrets/{record['name']}/{entry['version']}"
    out = _described(out, entry)
    out["attributes"] = _attributes(vault, entry)
    return out


def item(
    vault_url: str, vault: Vault, record: dict[str, Any], entry: dict[str, Any], *, versioned: bool
) -> dict:
    """A ``SecretItem``: the base id in a secrets listing, the versioned id in a versions listing."""
    suffix = f"/{entry['version']}" if versioned else ""
    out: dict[str, Any] = {"id": f"{vault_url}/secrets/{record['name']}{suffix}"}
    out["attributes"] = _attributes(vault, entry)
    return _described(out, entry)


def _deletion(vault_url: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "recoveryId": f"{vault_url}/deletedsecrets/{record['name']}",
        "deletedDate": record["deletedDate"],
        "scheduledPurgeDate": record["scheduledPurgeDate"],
    }


def _body_attributes(body: dict[str, Any]) -> dict[str, Any]:
    """The writable attributes of a request (enabled, nbf, exp); read-only ones are ignored."""
    raw = body.get("attributes")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise errors.bad_parameter("Property 'attributes' must be an object.")
    out: dict[str, Any] = {}
    if "enabled" in raw and raw["enabled"] is not None:
        if not isinstance(raw["enabled"], bool):
            raise errors.bad_parameter("Property 'attributes.enabled' must be a boolean.")
        out["enabled"] = raw["enabled"]
    for key in ("nbf", "exp"):
        if key in raw:
            value = raw[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise errors.bad_parameter(f"Property 'attributes.{key}' must be a Unix time in seconds.")
            out[key] = value
    return out


def _body_metadata(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "contentType" in body:
        if body["contentType"] is not None and not isinstance(body["contentType"], str):
            raise errors.bad_parameter("Property 'contentType' must be a string.")
        out["contentType"] = body["contentType"]
    if "tags" in body:
        tags = body["tags"]
        if tags is not None and (
            not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())
        ):
            raise errors.bad_parameter("Property 'tags' must be an object of string values.")
        out["tags"] = tags
    return out


def set_secret(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str, body: dict[str, Any]) -> dict:
    check_name(name)
    value = body.get("value")
    if not isinstance(value, str):
        raise errors.bad_parameter("Property 'value' is required and must be a string.")
    attributes = _body_attributes(body)
    metadata = _body_metadata(body)
    now = _now(ctx)
    entry = {
        "version": secrets.token_hex(16),
        "value": value,
        "contentType": metadata.get("contentType"),
        "tags": metadata.get("tags"),
        "enabled": attributes.get("enabled", True),
        "nbf": attributes.get("nbf"),
        "exp": attributes.get("exp"),
        "created": now,
        "updated": now,
    }
    with ctx.store.transaction():
        record = _record(ctx, name)
        if record is not None and record.get("deletedDate"):
            raise errors.deleted_but_recoverable(record["name"])
        if record is None:
            record = {"id": name.lower(), "name": name, "versions": [], "deletedDate": None}
        record["versions"].append(entry)
        ctx.store.put(GLOBAL, SECRETS_KIND, record)
    return bundle(vault_url, vault, record, entry, value=True)


def get_secret(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str, version: str | None) -> dict:
    record = _live(ctx, name)
    entry = _version(record, version)
    if not entry["enabled"]:
        raise errors.secret_disabled()
    return bundle(vault_url, vault, record, entry, value=True)


def update_secret(
    ctx: EmulatorContext, vault_url: str, vault: Vault, name: str, version: str | None, body: dict[str, Any]
) -> dict:
    """PATCH: change attributes, content type and tags of one version (the value never changes)."""
    attributes = _body_attributes(body)
    metadata = _body_metadata(body)
    with ctx.store.transaction():
        record = _live(ctx, name)
        entry = _version(record, version)
        entry.update(attributes)
        entry.update(metadata)
        entry["updated"] = _now(ctx)
        record["versions"] = [entry if v["version"] == entry["version"] else v for v in record["versions"]]
        ctx.store.put(GLOBAL, SECRETS_KIND, record)
    return bundle(vault_url, vault, record, entry, value=False)


def list_secrets(ctx: EmulatorContext, vault_url: str, vault: Vault) -> list[dict[str, Any]]:
    return [
        item(vault_url, vault, r, r["versions"][-1], versioned=False) for r in _records(ctx, deleted=False)
    ]


def list_versions(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str) -> list[dict[str, Any]]:
    check_name(name)
    record = _record(ctx, name)
    if record is None or record.get("deletedDate"):
        return []
    return [item(vault_url, vault, record, entry, versioned=True) for entry in record["versions"]]


def delete_secret(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str) -> dict:
    with ctx.store.transaction():
        record = _live(ctx, name)
        now = _now(ctx)
        record["deletedDate"] = now
        record["scheduledPurgeDate"] = now + vault.retention_days * _DAY
        ctx.store.put(GLOBAL, SECRETS_KIND, record)
    return {
        **_deletion(vault_url, record),
        **bundle(vault_url, vault, record, record["versions"][-1], value=False),
    }


def get_deleted(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str) -> dict:
    record = _deleted(ctx, name)
    return {
        **_deletion(vault_url, record),
        **bundle(vault_url, vault, record, record["versions"][-1], value=False),
    }


def list_deleted(ctx: EmulatorContext, vault_url: str, vault: Vault) -> list[dict[str, Any]]:
    return [
        {**_deletion(vault_url, r), **item(vault_url, vault, r, r["versions"][-1], versioned=False)}
        for r in _records(ctx, deleted=True)
    ]


def recover_deleted(ctx: EmulatorContext, vault_url: str, vault: Vault, name: str) -> dict:
    with ctx.store.transaction():
        record = _deleted(ctx, name)
        record["deletedDate"] = None
        record.pop("scheduledPurgeDate", None)
        ctx.store.put(GLOBAL, SECRETS_KIND, record)
    return bundle(vault_url, vault, record, record["versions"][-1], value=False)


def purge_deleted(ctx: EmulatorContext, vault: Vault, name: str) -> None:
    with ctx.store.transaction():
        record = _deleted(ctx, name)
        if vault.purge_protection:
            raise errors.purge_protected()
        ctx.store.delete(GLOBAL, SECRETS_KIND, record["id"])
