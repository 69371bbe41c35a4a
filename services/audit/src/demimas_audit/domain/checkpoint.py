"""A signed checkpoint: the chain's head (sequence and hash) and the time, signed with the audit service's Ed25519
key. What is signed (`message`), how a key is named (`key_id`) and the published JSON form (`Checkpoint.to_json`,
read back by `parse_checkpoint`) are shared by the service that signs, the witness and an offline verifier."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["Checkpoint", "key_id", "message", "parse_checkpoint", "public_pem", "sign", "signature_valid"]


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: bytes
    signed_at: dt.datetime
    key_id: str
    signature: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "hash": self.hash.hex(),
            "signedAt": self.signed_at.isoformat(),
            "keyId": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }


def message(seq: int, digest: bytes, signed_at: dt.datetime) -> bytes:
    """What is signed: the head and the time, in a fixed text form."""
    return f"demimas-audit-checkpoint:{seq}:{digest.hex()}:{signed_at.isoformat()}".encode()


def sign(key: Ed25519PrivateKey, seq: int, digest: bytes, signed_at: dt.datetime) -> Checkpoint:
    """The checkpoint of the chain's head at `seq` with hash `digest`, signed with `key` at `signed_at`."""
    return Checkpoint(seq, digest, signed_at, key_id(key.public_key()), key.sign(message(seq, digest, signed_at)))


def signature_valid(key: Ed25519PublicKey, cp: Checkpoint) -> bool:
    """Whether `key` signed this checkpoint's sequence, hash and time."""
    try:
        key.verify(cp.signature, message(cp.seq, cp.hash, cp.signed_at))
    except InvalidSignature:
        return False
    return True


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def parse_checkpoint(data: bytes) -> Checkpoint:
    """A checkpoint as the audit service publishes it (`Checkpoint.to_json`); ValueError if it is not one."""
    try:
        item = orjson.loads(data)
        if not isinstance(item, dict):
            raise ValueError("not a JSON object")
        seq = item["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"sequence {seq!r} is not a positive integer")
        digest = bytes.fromhex(str(item["hash"]))
        if len(digest) != 32:
            raise ValueError("the hash is not 32 bytes")
        signed_at = dt.datetime.fromisoformat(str(item["signedAt"]))
        signature = base64.b64decode(str(item["signature"]), validate=True)
        return Checkpoint(seq, digest, signed_at, str(item["keyId"]), signature)
    except (KeyError, TypeError, ValueError) as exc:  # ValueError: JSON, hex, base64, a time, or the checks above
        raise ValueError(f"not a checkpoint: {type(exc).__name__}: {exc}") from exc
