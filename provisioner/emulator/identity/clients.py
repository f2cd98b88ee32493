"""Client authentication at the token endpoint: client secret (form or HTTP Basic) or certificate.

Secrets are checked against ``application["_secretHashes"]`` (a SHA-256 per keyId, written by
the Graph layer when it mints a secret): the emulator never stores a secret value. Certificates come from the application's
``keyCredentials`` (base64 DER ``key``) and are matched by the assertion's
``x5t`` / ``x5t#S256`` thumbprint, as Entra does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.identity import errors
from provisioner.emulator.identity.tokens import b64url

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# Clients stamp assertions with their own wall clock, the emulator's may be advanced by tests:
# accept an assertion valid under either, with five minutes of skew.
_SKEW_SECONDS = 300


@dataclass(frozen=True)
class ClientCredentials:
    """What the request presented to authenticate the client. Never printed with its secrets."""

    client_id: str | None
    secret: str | None = None
    assertion: str | None = None
    assertion_type: str | None = None

    @property
    def presented(self) -> bool:
        return bool(self.secret or self.assertion)

    def __repr__(self) -> str:
        kind = "secret" if self.secret else "assertion" if self.assertion else "none"
        return f"ClientCredentials(client_id={self.client_id!r}, kind={kind})"


def read_client_credentials(form: Mapping[str, str], authorization: str | None) -> ClientCredentials:
    """Form fields, or HTTP Basic (RFC 6749 2.3.1: form-urlencoded id and secret) when present."""
    client_id = form.get("client_id") or None
    secret = form.get("client_secret") or None
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        basic_id, sep, basic_secret = decoded.partition(":")
        if sep:
            client_id = client_id or unquote_plus(basic_id)
            secret = secret or unquote_plus(basic_secret)
    return ClientCredentials(
        client_id=client_id,
        secret=secret,
        assertion=form.get("client_assertion") or None,
        assertion_type=form.get("client_assertion_type") or None,
    )


def authenticate(
    ctx: EmulatorContext,
    app: dict[str, Any],
    creds: ClientCredentials,
    *,
    audiences: set[str],
    used: dict[str, Any] | None = None,
    principal: dict[str, Any] | None = None,
) -> str:
    """Check the presented credential; returns the method ("secret" or "certificate") or raises.

    ``used`` receives the keyId (and a certificate's thumbprint) of the credential that matched:
    the sign-in log records it, as Entra's ``servicePrincipalCredentialKeyId`` does. ``principal``:
    the app's service principal in the tenant of the request, whose own password credentials
    (``servicePrincipals/{id}/addPassword``) Entra accepts for the app's client id too.
    """
    sink: dict[str, Any] = used if used is not None else {}
    if creds.assertion:
        cred, cert = _check_assertion(ctx, app, creds, audiences)
        sink.update(
            method="certificate",
            keyId=cred.get("keyId"),
            thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),
        )
        return "certificate"
    if creds.secret:
        holder = app
        if principal is not None and _matching_key(principal, creds.secret) is not None:
            holder = principal  # the principal's own secret (the app's are checked otherwise)
        sink.update(method="secret", keyId=_check_secret(ctx, holder, creds.secret, app), thumbprint=None)
        return "secret"
    raise errors.credential_required()


def _matching_key(holder: dict[str, Any], secret: str) -> str | None:
    """The keyId of ``holder``'s secret (application or service principal) with this value, or None."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return next(
        (k for k, h in (holder.get("_secretHashes") or {}).items() if hmac.compare_digest(str(h), digest)),
        None,
    )


def _check_secret(ctx: EmulatorContext, holder: dict[str, Any], secret: str, app: dict[str, Any]) -> str:
    key_id = _matching_key(holder, secret)
    credential = next((c for c in holder.get("passwordCredentials") or [] if c.get("keyId") == key_id), None)
    if key_id is None or credential is None:
        raise errors.invalid_client_secret(app["appId"])
    now = ctx.clock.now()
    if credential.get("endDateTime") and parse_iso(credential["endDateTime"]) <= now:
        raise errors.expired_client_secret(app["appId"])
    if credential.get("startDateTime") and parse_iso(credential["startDateTime"]) > now:
        raise errors.invalid_client_secret(app["appId"])
    return str(key_id)


