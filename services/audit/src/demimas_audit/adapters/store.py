"""The chain in PostgreSQL (`ChainStore`, over one connection of a unit of work): where it ends, which events it
holds, appending a batch linked in memory (`domain/ingest.py`) with one statement, and every record in order for an
export. Appending moves the head only if it is still where the batch was linked (otherwise `HeadMoved`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, LargeBinary, Text, Uuid, bindparam, cast, func, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_audit.adapters.tables import gaps, head, records
from demimas_audit.domain.chain import Record
from demimas_audit.domain.ingest import RECORD_COLUMNS, Head, HeadMoved, Prepared

__all__ = ["ChainStore"]

_COLUMNS: dict[str, Any] = {
    "seq": BigInteger,
    "stream_seq": BigInteger,
    "event_id": Uuid,
    "type": Text,
    "source": Text,
    "subject": Text,
    "time": DateTime(timezone=True),
    "actor_agency": Text,
    "actor_sub": Text,
    "trace_id": Text,
    "causation_id": Text,
    "correlation_id": Text,
    "event": Text,  # the canonical text itself, cast to jsonb in SQL (no second serialisation)
    "prev_hash": LargeBinary,
    "hash": LargeBinary,
    "recorded_at": DateTime(timezone=True),
    "digests": LargeBinary,
}
assert tuple(_COLUMNS) == RECORD_COLUMNS, "the insert's columns are those the domain fills"
# One array parameter per column (unnest): the statement is the same for every batch size, prepared once.
_rows = func.unnest(*(bindparam(c, type_=ARRAY(t)) for c, t in _COLUMNS.items())).table_valued(*_COLUMNS)
_derived = _rows.render_derived()
_INSERT = insert(records).from_select(
    list(_COLUMNS), select(*(cast(_derived.c[c], JSONB) if c == "event" else _derived.c[c] for c in _COLUMNS))
)


class ChainStore:
    """The records, the head and the gaps, in the transaction of the connection given."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def head(self) -> Head:
        row = (await self.conn.execute(select(head).where(head.c.id == 1))).one()
        return Head(int(row.seq), bytes(row.hash), int(row.stream_seq))

    async def stream_position(self) -> int:
        """The last stream sequence the chain has read (0 before any)."""
        return int(await self.conn.scalar(select(head.c.stream_seq).where(head.c.id == 1)) or 0)

    async def stored_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `ids` that are the event id of a stored record."""
        found = await self.conn.execute(select(records.c.event_id).where(records.c.event_id.in_(ids)))
        return set(found.scalars())

    async def append(self, p: Prepared) -> None:
        """Write a prepared batch (its gaps, its records, the new head), if the chain still ends where it was
        linked; `HeadMoved` otherwise."""
        now = dt.datetime.now(dt.UTC)
        for first, last, after in p.gaps:
            await self.conn.execute(insert(gaps).values(from_stream_seq=first, to_stream_seq=last, after_seq=after,
                                                        detected_at=now).on_conflict_do_nothing())  # fmt: skip
        if p.added:
            await self.conn.execute(_INSERT, p.rows)
        moved = await self.conn.execute(
            sa_update(head)
            .where(head.c.id == 1, head.c.seq == p.start.seq, head.c.hash == p.start.hash,
                   head.c.stream_seq == p.start.stream_seq)
            .values(seq=p.end.seq, hash=p.end.hash, stream_seq=p.end.stream_seq)
        )  # fmt: skip
        if moved.rowcount != 1:
            raise HeadMoved(f"the chain no longer ends at {p.start.seq}")

    async def records_in_order(self) -> AsyncIterator[Record]:
        """Every record as the chain hashed it (no derived column), by sequence, streamed from the server."""
        r = records.c
        stream = await self.conn.stream(
            select(r.seq, r.stream_seq, r.event, r.prev_hash, r.hash, r.recorded_at, r.digests)
            .order_by(r.seq)
            .execution_options(yield_per=2000)
        )
        async for seq, stream_seq, event, prev, digest, recorded_at, record_digests in stream:
            yield Record(
                seq,
                event,
                bytes(prev),
                bytes(digest),
                stream_seq=stream_seq,
                recorded_at=recorded_at,
                digests=None if record_digests is None else bytes(record_digests),
            )
