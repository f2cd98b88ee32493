"""``addKey`` / ``removeKey``: an application rolls its own certificates with a proof of possession.

Graph lets an app add or remove a certificate without any directory permission,
provided it proves it holds the private key of one of its *current* certificates:
a self-signed JWT ("proof") with ``aud`` the Graph resource, ``iss`` the
application's object id (not its appId), ``nbf`` and ``exp`` at most ten minutes
apart. What the emulator checks, so a rollover script that passes here is shaped
the way Entra wants it:

* the app has at least one valid certificate (``usage`` Verify, inside its
  start/end dates by the emulator clock); otherwise the action is refused and the
  caller has to use ``PATCH keyCredentials``, as the docs say;
* the proof's signature verifies with one of those certificates' public keys
  (RS/PS/ES algorithms, like client assertions);
* ``aud`` is ``00000002-0000-0000-c000-000000000000`` (what the addKey page says)
  or ``00000003-0000-0000-c000-000000000000`` (what the proof-token guide says):
  the two Microsoft pages disagree, both are accepted;
* ``iss`` equals the application's object id; ``nbf`` and ``exp`` are present,
  ``exp - nbf`` is at most 600 s and now (wall clock or emulator clock, 5 minutes
  of skew, the same tolerance as client assertions) lies between them.

Graph does not document the error code/message for a bad proof; the emulator
answers 400 ``Request_BadRequest`` with a one-line reason.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from provisioner.emulator.clock import parse_iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.graph.applications.credentials import parse_key_credentials
from provisioner.emulator.graph.applications.management_policies import enforce_key
from provisioner.emulator.graph.applications.schema import KIND, RESOURCE
from provisioner.emulator.graph.errors import GraphApiError, bad_request, invalid_value, unknown_property
from provisioner.emulator.graph.ids import is_guid

PROOF_AUDIENCES = frozenset({"00000002-0000-0000-c000-000000000000", "00000003-0000-0000-c000-000000000000"})
PROOF_MAX_LIFETIME_SECONDS = 600
_SKEW_SECONDS = 300
_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# keyCredential types addKey accepts, with the usage each must have (docs, request body table).
_USAGE_FOR_TYPE = {"AsymmetricX509Cert": "Verify", "X509CertAndPassword": "Sign"}
_KEY_CREDENTIAL_FIELDS = frozenset(
    {"customKeyIdentifier", "displayName", "endDateTime", "key", "keyId", "startDateTime", "type", "usage"}
)


def _proof_error(reason: str) -> GraphApiError:
    return bad_request(f"Invalid proof of possession: {reason}")


def valid_certificates(ctx: EmulatorContext, app: dict[str, Any]) -> list[Any]:
    """Public keys of the app's certificates that are valid now (the only ones a proof may use)."""
    from provisioner.emulator.identity.clients import certificate_credentials

    now = ctx.clock.now()
    keys = []
    for cred, cert in certificate_credentials(app):
        start, end = cred.get("startDateTime"), cred.get("endDateTime")
        if (start and parse_iso(start) > now) or (end and parse_iso(end) <= now):
            continue
        keys.append(cert.public_key())
    return keys


def verify_proof(ctx: EmulatorContext, app: dict[str, Any], proof: Any) -> None:
    """Raise 400 unless ``proof`` is a proof-of-possession JWT as documented (see module docstring)."""
    keys = valid_certificates(ctx, app)
    if not keys:
        raise bad_request(
            "The application has no valid certificate to prove possession of; add one with Update application."
        )
    if not isinstance(proof, str) or proof.count(".") != 2:
        raise bad_request("Required property 'proof' is missing or is not a JWT.")
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = jwt.decode(
                proof,
                key,
                algorithms=_ALGORITHMS,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise _proof_error("the token could not be parsed.") from None
    if claims is None:
        raise _proof_error("the signature does not match any valid certificate of the application.")
    aud = claims.get("aud")
    if not any(a in PROOF_AUDIENCES for a in (aud if isinstance(aud, list) else [aud])):
        raise _proof_error(f"audience '{aud}' is not the Graph resource.")
    if str(claims.get("iss", "")).lower() != app["id"].lower():
        raise _proof_error("'iss' must be the object id of the application.")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int | float) or not isinstance(exp, int | float):
        raise _proof_error("'nbf' and 'exp' are required.")
    if exp - nbf > PROOF_MAX_LIFETIME_SECONDS or exp <= nbf:
        raise _proof_error("the token lifetime must not exceed 10 minutes.")

    def valid_at(now: float) -> bool:
        return nbf - _SKEW_SECONDS <= now <= exp + _SKEW_SECONDS

    if not (valid_at(time.time()) or valid_at(ctx.clock.timestamp())):
        raise _proof_error("the token is not within its validity period.")


def add_key(
    ctx: EmulatorContext,
    tenant: str,
    app: dict[str, Any],
    body: dict[str, Any],
    *,
    kind: str = KIND,
    sp: bool = False,
) -> dict[str, Any]:
    """Append the new certificate after checking the proof; returns the stored keyCredential.

    ``kind``/``sp``: the same action on a service principal (its own keyCredentials, its proof's
    ``iss`` is the service principal's object id, the tenant default's servicePrincipalRestrictions).
    """
    for key in body:
        if key not in ("keyCredential", "passwordCredential", "proof"):
            raise unknown_property(key, "microsoft.graph.application.addKey")
    cred = body.get("keyCredential")
    if not isinstance(cred, dict):
        raise bad_request("Required property 'keyCredential' is missing.")
    for key in cred:
        if key not in _KEY_CREDENTIAL_FIELDS:
            raise unknown_property(key, "microsoft.graph.keyCredential")
    verify_proof(ctx, app, body.get("proof"))
    key_type, usage = cred.get("type"), cred.get("usage")
    if key_type not in _USAGE_FOR_TYPE or usage != _USAGE_FOR_TYPE[key_type] or not cred.get("key"):
        raise invalid_value("keyCredential", RESOURCE)
    password = body.get("passwordCredential")
    if key_type == "X509CertAndPassword":
        if not isinstance(password, dict) or not isinstance(password.get("secretText"), str):
            raise bad_request(
                "Property 'passwordCredential.secretText' is required for X509CertAndPassword keys."
            )
    elif password is not None:
        raise bad_request(
            "Property 'passwordCredential' must be null unless the key type is X509CertAndPassword."
        )
    # Graph assigns the keyId (the PowerShell docs: "keyId value should be null").
    entry = parse_key_credentials([{k: v for k, v in cred.items() if k != "keyId"}], [])[0]
    enforce_key(ctx, tenant, app, parse_iso(entry["startDateTime"]), parse_iso(entry["endDateTime"]), sp=sp)
    app["keyCredentials"] = [*app.get("keyCredentials", []), entry]
    ctx.store.put(tenant, kind, app)
    return entry


def remove_key(ctx: EmulatorContext, tenant: str, app: dict[str, Any], body: dict[str, Any]) -> None:
    """Drop one certificate by keyId after checking the proof (made with any valid key, this one included)."""
    key_id = body.get("keyId")
    if not is_guid(key_id):
        raise bad_request("Required property 'keyId' is missing or is not a valid GUID.")
    verify_proof(ctx, app, body.get("proof"))
    remaining = [c for c in app.get("keyCredentials", []) if c["keyId"].lower() != key_id.lower()]
    if len(remaining) == len(app.get("keyCredentials", [])):
        raise bad_request(f"No key credential found with keyId {key_id}.")
    app["keyCredentials"] = remaining
    ctx.store.put(tenant, KIND, app)
