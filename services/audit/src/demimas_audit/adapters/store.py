"""Appending to the chain: one transaction per fetched batch locks the writer's head, skips what is stored already
(a redelivered message: stream sequence at or below the head; a republished event: its id stored before), records
gaps in the stream sequence, links each new event to the previous hash and inserts the batch in one statement."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, LargeBinary, Text, Uuid, bindparam, cast, func, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_audit.adapters.tables import gaps, head, records
from demimas_audit.domain.chain import canonical

__all__ = ["Incoming", "append_batch"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message of the stream: its sequence and the event as received (a JSON object)."""

    stream_seq: int
    body: dict[str, Any]


def _trace_id(traceparent: object) -> str | None:
    if isinstance(traceparent, str) and len(traceparent) == 55 and traceparent[2] == "-":
        return traceparent[3:35]
    return None


def _event_id(body: dict[str, Any], stream_seq: int) -> uuid.UUID:
    try:
        return uuid.UUID(str(body.get("id")))
    except ValueError:  # an envelope without a usable id is kept too, under an id derived from its place
        return uuid.uuid5(uuid.NAMESPACE_URL, f"demimas-stream:{stream_seq}")


def _time(body: dict[str, Any], fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(body.get("time")).replace("Z", "+00:00"))
    except ValueError:
        return fallback


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
}
# One array parameter per column (unnest): the statement is the same for every batch size, prepared once.
_rows = func.unnest(*(bindparam(c, type_=ARRAY(t)) for c, t in _COLUMNS.items())).table_valued(*_COLUMNS)
_derived = _rows.render_derived()
_INSERT = insert(records).from_select(
    list(_COLUMNS), select(*(cast(_derived.c[c], JSONB) if c == "event" else _derived.c[c] for c in _COLUMNS))
)


async def append_batch(conn: AsyncConnection, batch: list[Incoming]) -> int:
    """Append the batch (in stream order); returns how many records were added."""
    now = dt.datetime.now(dt.UTC)
    current = (await conn.execute(select(head).where(head.c.id == 1).with_for_update())).one()
    seq, prev, last_stream = current.seq, current.hash, current.stream_seq
    fresh = [m for m in batch if m.stream_seq > last_stream]
    if not fresh:
        return 0
    ids = [_event_id(m.body, m.stream_seq) for m in fresh]
    stored = set((await conn.execute(select(records.c.event_id).where(records.c.event_id.in_(ids)))).scalars())
    rows: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    for m, event_id in zip(fresh, ids, strict=True):
        if m.stream_seq > last_stream + 1:
            await conn.execute(
                insert(gaps)
                .values(from_stream_seq=last_stream + 1, to_stream_seq=m.stream_seq - 1, after_seq=seq, detected_at=now)
                .on_conflict_do_nothing()
            )
        last_stream = m.stream_seq
        if event_id in stored:  # the same event again (republished): stored once
            continue
        stored.add(event_id)
        body = m.body
        canon = canonical(body)
        digest = hashlib.sha256(prev + canon).digest()
        seq += 1
        values = {
            "seq": seq,
            "stream_seq": m.stream_seq,
            "event_id": event_id,
            "type": str(body.get("type", "")),
            "source": str(body.get("source", "")),
            "subject": str(body.get("subject", "")),
            "time": _time(body, now),
            "actor_agency": body.get("actoragency"),
            "actor_sub": body.get("actorsub"),
            "trace_id": _trace_id(body.get("traceparent")),
            "causation_id": body.get("causationid"),
            "correlation_id": body.get("correlationid"),
            "event": canon.decode(),
            "prev_hash": prev,
            "hash": digest,
        }
        for c, v in values.items():
            rows[c].append(v)
        prev = digest
    if rows["seq"]:
        await conn.execute(_INSERT, rows)
    await conn.execute(sa_update(head).where(head.c.id == 1).values(seq=seq, hash=prev, stream_seq=last_stream))
    return len(rows["seq"])
