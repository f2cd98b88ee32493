"""Application objects: state and validation, the way Entra ID applies them.

Holds the rules users hit in real tenants and want to hit in CI first:
defaults of a new registration, PATCH merge semantics (complex properties merge
key by key, collections are replaced), redirect-URI rules, audience/token
version coupling, requiredResourceAccess limits, identifierUris on verified
domains, enabled scopes/roles that must be disabled before removal, client
secrets (value returned once, only a SHA-256 kept), soft delete and restore.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
import string
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from provisioner.emulator.clock import iso, parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph import replication, service_principals
from provisioner.emulator.graph.errors import (
    GraphError,
    bad_request,
    invalid_value,
    not_found,
    read_only,
    unknown_property,
)
from provisioner.emulator.graph.ids import is_guid, new_id
from provisioner.emulator.store import GLOBAL, thaw

KIND = "applications"
DELETED_KIND = "deletedApplications"
TYPE_NAME = "microsoft.graph.application"
RESOURCE = "Application"

PERSONAL_AUDIENCES = frozenset({"AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"})
AUDIENCES = frozenset({"AzureADMyOrg", "AzureADMultipleOrgs", *PERSONAL_AUDIENCES})
SECRET_LIFETIME_YEARS = 2  # calendar years: docs show 2019-09-09 -> 2021-09-09
_SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"

_READ_ONLY = frozenset(
    {
        "id",
        "appId",
        "createdDateTime",
        "deletedDateTime",
        "publisherDomain",
        "applicationTemplateId",
        "disabledByMicrosoftStatus",
        "certification",
        "verifiedPublisher",
    }
)
_LISTS = frozenset(
    {
        "addIns",
        "appRoles",
        "identifierUris",
        "keyCredentials",
        "passwordCredentials",
        "requiredResourceAccess",
        "tags",
    }
)
_STRINGS = frozenset(
    {
        "description",
        "displayName",
        "groupMembershipClaims",
        "notes",
        "samlMetadataUrl",
        "serviceManagementReference",
        "signInAudience",
        "tokenEncryptionKeyId",
        "uniqueName",
        "defaultRedirectUri",
        "nativeAuthenticationApisEnabled",
    }
)
_BOOLS = frozenset({"isDeviceOnlyAuthSupported", "isFallbackPublicClient", "oauth2RequirePostResponse"})
# Complex properties and the sub-properties their types define.
_COMPLEX: dict[str, tuple[str, frozenset[str]]] = {
    "api": (
        "microsoft.graph.apiApplication",
        frozenset(
            {
                "acceptMappedClaims",
                "knownClientApplications",
                "oauth2PermissionScopes",
                "preAuthorizedApplications",
                "requestedAccessTokenVersion",
            }
        ),
    ),
    "web": (
        "microsoft.graph.webApplication",
        frozenset(
            {"homePageUrl", "implicitGrantSettings", "logoutUrl", "redirectUris", "redirectUriSettings"}
        ),
    ),
    "spa": ("microsoft.graph.spaApplication", frozenset({"redirectUris"})),
    "publicClient": ("microsoft.graph.publicClientApplication", frozenset({"redirectUris"})),
    "info": (
        "microsoft.graph.informationalUrl",
        frozenset({"logoUrl", "marketingUrl", "privacyStatementUrl", "supportUrl", "termsOfServiceUrl"}),
    ),
    "parentalControlSettings": (
        "microsoft.graph.parentalControlSettings",
        frozenset({"countriesBlockedForMinors", "legalAgeGroupRule"}),
    ),
    "optionalClaims": ("microsoft.graph.optionalClaims", frozenset({"accessToken", "idToken", "saml2Token"})),
    "requestSignatureVerification": (
        "microsoft.graph.requestSignatureVerification",
        frozenset({"allowedWeakAlgorithms", "isSignedRequestRequired"}),
    ),
    "servicePrincipalLockConfiguration": (
        "microsoft.graph.servicePrincipalLockConfiguration",
        frozenset(
            {
                "isEnabled",
                "allProperties",
                "credentialsWithUsageVerify",
                "credentialsWithUsageSign",
                "identifierUris",
                "tokenEncryptionKeyId",
            }
        ),
    ),
}


def template(object_id: str, app_id: str, created: str, publisher_domain: str) -> dict[str, Any]:
    """A new registration exactly as Graph returns it before any property is set."""
    return {
        "id": object_id,
        "deletedDateTime": None,
        "appId": app_id,
        "applicationTemplateId": None,
        "disabledByMicrosoftStatus": None,
        "createdDateTime": created,
        "displayName": None,
        "description": None,
        "groupMembershipClaims": None,
        "identifierUris": [],
        "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None,
        "nativeAuthenticationApisEnabled": None,
        "notes": None,
        "oauth2RequirePostResponse": False,
        "publisherDomain": publisher_domain,
        "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": None,
        "uniqueName": None,
        "samlMetadataUrl": None,
        "defaultRedirectUri": None,
        "certification": None,
        "optionalClaims": None,
        "requestSignatureVerification": None,
        "servicePrincipalLockConfiguration": None,
        "addIns": [],
        "api": {
            "acceptMappedClaims": None,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": None,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
        },
        "appRoles": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {
            "homePageUrl": None,
            "logoutUrl": None,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
            "redirectUriSettings": [],
        },
        "spa": {"redirectUris": []},
    }


KNOWN_PROPERTIES = frozenset(template("", "", "", "")) | {"logo"}


# --------------------------------------------------------------------------- lookups


def get(
    ctx: EmulatorContext,
    tenant: str,
    *,
    object_id: str | None = None,
    app_id: str | None = None,
    unique_name: str | None = None,
) -> dict[str, Any]:
    """One application by object id, appId or uniqueName; 404 Request_ResourceNotFound otherwise."""
    found = find(ctx, tenant, object_id=object_id, app_id=app_id, unique_name=unique_name)
    if not replication.visible(ctx, found):
        raise not_found(object_id or app_id or unique_name or "")
    return found


def find(
    ctx: EmulatorContext,
    tenant: str,
    *,
    object_id: str | None = None,
    app_id: str | None = None,
    unique_name: str | None = None,
) -> dict[str, Any] | None:
    if object_id is not None:
        if not is_guid(object_id):
            raise bad_request(f"Invalid object identifier '{object_id}'.")
        return ctx.store.get(tenant, KIND, object_id.lower())
    if app_id is not None:
        matches = ctx.store.find(tenant, KIND, appId=app_id.lower())
        return matches[0] if matches else None
    if unique_name is not None:
        # Scan read-only views and copy only the match: a create looks up a missing name (full scan).
        wanted = unique_name.lower()
        matches = ctx.store.find_views(tenant, KIND, uniqueName=unique_name) or [
            a for a in ctx.store.views(tenant, KIND) if (a.get("uniqueName") or "").lower() == wanted
        ]
        return thaw(matches[0]) if matches else None
    return None


def publisher_domain(ctx: EmulatorContext, tenant: str) -> str:
    record = ctx.store.get(GLOBAL, "tenants", tenant) or {}
    return str(record.get("domain") or f"{tenant}.onmicrosoft.com")


def verified_domains(ctx: EmulatorContext, tenant: str) -> list[str]:
    record = ctx.store.get(GLOBAL, "tenants", tenant) or {}
    domains = [d.get("name") if isinstance(d, dict) else d for d in record.get("verifiedDomains") or []]
    return [str(d).lower() for d in domains if d] or [publisher_domain(ctx, tenant).lower()]


# --------------------------------------------------------------------------- create / update


def create(
    ctx: EmulatorContext,
    tenant: str,
    body: dict[str, Any],
    *,
    owner_id: str | None,
    unique_name: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Register an application. Returns the stored object and secret values minted on create.

    The secret values are returned separately so only the 201 response carries them.
    """
    now = ctx.clock.now()
    app = template(new_id(), new_id(), iso(now), publisher_domain(ctx, tenant))
    body = dict(body)
    passwords = body.pop("passwordCredentials", None) or []
    if unique_name is not None:
        if body.get("uniqueName") not in (None, unique_name):
            raise read_only("uniqueName")
        body["uniqueName"] = unique_name
    for key in body.keys() & {"id", "appId"}:
        raise read_only(key)
    if "displayName" not in body:
        raise bad_request("Required property 'displayName' is missing.")
    _merge_into(ctx, tenant, app, body)
    if not isinstance(passwords, list) or not all(isinstance(c, dict) for c in passwords):
        raise invalid_value("passwordCredentials", RESOURCE)
    secret_values = [_new_password(ctx, app, cred)[1] for cred in passwords]
    app["_owners"] = [owner_id] if owner_id else []
    replication.stamp(ctx, app)
    ctx.store.put(tenant, KIND, app)
    return app, secret_values