def certificate_credentials(app: dict[str, Any]) -> Iterator[tuple[dict[str, Any], x509.Certificate]]:
    """(keyCredential, certificate) for every verification certificate whose key material is known."""
    stored = app.get("_keyCredentialKeys") or {}
    for cred in app.get("keyCredentials") or []:
        if cred.get("usage", "Verify") != "Verify":
            continue
        data = cred.get("key") or stored.get(cred.get("keyId"))
        if not data:
            continue
        try:
            raw = base64.b64decode(data)
            cert = (
                x509.load_pem_x509_certificate(raw)
                if raw.lstrip().startswith(b"-----BEGIN")
                else x509.load_der_x509_certificate(raw)
            )
        except (binascii.Error, ValueError):
            continue
        yield cred, cert


def _thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    return b64url(cert.fingerprint(hashes.SHA1())), b64url(cert.fingerprint(hashes.SHA256()))


def _display_thumbprint(header: dict[str, Any]) -> str | None:
    value = header.get("x5t") or header.get("x5t#S256")
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper()
    except (binascii.Error, ValueError):
        return None


def _check_assertion(
    ctx: EmulatorContext, app: dict[str, Any], creds: ClientCredentials, audiences: set[str]
) -> tuple[dict[str, Any], x509.Certificate]:
    if creds.assertion_type != JWT_BEARER:
        raise errors.assertion_malformed(f"client_assertion_type must be '{JWT_BEARER}'.")
    assertion = creds.assertion or ""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise errors.assertion_malformed("The client_assertion could not be parsed.") from None
    # MSAL pads its base64url thumbprints; RFC 7515 does not: compare without padding.
    x5t, x5t256 = (str(header.get(k) or "").rstrip("=") or None for k in ("x5t", "x5t#S256"))
    match = None
    for cred, cert in certificate_credentials(app):
        sha1, sha256 = _thumbprints(cert)
        if (
            (x5t and x5t == sha1)
            or (x5t256 and x5t256 == sha256)
            or (not x5t and not x5t256 and cred.get("keyId") == header.get("kid"))
        ):
            match = (cred, cert)
            break
    if match is None:
        raise errors.assertion_signature("The key was not found.", _display_thumbprint(header))
    cred, cert = match
    if cred.get("endDateTime") and parse_iso(cred["endDateTime"]) <= ctx.clock.now():
        raise errors.assertion_signature("The key used is expired.", _display_thumbprint(header))
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=_ASSERTION_ALGORITHMS,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise errors.assertion_signature("The signature is invalid.", _display_thumbprint(header)) from None
    except jwt.PyJWTError:
        raise errors.assertion_malformed("The client_assertion could not be parsed.") from None
    if claims.get("iss") != app["appId"] or claims.get("sub") != app["appId"]:
        raise errors.assertion_client_mismatch()
    aud = claims.get("aud")
    aud_values = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in aud_values):
        raise errors.assertion_malformed(f"The audience '{aud}' is not this token endpoint.")
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int | float):
        raise errors.assertion_malformed("The client_assertion has no 'exp' claim.")
    lower = float(nbf) if isinstance(nbf, int | float) else float("-inf")

    def valid_at(now: float) -> bool:
        return lower - _SKEW_SECONDS <= now <= exp + _SKEW_SECONDS

    if not (valid_at(time.time()) or valid_at(ctx.clock.timestamp())):
        raise errors.assertion_time(str(int(ctx.clock.timestamp())), str(nbf), str(exp))
    return cred, cert


def certificate_key_value(cert: x509.Certificate) -> str:
    """The base64 DER form Graph's ``keyCredential.key`` carries (helper for tests and seeding)."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
