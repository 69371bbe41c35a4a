"""Signed checkpoints: the chain's head (sequence and hash) signed with the service's Ed25519 key, stored and
published on `audit.checkpoints` (outside `demimas.>`, so checkpoints never feed back into the chain). A verifier
holding the public key can then prove that the chain up to that record existed at that time, even against someone
who rewrote the database with a consistent new chain.

What a checkpoint is and what is signed: `domain/checkpoint.py`; storing and publishing it: `adapters/`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.bus import publish_checkpoint
from demimas_audit.adapters.checkpoints import last_checkpoint_seq, store_checkpoint
from demimas_audit.adapters.keys import load_signing_key
from demimas_audit.adapters.store import read_head
from demimas_audit.domain.checkpoint import Checkpoint, key_id, message

__all__ = ["Checkpointer", "load_signing_key"]  # load_signing_key: the composition root takes it from here

log = logging.getLogger("demimas.audit")


class Checkpointer:
    def __init__(self, engine: AsyncEngine, nats_url: str, key: Ed25519PrivateKey, *, interval: float) -> None:
        self.engine, self.nats_url, self.key, self.interval = engine, nats_url, key, interval
        self.key_id = key_id(key.public_key())
        self._stopping = False

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the head if it moved since the last checkpoint; store it, then publish it (best effort)."""
        async with self.engine.begin() as conn:
            current = await read_head(conn)
            last = await last_checkpoint_seq(conn)
            if current.seq == 0 or current.seq == last:
                return None
            signed_at = dt.datetime.now(dt.UTC)
            cp = Checkpoint(
                current.seq,
                current.hash,
                signed_at,
                self.key_id,
                self.key.sign(message(current.seq, current.hash, signed_at)),
            )
            await store_checkpoint(conn, cp)
        try:
            await publish_checkpoint(self.nats_url, cp)
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
