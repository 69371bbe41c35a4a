"""`forged_token` (tests/conftest.py) always changes a token's signature, so a test that expects a forged token refused
never sends the real one: writing "AAAA" over the end did, about once in 65,536 Ed25519 tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from tests.conftest import AUDIENCE, ISSUER, forged_token


def signature_of(token: str) -> bytes:
    signature = token.split(".")[2]
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def with_signature(token: str, raw: bytes) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("forged-keys"))


def verifies(keys: DevKeys, token: str) -> bool:
    private = serialization.load_pem_private_key(Path(keys.private_key_path).read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    try:
        jwt.decode(token, private.public_key(), algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.InvalidTokenError:
        return False
    return True


def test_a_forged_token_never_verifies(keys: DevKeys) -> None:
    for _ in range(50):
        token = mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency="KP2MI")
        assert verifies(keys, token)
        assert signature_of(forged_token(token)) != signature_of(token)
        assert not verifies(keys, forged_token(token))


def test_a_signature_already_ending_in_aaaa_is_changed_too(keys: DevKeys) -> None:
    """Its last two bytes nought and the low nibble of the one before: its base64url ends in "AAAA", and writing
    "AAAA" over that end gave the real token back (the case CI can meet, once in 65,536 tokens)."""
    token = mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency="KP2MI")
    raw = bytearray(signature_of(token))
    raw[61] &= 0xF0
    raw[62:64] = bytes(2)
    token = with_signature(token, bytes(raw))
    assert token.endswith("AAAA")
    assert signature_of(forged_token(token)) != signature_of(token)
    assert forged_token(token) != token
