"""Signed checkpoints, every `interval` seconds (a background worker of the service skeleton): the chain's head
signed with the service's Ed25519 key and stored (`service_layer/checkpoints.py`), then published on
`audit.checkpoints` (outside `demimas.>`, so checkpoints never feed back into the chain). A verifier holding the
public key can then prove that the chain up to that record existed at that time, even against someone who rewrote
the database with a consistent new chain.

While the head does not move, nothing new is signed: each interval the last stored checkpoint is re-published
unchanged instead (a heartbeat; nothing before the first checkpoint). A witness takes it as a duplicate of what it
already holds, and can tell a quiet chain from a publisher that was stopped or cut off (`--warn-after`).

What a checkpoint is and what is signed: `domain/checkpoint.py`; storing and publishing it: `adapters/`."""

from __future__ import annotations

import asyncio
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.bus import publish_checkpoint
from demimas_audit.adapters.tables import SCHEMA
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.domain.checkpoint import Checkpoint, key_id
from demimas_audit.domain.commands import SignCheckpoint
from demimas_audit.service_layer.checkpoints import last_checkpoint, sign_checkpoint

__all__ = ["Checkpointer"]

log = logging.getLogger("demimas.audit")


class Checkpointer:
    def __init__(self, engine: AsyncEngine, nats_url: str, key: Ed25519PrivateKey, *, interval: float) -> None:
        self.engine, self.nats_url, self.key, self.interval = engine, nats_url, key, interval
        self.key_id = key_id(key.public_key())
        self._stopping = False

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the head if it moved since the last checkpoint, store it, then publish it; if it did not move,
        re-publish the last stored checkpoint as a heartbeat (nothing before the first). One publication per call,
        best effort. The new checkpoint, or None when the head did not move."""
        async with AuditUnitOfWork(self.engine, schema=SCHEMA) as uow:
            cp = await sign_checkpoint(SignCheckpoint(self.key), uow)
            heartbeat = await last_checkpoint(uow) if cp is None else None  # no commit yet: the transaction is open
        published = cp or heartbeat
        if published is None:
            return None
        try:
            await publish_checkpoint(self.nats_url, published)
        except Exception as exc:  # stored and signed all the same; the next one (or heartbeat) is published again
            what = "checkpoint" if cp is not None else "heartbeat of checkpoint"
            log.warning("audit %s %d not published: %s", what, published.seq, exc)
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
