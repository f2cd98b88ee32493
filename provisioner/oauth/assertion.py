"""Client assertions for certificate credentials: a JWT signed with the delivered private key.

The identity platform's certificate credential format: header ``alg`` RS256 and ``x5t`` (the
base64url SHA-1 thumbprint of the certificate registered on the app), claims ``aud`` (the token
endpoint), ``iss`` and ``sub`` (the client ID), a unique ``jti``, ``nbf``/``iat`` and an ``exp``
ten minutes later. A fresh assertion per request: the platform may refuse a replayed ``jti``.
The key is read from its file for each assertion and never kept, logged or put in a message.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt

from provisioner.core.errors import ProvisionerError
from provisioner.model.x509 import x5t

LIFETIME_SECONDS = 600


def client_assertion(
    *, key_path: str, thumbprint: str, client_id: str, token_url: str, now: float | None = None
) -> str:
    """A signed client assertion for ``client_id`` at ``token_url`` (see the module docstring)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = Path(key_path)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ProvisionerError(
            f"cannot read the private key file {path}: {exc.strerror or type(exc).__name__}; run provisioner rotate"
        ) from None
    except (ValueError, TypeError):
        raise ProvisionerError(f"the private key file {path} holds no unencrypted PEM private key") from None
    moment = int(now if now is not None else time.time())
    claims = {
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": moment,
        "iat": moment,
        "exp": moment + LIFETIME_SECONDS,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t(thumbprint)})  # type: ignore[arg-type]