def update(ctx: EmulatorContext, tenant: str, app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """PATCH: properties not in the body keep their values; complex ones merge, collections replace."""
    updated = copy.deepcopy(app)
    body = dict(body)
    for key in list(body):
        if key in _READ_ONLY:
            if body[key] != app.get(key):
                raise read_only(key)
            del body[key]
    if "uniqueName" in body:
        if body["uniqueName"] != app.get("uniqueName"):
            raise read_only("uniqueName")
        del body["uniqueName"]
    if "passwordCredentials" in body:
        _replace_passwords(updated, body.pop("passwordCredentials"))
    _merge_into(ctx, tenant, updated, body, previous=app)
    ctx.store.put(tenant, KIND, updated)
    service_principals.sync_from_application(ctx, tenant, updated)
    return updated


def _merge_into(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    body: dict[str, Any],
    *,
    previous: dict[str, Any] | None = None,
) -> None:
    for key, value in body.items():
        if key not in KNOWN_PROPERTIES:
            raise unknown_property(key, TYPE_NAME)
        if key in _READ_ONLY:
            raise read_only(key)
        _check_type(key, value)
        if key in _COMPLEX and isinstance(value, dict):
            type_name, allowed = _COMPLEX[key]
            _check_sub_properties(value, allowed, type_name)
            current = app.get(key)
            app[key] = _deep_merge(current, value) if isinstance(current, dict) else copy.deepcopy(value)
        else:
            app[key] = copy.deepcopy(value)
    if "keyCredentials" in body:
        app["keyCredentials"] = parse_key_credentials(
            body["keyCredentials"], (previous or {}).get("keyCredentials", [])
        )
    if (
        "web" in body
        and isinstance(body["web"], dict)
        and "redirectUris" in body["web"]
        and "redirectUriSettings" not in body["web"]
    ):
        app["web"]["redirectUriSettings"] = [{"uri": u, "index": None} for u in app["web"]["redirectUris"]]
    _validate(ctx, tenant, app, previous)


def _deep_merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_type(key: str, value: Any) -> None:
    ok = True
    if key in _LISTS:
        ok = isinstance(value, list)
    elif key in _STRINGS:
        ok = value is None or isinstance(value, str)
    elif key in _BOOLS:
        ok = value is None or isinstance(value, bool)
    elif key in _COMPLEX:
        ok = value is None or isinstance(value, dict)
    if not ok:
        raise invalid_value(key, RESOURCE)


def _check_sub_properties(value: dict[str, Any], allowed: frozenset[str], type_name: str) -> None:
    for sub in value:
        if sub not in allowed:
            raise unknown_property(sub, type_name)
    grant = value.get("implicitGrantSettings")
    if isinstance(grant, dict):
        for sub in grant:
            if sub not in ("enableAccessTokenIssuance", "enableIdTokenIssuance"):
                raise unknown_property(sub, "microsoft.graph.implicitGrantSettings")


# --------------------------------------------------------------------------- validation


def _validate(
    ctx: EmulatorContext, tenant: str, app: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    audience = app.get("signInAudience")
    if audience not in AUDIENCES:
        raise invalid_value("signInAudience", RESOURCE)
    personal = audience in PERSONAL_AUDIENCES
    api = app.get("api") or {}
    if personal and api.get("requestedAccessTokenVersion") != 2:
        raise bad_request("Property api.requestedAccessTokenVersion is invalid.")
    if api.get("requestedAccessTokenVersion") not in (None, 1, 2):
        raise bad_request("Property api.requestedAccessTokenVersion is invalid.")
    name = app.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > (90 if personal else 120):
        raise invalid_value("displayName", RESOURCE)
    _validate_redirects(app, personal)
    _validate_required_resource_access(app.get("requiredResourceAccess") or [])
    _validate_identifier_uris(ctx, tenant, app)
    _validate_entitlements(app, previous)
    if previous is None and app.get("uniqueName") is not None:  # immutable: checked once, on create
        unique = app["uniqueName"]
        if not isinstance(unique, str) or not unique or len(unique) > 255:
            raise invalid_value("uniqueName", RESOURCE)
        for other in ctx.store.views(tenant, KIND):  # read only: no copy of every application
            if other["id"] != app["id"] and (other.get("uniqueName") or "").lower() == unique.lower():
                raise bad_request(
                    "Another object with the same value for property uniqueName already exists."
                )
    tags = app.get("tags") or []
    if any(not isinstance(t, str) or len(t) > 256 for t in tags):
        raise invalid_value("tags", RESOURCE)
    if personal and len(app.get("passwordCredentials") or []) > 2:
        raise invalid_value("passwordCredentials", RESOURCE)


_FORBIDDEN_URI_CHARS = set("!$'(),;")
_LOOPBACK = ("localhost", "127.0.0.1")


def normalise_redirect_uri(uri: str) -> str:
    """Graph stores an http(s) URI without a path with a trailing ``/``."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc and not parts.path:
        return (
            uri.replace(parts.netloc, parts.netloc + "/", 1)
            if not parts.query
            else f"{parts.scheme}://{parts.netloc}/?{parts.query}"
        )
    return uri


def valid_redirect_uri(uri: Any, platform: str, personal: bool) -> bool:
    if not isinstance(uri, str) or not uri or len(uri) > 256:
        return False
    if _FORBIDDEN_URI_CHARS & set(uri) or "[::1]" in uri:
        return False
    if "*" in uri and (personal or platform != "web"):
        return False
    if platform == "publicClient" and uri == "urn:ietf:wg:oauth:2.0:oob":
        return True
    try:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if not parts.scheme or parts.fragment:
        return False
    if parts.scheme == "https":
        return bool(host)
    if parts.scheme == "http":
        return host in _LOOPBACK
    # Custom schemes (msal{appId}://auth, myapp://callback) exist for native clients only.
    return platform == "publicClient" and bool(parts.netloc or parts.path)


def _validate_redirects(app: dict[str, Any], personal: bool) -> None:
    total = 0
    for platform in ("web", "spa", "publicClient"):
        section = app.get(platform) or {}
        uris = section.get("redirectUris") if isinstance(section, dict) else None
        if uris is None:
            uris = []
        if not isinstance(uris, list) or not all(valid_redirect_uri(u, platform, personal) for u in uris):
            raise invalid_value(platform, RESOURCE)
        normalised = [normalise_redirect_uri(u) for u in uris]
        if len({u.lower() for u in normalised}) != len(normalised):
            raise invalid_value(platform, RESOURCE)
        if section:
            section["redirectUris"] = normalised
        total += len(uris)
        if total > (100 if personal else 256):
            raise invalid_value(platform, RESOURCE)
    web = app.get("web") or {}
    if web.get("redirectUriSettings"):
        web["redirectUriSettings"] = [
            {"uri": normalise_redirect_uri(s.get("uri", "")), "index": s.get("index")}
            for s in web["redirectUriSettings"]
            if isinstance(s, dict)
        ]
    for key in ("homePageUrl", "logoutUrl"):
        value = web.get(key)
        if value is not None and not (isinstance(value, str) and urlsplit(value).scheme in ("http", "https")):
            raise invalid_value("web", RESOURCE)


def _validate_required_resource_access(rra: list[Any]) -> None:
    if len(rra) > 50:
        raise invalid_value("requiredResourceAccess", RESOURCE)
    permissions = 0
    seen_resources: set[str] = set()
    for entry in rra:
        if not isinstance(entry, dict) or not is_guid(entry.get("resourceAppId")):
            raise invalid_value("requiredResourceAccess", RESOURCE)
        access = entry.get("resourceAccess") or []
        if not isinstance(access, list):
            raise invalid_value("requiredResourceAccess", RESOURCE)
        for item in access:
            if (
                not isinstance(item, dict)
                or not is_guid(item.get("id"))
                or item.get("type") not in ("Scope", "Role")
            ):
                raise invalid_value("requiredResourceAccess", RESOURCE)
        if entry["resourceAppId"].lower() in seen_resources:
            raise invalid_value("requiredResourceAccess", RESOURCE)
        seen_resources.add(entry["resourceAppId"].lower())
        permissions += len(access)
    if permissions > 400:
        raise invalid_value("requiredResourceAccess", RESOURCE)


def _validate_identifier_uris(ctx: EmulatorContext, tenant: str, app: dict[str, Any]) -> None:
    uris = app.get("identifierUris") or []
    if not all(isinstance(u, str) and u for u in uris):
        raise invalid_value("identifierUris", RESOURCE)
    domains = verified_domains(ctx, tenant)
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme == "api" and parts.netloc:
            continue
        host = (parts.hostname or "").lower()
        if parts.scheme in ("https", "http") and any(host == d or host.endswith("." + d) for d in domains):
            continue
        raise GraphError(
            400,
            "HostNameNotOnVerifiedDomain",
            f"Values of identifierUris property must use a verified domain of the organization or its"
            f" subdomain: '{uri}'",
        )
    wanted = {u.rstrip("/").lower() for u in uris}
    if wanted:
        for other in ctx.store.list(tenant, KIND):
            if other["id"] != app["id"] and wanted & {
                u.rstrip("/").lower() for u in other.get("identifierUris") or []
            }:
                raise bad_request(
                    "Another object with the same value for property identifierUris already exists."
                )


def _validate_entitlements(app: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Scopes and app roles: well-formed, unique values, and only disabled ones may be removed."""
    scopes = (app.get("api") or {}).get("oauth2PermissionScopes") or []
    roles = app.get("appRoles") or []
    for prop, entries in (("api", scopes), ("appRoles", roles)):
        if not isinstance(entries, list):
            raise invalid_value(prop, RESOURCE)
        values: set[str] = set()
        ids: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not is_guid(entry.get("id")):
                raise invalid_value(prop, RESOURCE)
            value = entry.get("value")
            if value is not None and (not isinstance(value, str) or " " in value or value.startswith(".")):
                raise invalid_value(prop, RESOURCE)
            if entry["id"].lower() in ids or (value and value.lower() in values):
                raise invalid_value(prop, RESOURCE)
            ids.add(entry["id"].lower())
            if value:
                values.add(value.lower())
            if prop == "api" and entry.get("type") not in ("User", "Admin"):
                raise invalid_value(prop, RESOURCE)
            if prop == "appRoles":
                members = entry.get("allowedMemberTypes") or []
                if not members or not set(members) <= {"User", "Application"}:
                    raise invalid_value(prop, RESOURCE)
            entry.setdefault("isEnabled", True)
            if prop == "appRoles":
                entry.setdefault("origin", "Application")
    if previous is None:
        return
    old_scopes = (previous.get("api") or {}).get("oauth2PermissionScopes") or []
    for old, new in ((old_scopes, scopes), (previous.get("appRoles") or [], roles)):
        kept = {e["id"].lower() for e in new}
        for entry in old:
            if entry.get("isEnabled", True) and entry["id"].lower() not in kept:
                raise GraphError(
                    400,
                    "CannotDeleteOrUpdateEnabledEntitlement",
                    "Permission (scope or role) cannot be deleted or updated unless disabled first.",
                )


# --------------------------------------------------------------------------- credentials


def new_secret_value() -> str:
    """40 characters like Graph's generated secrets: hint (3) + "8Q~" + 34 random."""
    random = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(34))
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return f"{head}8Q~{random}"


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _parse_datetime(value: Any, prop: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_value(prop, RESOURCE)
    try:
        return parse_iso(value)
    except ValueError:
        raise invalid_value(prop, RESOURCE) from None


def _add_years(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def _new_password(
    ctx: EmulatorContext, app: dict[str, Any], cred: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    for key in cred:
        if key not in (
            "displayName",
            "endDateTime",
            "startDateTime",
            "customKeyIdentifier",
            "keyId",
            "hint",
            "secretText",
        ):
            raise unknown_property(key, "microsoft.graph.passwordCredential")
    start = _parse_datetime(cred.get("startDateTime"), "passwordCredentials") or ctx.clock.now()
    end = _parse_datetime(cred.get("endDateTime"), "passwordCredentials") or _add_years(
        start, SECRET_LIFETIME_YEARS
    )
    if end <= start:
        raise invalid_value("passwordCredentials", RESOURCE)
    display_name = cred.get("displayName")
    if display_name is not None and (not isinstance(display_name, str) or len(display_name) > 1024):
        raise invalid_value("passwordCredentials", RESOURCE)
    if app.get("signInAudience") in PERSONAL_AUDIENCES and len(app["passwordCredentials"]) >= 2:
        raise invalid_value("passwordCredentials", RESOURCE)
    value = new_secret_value()
    entry = {
        "customKeyIdentifier": None,
        "displayName": display_name,
        "endDateTime": iso(end),
        "hint": value[:3],
        "keyId": new_id(),
        "secretText": None,
        "startDateTime": iso(start),
    }
    app["passwordCredentials"].append(entry)
    app.setdefault("_secretHashes", {})[entry["keyId"]] = secret_hash(value)
    return entry, value


def add_password(
    ctx: EmulatorContext, tenant: str, app: dict[str, Any], cred: dict[str, Any]
) -> dict[str, Any]:
    """``addPassword``: the only response that ever carries ``secretText``."""
    entry, value = _new_password(ctx, app, cred)
    ctx.store.put(tenant, KIND, app)
    return {**entry, "secretText": value}


def remove_password(ctx: EmulatorContext, tenant: str, app: dict[str, Any], key_id: Any) -> None:
    if not is_guid(key_id):
        raise bad_request("Required property 'keyId' is missing or is not a valid GUID.")
    remaining = [c for c in app["passwordCredentials"] if c["keyId"].lower() != key_id.lower()]
    if len(remaining) == len(app["passwordCredentials"]):
        raise bad_request(f"No password credential found with keyId {key_id}.")
    app["passwordCredentials"] = remaining
    app.get("_secretHashes", {}).pop(key_id.lower(), None)
    app.get("_secretHashes", {}).pop(key_id, None)
    ctx.store.put(tenant, KIND, app)


def _replace_passwords(app: dict[str, Any], creds: Any) -> None:
    """PATCH may only drop existing secrets (new ones need addPassword, which returns the value)."""
    if not isinstance(creds, list):
        raise invalid_value("passwordCredentials", RESOURCE)
    existing = {c["keyId"].lower(): c for c in app["passwordCredentials"]}
    kept = []
    for cred in creds:
        key_id = cred.get("keyId") if isinstance(cred, dict) else None
        if not is_guid(key_id) or key_id.lower() not in existing:
            raise bad_request("New password credentials must be generated using service actions.")
        kept.append(existing[key_id.lower()])
    app["passwordCredentials"] = kept
    keep_ids = {c["keyId"] for c in kept}
    app["_secretHashes"] = {k: v for k, v in app.get("_secretHashes", {}).items() if k in keep_ids}


def parse_key_credentials(creds: list[Any], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """keyCredentials via PATCH or addKey: certificates are parsed for thumbprint and validity, like Graph."""
    old = {c["keyId"].lower(): c for c in previous}
    result = []
    for cred in creds:
        if not isinstance(cred, dict):
            raise invalid_value("keyCredentials", RESOURCE)
        key_id = cred.get("keyId")
        if key_id is not None and not is_guid(key_id):
            raise invalid_value("keyCredentials", RESOURCE)
        if cred.get("key") is None and key_id and key_id.lower() in old:
            result.append(
                {
                    **old[key_id.lower()],
                    "displayName": cred.get("displayName", old[key_id.lower()].get("displayName")),
                }
            )
            continue
        if cred.get("type") not in ("AsymmetricX509Cert", "X509CertAndPassword", "Symmetric") or cred.get(
            "usage"
        ) not in ("Verify", "Sign"):
            raise invalid_value("keyCredentials", RESOURCE)
        try:
            raw = base64.b64decode(cred.get("key") or "", validate=False)
            cert = (
                x509.load_pem_x509_certificate(raw)
                if raw.startswith(b"-----")
                else x509.load_der_x509_certificate(raw)
            )
        except ValueError:
            raise invalid_value("keyCredentials", RESOURCE) from None
        result.append(
            {
                "customKeyIdentifier": cert.fingerprint(hashes.SHA1()).hex().upper(),
                "displayName": cred.get("displayName") or cert.subject.rfc4514_string(),
                "endDateTime": iso(cert.not_valid_after_utc),
                "key": cred["key"],
                "keyId": (key_id or new_id()).lower(),
                "startDateTime": iso(cert.not_valid_before_utc),
                "type": cred["type"],
                "usage": cred["usage"],
            }
        )
    return result


def hide_key_material(app: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """``keyCredentials[].key`` is only returned when ``$select`` names keyCredentials."""
    if select and any(s.lower() == "keycredentials" for s in select):
        return app
    if app.get("keyCredentials"):
        app = {**app, "keyCredentials": [{**c, "key": None} for c in app["keyCredentials"]]}
    return app


# --------------------------------------------------------------------------- delete / restore


def delete(ctx: EmulatorContext, tenant: str, app: dict[str, Any]) -> None:
    """Soft delete (restorable for 30 days); the app's service principal goes with it, as in Entra."""
    for sp in ctx.store.find(tenant, service_principals.KIND, appId=app["appId"]):
        service_principals.delete(ctx, tenant, sp)
    ctx.store.delete(tenant, KIND, app["id"])
    ctx.store.put(tenant, DELETED_KIND, {**app, "deletedDateTime": iso(ctx.clock.now())})


def restore(ctx: EmulatorContext, tenant: str, object_id: str) -> dict[str, Any]:
    deleted = ctx.store.get(tenant, DELETED_KIND, object_id.lower())
    if deleted is None:
        raise not_found(object_id)
    restored = {**deleted, "deletedDateTime": None}
    unique = restored.get("uniqueName")
    if unique and find(ctx, tenant, unique_name=unique) is not None:
        raise bad_request("Another object with the same value for property uniqueName already exists.")
    ctx.store.delete(tenant, DELETED_KIND, deleted["id"])
    ctx.store.put(tenant, KIND, restored)
    return restored


def purge(ctx: EmulatorContext, tenant: str, object_id: str) -> None:
    if not ctx.store.delete(tenant, DELETED_KIND, object_id.lower()):
        raise not_found(object_id)


# --------------------------------------------------------------------------- federated identity credentials


def add_federated_credential(app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    creds = app.setdefault("_federatedIdentityCredentials", [])
    for key in body:
        if key not in ("name", "issuer", "subject", "audiences", "description"):
            raise unknown_property(key, "microsoft.graph.federatedIdentityCredential")
    name, issuer, subject = body.get("name"), body.get("issuer"), body.get("subject")
    audiences = body.get("audiences")
    if not isinstance(name, str) or not name or len(name) > 120 or any(c in name for c in "/\\?#%: "):
        raise invalid_value("name", "FederatedIdentityCredential")
    for prop, value in (("issuer", issuer), ("subject", subject)):
        if not isinstance(value, str) or not value or len(value) > 600:
            raise invalid_value(prop, "FederatedIdentityCredential")
    if not isinstance(audiences, list) or len(audiences) != 1 or not isinstance(audiences[0], str):
        raise invalid_value("audiences", "FederatedIdentityCredential")
    if len(creds) >= 20:
        raise bad_request("Maximum number of federated identity credentials per application reached (20).")
    for other in creds:
        if other["name"].lower() == name.lower() or (other["issuer"], other["subject"]) == (issuer, subject):
            raise GraphError(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "FederatedIdentityCredential with same name or issuer and subject already exists.",
            )
    cred = {
        "id": new_id(),
        "name": name,
        "issuer": issuer,
        "subject": subject,
        "description": body.get("description"),
        "audiences": list(audiences),
    }
    creds.append(cred)
    return cred


def find_federated_credential(app: dict[str, Any], key: str) -> dict[str, Any]:
    for cred in app.get("_federatedIdentityCredentials", []):
        if cred["id"].lower() == key.lower() or cred["name"].lower() == key.lower():
            return cred
    raise not_found(key)
