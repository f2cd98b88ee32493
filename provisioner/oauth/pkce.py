"""PKCE (RFC 7636) and ``state`` values for one authorization request.

S256 only: ``plain`` would send the verifier itself through the browser. The
verifier uses the full 128-character length the RFC allows (96 random bytes,
base64url), well above the 43-character minimum.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

VERIFIER_BYTES = 96  # -> 128 base64url characters, the RFC 7636 maximum


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` (RFC 7636 section 4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class PkcePair:
    """A fresh verifier and its S256 challenge. The verifier stays out of reprs."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def generate(cls) -> PkcePair:
        verifier = b64url(secrets.token_bytes(VERIFIER_BYTES))
        return cls(verifier=verifier, challenge=s256_challenge(verifier))


def new_state() -> str:
    """An unguessable ``state``: binds the redirect to this run (CSRF protection)."""
    return secrets.token_urlsafe(32)
