"""Signing secrets: made here, shown to the agency once, kept encrypted (AES-256-GCM, key DEMIMAS_FEEDS_SECRET_KEY).

A secret is `whsec_` + base64 of 24 random bytes, the Standard Webhooks format: the HMAC key is the decoded bytes.
A stored secret is `version (1 byte) || nonce (12 bytes) || ciphertext+tag`, with the endpoint's id as associated
data, so a ciphertext copied onto another endpoint's row does not decrypt."""

from __future__ import annotations

import base64
import os
import secrets as _random
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["PREFIX", "SecretBox", "new_secret", "secret_key_bytes"]

PREFIX = "whsec_"
_VERSION = b"\x01"


def new_secret() -> str:
    return PREFIX + base64.b64encode(_random.token_bytes(24)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (Standard Webhooks: base64 after the prefix)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secret key must hold 32 bytes")
        self._aead = AESGCM(key)

    def encrypt(self, endpoint_id: uuid.UUID, secret: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def decrypt(self, endpoint_id: uuid.UUID, blob: bytes) -> str:
        if blob[:1] != _VERSION or len(blob) < 1 + 12 + 16:
            raise ValueError("not a stored secret of this version")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], endpoint_id.bytes).decode()
        except InvalidTag:
            raise ValueError("the stored secret does not decrypt with this key for this endpoint") from None
