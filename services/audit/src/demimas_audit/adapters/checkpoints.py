"""The stored checkpoints (`audit.checkpoints` table), over one connection of a unit of work: the last one (or its
sequence), adding one, and all of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_audit.adapters.tables import checkpoints
from demimas_audit.domain.checkpoint import Checkpoint

__all__ = ["CheckpointStore"]


def _checkpoint(r: Row[Any]) -> Checkpoint:
    return Checkpoint(int(r.seq), bytes(r.hash), r.signed_at, str(r.key_id), bytes(r.signature))


class CheckpointStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def last_seq(self) -> int | None:
        seq = await self.conn.scalar(select(checkpoints.c.seq).order_by(checkpoints.c.seq.desc()).limit(1))
        return None if seq is None else int(seq)

    async def last(self) -> Checkpoint | None:
        """The checkpoint at the highest sequence (what the checkpointer re-publishes while the head stays put)."""
        rows = await self.conn.execute(select(checkpoints).order_by(checkpoints.c.seq.desc()).limit(1))
        row = rows.first()
        return None if row is None else _checkpoint(row)

    async def add(self, cp: Checkpoint) -> None:
        """Add a checkpoint; one already stored at its sequence (another replica's) is kept."""
        await self.conn.execute(
            insert(checkpoints)
            .values(seq=cp.seq, hash=cp.hash, signed_at=cp.signed_at, key_id=cp.key_id, signature=cp.signature)
            .on_conflict_do_nothing()
        )

    async def all(self) -> list[Checkpoint]:
        """Every stored checkpoint, by sequence."""
        rows = await self.conn.execute(select(checkpoints).order_by(checkpoints.c.seq))
        return [_checkpoint(r) for r in rows]
