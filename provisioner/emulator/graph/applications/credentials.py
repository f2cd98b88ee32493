"""An application's credentials: client secrets (passwordCredentials) and certificates (keyCredentials).

A secret's value is returned once (by ``addPassword`` or the create that minted it);
only a SHA-256 of it is kept, under ``_secretHashes`` by keyId, which the token
endpoint checks. PATCH may only drop secrets. Certificates are parsed for their
thumbprint and validity like Graph does, and their ``key`` is only returned when
``$select`` names keyCredentials.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from provisioner.emulator.clock import iso, parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.applications.management_policies import enforce_password
from provisioner.emulator.graph.applications.schema import KIND, PERSONAL_AUDIENCES, RESOURCE
from provisioner.emulator.graph.errors import bad_request, invalid_value, unknown_property
from provisioner.emulator.graph.ids import is_guid, new_id

SECRET_LIFETIME_YEARS = 2  # calendar years: docs show 2019-09-09 -> 2021-09-09
_SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"


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


def new_password(
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
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    cred: dict[str, Any],
    *,
    kind: str = KIND,
    sp: bool = False,
) -> dict[str, Any]:
    """``addPassword``: the only response that ever carries ``secretText``; app management policies apply."""
    entry, value = new_password(ctx, app, cred)
    try:
        enforce_password(
            ctx, tenant, app, parse_iso(entry["startDateTime"]), parse_iso(entry["endDateTime"]), sp=sp
        )
    except Exception:
        app["passwordCredentials"].remove(entry)
        app.get("_secretHashes", {}).pop(entry["keyId"], None)
        raise
    ctx.store.put(tenant, kind, app)
    return {**entry, "secretText": value}


def remove_password(
    ctx: EmulatorContext, tenant: str, app: dict[str, Any], key_id: Any, *, kind: str = KIND
) -> None:
    if not is_guid(key_id):
        raise bad_request("Required property 'keyId' is missing or is not a valid GUID.")
    remaining = [c for c in app["passwordCredentials"] if c["keyId"].lower() != key_id.lower()]
    if len(remaining) == len(app["passwordCredentials"]):
        raise bad_request(f"No password credential found with keyId {key_id}.")
    app["passwordCredentials"] = remaining
    app.get("_secretHashes", {}).pop(key_id.lower(), None)
    app.get("_secretHashes", {}).pop(key_id, None)
    ctx.store.put(tenant, kind, app)


def replace_passwords(app: dict[str, Any], creds: Any) -> None:
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
