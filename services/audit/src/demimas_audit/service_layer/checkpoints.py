"""Signed checkpoints: the chain's head (sequence and hash) signed with the service's Ed25519 key, stored and
published on `audit.checkpoints` (outside `demimas.>`, so checkpoints never feed back into the chain). A verifier
holding the public key can then prove that the chain up to that record existed at that time, even against someone
who rewrote the database with a consistent new chain."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.tables import checkpoints, head
from demimas_common.events.nats import connect

__all__ = ["CHECKPOINT_SUBJECT", "Checkpoint", "Checkpointer", "key_id", "load_signing_key", "message", "public_pem"]

CHECKPOINT_SUBJECT = "audit.checkpoints"
log = logging.getLogger("demimas.audit")


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


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    if not path.is_file():
        if not create:
            raise RuntimeError(f"the audit signing key {path} does not exist (DEMIMAS_AUDIT_SIGNING_KEY)")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key")
    return key


class Checkpointer:
    def __init__(self, engine: AsyncEngine, nats_url: str, key: Ed25519PrivateKey, *, interval: float) -> None:
        self.engine, self.nats_url, self.key, self.interval = engine, nats_url, key, interval
        self.key_id = key_id(key.public_key())
        self._stopping = False

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the head if it moved since the last checkpoint; store it, then publish it (best effort)."""
        async with self.engine.begin() as conn:
            current = (await conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1))).one()
            last = await conn.scalar(select(checkpoints.c.seq).order_by(checkpoints.c.seq.desc()).limit(1))
            if current.seq == 0 or current.seq == last:
                return None
            signed_at = dt.datetime.now(dt.UTC)
            digest = bytes(current.hash)
            cp = Checkpoint(
                int(current.seq),
                digest,
                signed_at,
                self.key_id,
                self.key.sign(message(int(current.seq), digest, signed_at)),
            )
            await conn.execute(
                insert(checkpoints)
                .values(seq=cp.seq, hash=cp.hash, signed_at=cp.signed_at, key_id=cp.key_id, signature=cp.signature)
                .on_conflict_do_nothing()
            )
        try:
            nc = await connect(self.nats_url, name="audit-checkpoints", reconnect=False)
            try:
                await nc.publish(CHECKPOINT_SUBJECT, orjson.dumps(cp.to_json()))
                await nc.flush()
            finally:
                await nc.close()
        except Exception as exc:  # stored and signed all the same; the next one is published again
            log.warning("audit checkpoint %d not published: %s", cp.seq, exc)
        return cp

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.interval)
            try:
                await self.checkpoint()
            except Exception as exc:
                log.warning("audit checkpoint failed: %s", exc)
