"""PKCE S256 and state values for the authorize flow."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from provisioner.oauth.pkce import PkcePair, new_state, s256_challenge

UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]+$")


def test_rfc7636_appendix_b_vector() -> None:
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_generated_pair_is_valid_and_fresh() -> None:
    pair, other = PkcePair.generate(), PkcePair.generate()
    assert 43 <= len(pair.verifier) <= 128 and UNRESERVED.match(pair.verifier)
    assert pair.method == "S256"
    assert pair.challenge == s256_challenge(pair.verifier)
    assert pair.verifier != other.verifier
    assert pair.verifier not in repr(pair)


def test_state_is_unguessable_and_url_safe() -> None:
    states = {new_state() for _ in range(50)}
    assert len(states) == 50
    assert all(UNRESERVED.match(s) and len(s) >= 32 for s in states)


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
        min_size=43,
        max_size=128,
    )
)
def test_challenge_is_43_char_base64url(verifier: str) -> None:
    challenge = s256_challenge(verifier)
    assert len(challenge) == 43 and "=" not in challenge and UNRESERVED.match(challenge)
