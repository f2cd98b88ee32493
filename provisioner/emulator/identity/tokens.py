"""Token minting and verification: RS256 JWTs signed by one emulator-wide key.

The key (RSA 2048, with a self-signed certificate so the JWKS can carry ``x5c``
like the real one) is generated once and persisted in the store at tenant
``"*"``, kind ``meta``, id ``signingKey``: tokens, JWKS consumers and cached
discovery documents keep working across restarts of a durable emulator.

Access tokens come in the two shapes of the access-token claims reference: v1.0
(``iss`` ``https://sts.windows.net/{tid}/``, ``appid``/``appidacr``, ``idp``, and for a user
``upn``/``unique_name``/``given_name``/``family_name``/``amr``) and v2.0 (``iss``
``{authority}/{tid}/v2.0``, ``azp``/``azpacr``, ``preferred_username``). Which one a token gets is
the resource's choice (``api.requestedAccessTokenVersion``: null or 1 -> v1.0, 2 -> v2.0), so
Microsoft Graph, Exchange and Key Vault tokens are v1.0 as Entra issues them; the grants decide
(:func:`provisioner.emulator.identity.grants.token_shape`). ID tokens are always v2.0 (they come
from the v2.0 endpoint). Time comes from ``ctx.clock`` so tests can age tokens without waiting.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from provisioner.emulator.clock import iso
from provisioner.emulator.context import EmulatorContext
from provisioner.emulator.store import GLOBAL, Store

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
KEYVAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
KEYVAULT_AUDIENCE = "https://vault.azure.net"
V1 = "1.0"
V2 = "2.0"

# Names under which a resource may appear in `aud`; verifying against any one accepts them all.
_AUDIENCE_ALIASES: tuple[frozenset[str], ...] = (
    frozenset({GRAPH_AUDIENCE, GRAPH_AUDIENCE + "/", GRAPH_APP_ID}),
    frozenset(
        {
            EXCHANGE_AUDIENCE,
            EXCHANGE_AUDIENCE + "/",
            "https://outlook.office.com",
            "https://outlook.office.com/",
            EXCHANGE_APP_ID,
        }
    ),
    frozenset({KEYVAULT_AUDIENCE, KEYVAULT_AUDIENCE + "/", KEYVAULT_APP_ID}),
)

SIGNING_KEY_ID = "signingKey"
_ALGORITHM = "RS256"
# Accept tokens whose nbf is a little in the future (clients and emulator share a clock, but be kind).
_NBF_LEEWAY_SECONDS = 300


class InvalidToken(Exception):
    """A bearer token the emulator will not accept; ``reason`` is one of
    "malformed", "signature", "expired", "audience", "issuer"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @functools.cached_property
    def session_secret(self) -> bytes:
        """HMAC key for the authorize page's tickets and session cookie: derived from the private
        key, so it is stable across restarts, secret, and never stored on its own."""
        der = self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return hashlib.sha256(b"provisioner-emulator-session\0" + der).digest()

    def jwk(self, issuer: str) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(der).decode()],
            "issuer": issuer,
        }


