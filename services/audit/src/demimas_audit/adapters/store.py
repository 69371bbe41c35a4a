"""Appending to the chain in two steps: `prepare` links a batch to the chain's end in memory (skipping what was read
before and events stored already, noting gaps in the stream sequence, hashing each new record onto the previous
hash in format 2, deriving the query columns from the event); `write` inserts it in one statement and moves the
head, only if the head is still where the batch was linked (otherwise `HeadMoved`: re-read from the head)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, LargeBinary, Text, Uuid, bindparam, cast, func, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_audit.adapters.tables import gaps, head, records
from demimas_audit.domain.chain import canonical, digests, link_digests
from demimas_audit.domain.envelope import derive, event_id

__all__ = [
    "Head",
    "HeadMoved",
    "Incoming",
    "Prepared",
    "prepare",
    "read_head",
    "read_stream_position",
    "stored_ids",
    "write",
]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message of the stream: its sequence and the event as received (a JSON object)."""

    stream_seq: int
    body: dict[str, Any]


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
# One array parameter per column (unnest): the statement is the same for every batch size, prepared once.
_rows = func.unnest(*(bindparam(c, type_=ARRAY(t)) for c, t in _COLUMNS.items())).table_valued(*_COLUMNS)
_derived = _rows.render_derived()
_INSERT = insert(records).from_select(
    list(_COLUMNS), select(*(cast(_derived.c[c], JSONB) if c == "event" else _derived.c[c] for c in _COLUMNS))
)


@dataclass(frozen=True, slots=True)
class Head:
    """Where the chain ends: its last sequence and hash, and the last stream sequence read."""

    seq: int
    hash: bytes
    stream_seq: int


@dataclass
class Prepared:
    """A batch linked to the chain in memory, ready to be written after `start` (and only after it)."""

    start: Head
    end: Head
    rows: dict[str, list[Any]]
    gaps: list[tuple[int, int, int]]
    """(first missing stream sequence, last one, the chain sequence they follow)"""
    ids: set[uuid.UUID]

    @property
    def added(self) -> int:
        return len(self.rows["seq"])


async def read_head(conn: AsyncConnection, *, lock: bool = False) -> Head:
    stmt = select(head).where(head.c.id == 1)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).one()
    return Head(int(row.seq), bytes(row.hash), int(row.stream_seq))


async def read_stream_position(conn: AsyncConnection) -> int:
    """The last stream sequence the chain has read (0 before any)."""
    return int(await conn.scalar(select(head.c.stream_seq).where(head.c.id == 1)) or 0)


async def stored_ids(conn: AsyncConnection, batch: list[Incoming]) -> set[uuid.UUID]:
    """The batch's event ids already in the store (a republished event is stored once)."""
    ids = [event_id(m.body, m.stream_seq) for m in batch]
    return set((await conn.execute(select(records.c.event_id).where(records.c.event_id.in_(ids)))).scalars())


def prepare(batch: list[Incoming], start: Head, stored: set[uuid.UUID]) -> Prepared:
    """Link the batch (in stream order) to the chain that ends at `start`: pure, no I/O."""
    now = dt.datetime.now(dt.UTC)
    seq, prev, last_stream = start.seq, start.hash, start.stream_seq
    rows: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    found_gaps: list[tuple[int, int, int]] = []
    added: set[uuid.UUID] = set()
    for m in batch:
        if m.stream_seq <= last_stream:  # read before (a redelivery after a reconnect)
            continue
        if m.stream_seq > last_stream + 1:
            found_gaps.append((last_stream + 1, m.stream_seq - 1, seq))
        last_stream = m.stream_seq
        derived = derive(m.body, stream_seq=m.stream_seq, recorded_at=now)
        if derived["event_id"] in stored or derived["event_id"] in added:  # the same event again (republished)
            continue
        added.add(derived["event_id"])
        canon = canonical(m.body)
        record_digests = digests(canon, m.stream_seq, now)
        digest = link_digests(prev, record_digests)
        seq += 1
        values = {
            "seq": seq,
            "stream_seq": m.stream_seq,
            **derived,
            "event": canon.decode(),
            "prev_hash": prev,
            "hash": digest,
            "recorded_at": now,
            "digests": record_digests,
        }
        for c, v in values.items():
            rows[c].append(v)
        prev = digest
    return Prepared(start, Head(seq, prev, last_stream), rows, found_gaps, added)


class HeadMoved(RuntimeError):
    """The chain's head is not where the batch was linked: another writer, or a lost update. Re-read from the head."""


async def write(conn: AsyncConnection, p: Prepared) -> None:
    """Write a prepared batch in the caller's transaction, if the chain still ends where it was linked."""
    now = dt.datetime.now(dt.UTC)
    for first, last, after in p.gaps:
        await conn.execute(insert(gaps).values(from_stream_seq=first, to_stream_seq=last, after_seq=after,
                                               detected_at=now).on_conflict_do_nothing())  # fmt: skip
    if p.added:
        await conn.execute(_INSERT, p.rows)
    moved = await conn.execute(
        sa_update(head)
        .where(head.c.id == 1, head.c.seq == p.start.seq, head.c.hash == p.start.hash,
               head.c.stream_seq == p.start.stream_seq)
        .values(seq=p.end.seq, hash=p.end.hash, stream_seq=p.end.stream_seq)
    )  # fmt: skip
    if moved.rowcount != 1:
        raise HeadMoved(f"the chain no longer ends at {p.start.seq}")
