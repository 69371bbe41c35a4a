"""Standard Webhooks signatures (https://www.standardwebhooks.com): `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))
where the key is the base64 part of the `whsec_...` secret. During a rotation's grace period every active secret signs
and the `webhook-signature` header carries the signatures separated by spaces; a receiver accepts any one of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["SECRET_PREFIX", "TOLERANCE_SECONDS", "headers", "secret_key", "sign", "verify"]

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
TOLERANCE_SECONDS = 300
"""How far a `webhook-timestamp` may lie from the receiver's clock (the specification's replay window)."""


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (raw key bytes pass through)."""
    if isinstance(secret, bytes):
        return secret
    encoded = secret.removeprefix(SECRET_PREFIX)
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    if not key:
        raise ValueError("empty webhook secret")
    return key


def _one(key: bytes, signed: bytes) -> str:
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str | bytes | Sequence[str | bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,<b64>` per secret, separated by spaces (rotation: old and new)."""
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not secrets:
        raise ValueError("no secret to sign with")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    return " ".join(_one(secret_key(s), signed) for s in secrets)


def headers(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> list[tuple[bytes, bytes]]:
    """The three Standard Webhooks headers for one attempt (keys already decoded with `secret_key`)."""
    return [
        (b"webhook-id", msg_id.encode()),
        (b"webhook-timestamp", str(int(timestamp)).encode()),
        (b"webhook-signature", sign(keys, msg_id, timestamp, body).encode()),
    ]


def verify(
    secrets: Sequence[str | bytes],
    msg_id: str,
    timestamp: str,
    body: bytes,
    signature_header: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the timestamp is an integer within `tolerance` seconds of `now`, and one of the
    header's `v1,` signatures is the HMAC of the delivery under one of the secrets (compared in constant time)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance or not secrets:
        return False
    given = [p.removeprefix("v1,") for p in signature_header.split() if p.startswith("v1,")]
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = [_one(secret_key(s), signed).removeprefix("v1,") for s in secrets]
    return any(hmac.compare_digest(g.encode(), e.encode()) for g in given for e in expected)