_key_cache: weakref.WeakKeyDictionary[Store, SigningKey] = weakref.WeakKeyDictionary()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_key(ctx: EmulatorContext) -> SigningKey:
    """The emulator's token signing key: loaded from the store, or generated once and stored."""
    store = ctx.store
    cached = _key_cache.get(store)
    if cached is not None:
        return cached
    with store.lock:
        cached = _key_cache.get(store)
        if cached is not None:
            return cached
        record = store.get(GLOBAL, "meta", SIGNING_KEY_ID)
        if record is None:
            record = _new_signing_key_record(ctx.clock.now())
            store.put(GLOBAL, "meta", record)
        private_key = serialization.load_pem_private_key(record["privateKeyPem"].encode(), password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("emulator signing key is not an RSA key")
        key = SigningKey(
            kid=record["kid"],
            private_key=private_key,
            certificate=x509.load_pem_x509_certificate(record["certificatePem"].encode()),
        )
        _key_cache[store] = key
        return key


def _new_signing_key_record(now: datetime) -> dict[str, Any]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provisioner emulator token signing")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    kid = b64url(cert.fingerprint(hashes.SHA1()))  # x5t is a SHA-1 thumbprint by definition (RFC 7515)
    return {
        "id": SIGNING_KEY_ID,
        "kid": kid,
        "privateKeyPem": private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "certificatePem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "createdDateTime": iso(now),
    }


def issuer_for(ctx: EmulatorContext, tenant_id: str, version: str = V2) -> str:
    """``iss`` of a token of ``version``: v1.0 tokens name the v1 STS, whatever host issued them."""
    if version == V1:
        return f"https://sts.windows.net/{tenant_id}/"
    return f"{ctx.base_url}/{tenant_id}/v2.0"


def _sign(ctx: EmulatorContext, claims: dict[str, Any]) -> str:
    key = signing_key(ctx)
    return jwt.encode(claims, key.private_key, algorithm=_ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


def mint_access_token(
    ctx: EmulatorContext,
    tenant_id: str,
    *,
    client_app_id: str,
    oid: str,
    audience: str,
    roles: list[str] | None = None,
    scp: str | None = None,
    lifetime_seconds: int = 3600,
    version: str = V1,
    client_auth: str | None = None,
    user: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """An access token for ``audience``. ``scp`` given -> a delegated (user) token, else app-only.

    ``version`` is "1.0" or "2.0" (see the module docstring); ``client_auth`` is how the client
    authenticated ("0" public, "1" secret, "2" certificate: ``appidacr`` in v1.0, ``azpacr`` in
    v2.0); ``user`` is the signed-in Graph user of a delegated token, whose names each shape
    carries in its own claims.
    """
    now = int(ctx.clock.timestamp())
    issuer = issuer_for(ctx, tenant_id, version)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "tid": tenant_id,
        "oid": oid,
        "sub": oid,
        "idtyp": "user" if scp is not None else "app",
        "ver": version,
        "uti": b64url(secrets.token_bytes(16)),
    }
    if version == V1:
        claims["appid"] = client_app_id
        if client_auth is not None:
            claims["appidacr"] = client_auth
        if scp is None:
            claims["idp"] = issuer  # the app's own tenant authenticated it
    else:
        claims["azp"] = client_app_id
        if client_auth is not None:
            claims["azpacr"] = client_auth
    if user is not None:
        claims.update(_user_claims(user, version))
    if scp is not None:
        claims["scp"] = scp
    if roles:
        claims["roles"] = list(roles)
    if extra:
        claims.update(extra)
    return _sign(ctx, claims)


def _user_claims(user: dict[str, Any], version: str) -> dict[str, Any]:
    """The signed-in user's names: v1.0 carries upn/unique_name and the name parts, v2.0 preferred_username."""
    upn = user.get("userPrincipalName")
    if version == V1:
        claims = {
            "name": user.get("displayName"),
            "upn": upn,
            "unique_name": upn,
            "given_name": user.get("givenName"),
            "family_name": user.get("surname"),
            "amr": ["pwd"],
            "acr": "1",
        }
    else:
        claims = {"name": user.get("displayName"), "preferred_username": upn}
    return {k: v for k, v in claims.items() if v is not None}


def mint_id_token(
    ctx: EmulatorContext,
    tenant_id: str,
    *,
    client_id: str,
    user: dict[str, Any],
    nonce: str | None,
    scopes: list[str] | set[str],
    lifetime_seconds: int = 3600,
) -> str:
    """An OIDC ID token for ``client_id`` about ``user`` (a Graph user object)."""
    now = int(ctx.clock.timestamp())
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": issuer_for(ctx, tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "oid": user["id"],
        "sub": pairwise_subject(user["id"], client_id),
        "tid": tenant_id,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": "2.0",
    }
    if "profile" in scopes:
        claims["name"] = user.get("displayName")
        claims["preferred_username"] = user.get("userPrincipalName")
    if "email" in scopes and user.get("mail"):
        claims["email"] = user["mail"]
    if nonce:
        claims["nonce"] = nonce
    return _sign(ctx, claims)


def pairwise_subject(user_id: str, client_id: str) -> str:
    """``sub`` is unique per user *and* application on the identity platform (subject_types: pairwise)."""
    return b64url(hashlib.sha256(f"{user_id}:{client_id}".encode()).digest())


def audience_aliases(audience: str) -> frozenset[str]:
    for group in _AUDIENCE_ALIASES:
        if audience in group:
            return group
    return frozenset({audience, audience.rstrip("/")})


def verify_access_token(ctx: EmulatorContext, token: str, *, audience: str | None = None) -> dict[str, Any]:
    """Claims of a token this emulator issued, or :class:`InvalidToken` saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed", str(exc)) from None
    key = signing_key(ctx)
    if header.get("alg") != _ALGORITHM or header.get("kid") != key.kid:
        raise InvalidToken("signature", "unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[_ALGORITHM],
            # Time is checked below against the emulator clock, audience and issuer with aliases.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("signature", str(exc)) from None
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed", str(exc)) from None
    now = ctx.clock.timestamp()
    if not isinstance(claims.get("exp"), int | float) or now >= claims["exp"]:
        raise InvalidToken("expired", "token lifetime has ended")
    if isinstance(claims.get("nbf"), int | float) and now + _NBF_LEEWAY_SECONDS < claims["nbf"]:
        raise InvalidToken("expired", "token is not yet valid")
    if audience is not None and claims.get("aud") not in audience_aliases(audience):
        raise InvalidToken("audience", f"token audience {claims.get('aud')!r} is not {audience!r}")
    tid = claims.get("tid")
    version = V1 if claims.get("ver") == V1 else V2
    if not isinstance(tid, str) or claims.get("iss") != issuer_for(ctx, tid, version):
        raise InvalidToken("issuer", f"unexpected issuer {claims.get('iss')!r}")
    return claims
