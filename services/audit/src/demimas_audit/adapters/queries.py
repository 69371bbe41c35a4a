"""Reading the audit store: events by filter (keyset on sequence), one trace, an event's consequences, a worker's
access log, reads of personal data by filter (keyset on sequence, newest first), chain verification over a range
(records streamed in chunks, so a long chain is checked in bounded memory).

Every column these queries read or filter on is covered by the chain, and verification checks it (see
`domain/coverage.py`): a record whose columns were changed in the database is reported with its sequence and the
column.

These are the read side: the GraphQL schema calls them directly, on a connection of its own, since they change
nothing and decide nothing (no unit of work, no use case; what changes the store goes through
`service_layer/` with the `AuditUnitOfWork`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, Text, and_, func, literal, select, true, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_audit.adapters.tables import checkpoints, gaps, head, records
from demimas_audit.domain.chain import GENESIS, ChainProblem, ChainVerifier, Record
from demimas_audit.domain.checkpoint import Checkpoint
from demimas_audit.domain.envelope import DERIVED_COLUMNS

__all__ = [
    "ACCESS_TYPES",
    "AccessFilter",
    "EventFilter",
    "Verification",
    "access_count",
    "access_log",
    "access_log_query",
    "access_page",
    "access_page_query",
    "consequences",
    "event_count",
    "event_page",
    "events_by_ids",
    "trace",
    "verify_range",
]

CHUNK = 5000


@dataclass(frozen=True)
class EventFilter:
    type: str | None = None
    source: str | None = None
    actor_agency: str | None = None
    subject: str | None = None
    trace_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    correlation_id: str | None = None
    village_code: str | None = None
    """the village an event names in `data.villageCode` (registry, designation, pillars and cases events that
    concern one village)"""


def _event_where(f: EventFilter) -> list[ColumnElement[bool]]:
    r = records.c
    where: list[ColumnElement[bool]] = []
    for column, value in (
        (r.type, f.type),
        (r.source, f.source),
        (r.actor_agency, f.actor_agency),
        (r.subject, f.subject),
        (r.trace_id, f.trace_id),
        (r.correlation_id, f.correlation_id),
    ):
        if value is not None:
            where.append(column == value)
    if f.village_code is not None:
        where.append(data_text("villageCode") == f.village_code)
    if f.since is not None:
        where.append(r.time >= f.since)
    if f.until is not None:
        where.append(r.time < f.until)
    return where


async def event_count(conn: AsyncConnection, f: EventFilter) -> int:
    """How many events match `f`: one `count(*)` under the same conditions as the pages, run only for
    `totalCount` (over the whole store, a filter-less count reads every row: select it only when needed)."""
    return int(await conn.scalar(select(func.count()).select_from(records).where(and_(true(), *_event_where(f)))) or 0)


async def event_page(
    conn: AsyncConnection, f: EventFilter, *, first: int, after: int | None
) -> tuple[list[RowMapping], bool]:
    r = records.c
    where = _event_where(f)
    if after is not None:
        where.append(r.seq > after)
    rows = (
        (await conn.execute(select(records).where(and_(true(), *where)).order_by(r.seq).limit(first + 1)))
        .mappings()
        .all()
    )
    return list(rows[:first]), len(rows) > first


async def trace(conn: AsyncConnection, trace_id: str) -> list[RowMapping]:
    stmt = select(records).where(records.c.trace_id == trace_id).order_by(records.c.seq).limit(10_000)
    return list((await conn.execute(stmt)).mappings().all())


async def consequences(conn: AsyncConnection, event_id: str, *, limit: int = 100) -> list[RowMapping]:
    """The events whose causation id is this event's id, in chain order (partial index `records_causation`)."""
    stmt = select(records).where(records.c.causation_id == event_id).order_by(records.c.seq).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def events_by_ids(conn: AsyncConnection, ids: list[str]) -> dict[str, RowMapping]:
    import uuid

    valid = []
    for i in ids:
        try:
            valid.append(uuid.UUID(i))
        except ValueError:
            continue
    rows = await conn.execute(select(records).where(records.c.event_id.in_(valid)))
    return {str(r["event_id"]): r for r in rows.mappings()}


ACCESS_TYPES = ("demimas.registry.personal_data.accessed", "demimas.cases.personal_data.accessed")
"""The events that record a read of a person's data, each naming the workers read in `data.workerIds`: the
registry's (personal fields, family) and the cases service's (the content of protection cases about them). Each
type has a partial GIN index on `workerIds` (migrations 0001 and 0003)."""


def _constant(value: str) -> ColumnElement[str]:
    return literal(value, literal_execute=True)


ACCESSED_WORKERS = records.c.event.op("->", return_type=JSONB)(_constant("data")).op("->", return_type=JSONB)(
    _constant("workerIds")
)
"""`event -> 'data' -> 'workerIds'` as the partial indexes write it. SQLAlchemy's `event["data"]["workerIds"]`
becomes a subscript with parameters (`event[$1][$2]`), an expression PostgreSQL never matches to those indexes."""


def data_text(key: str) -> ColumnElement[str]:
    """`(event -> 'data') ->> '<key>'` with both keys as literals, as migration 0004's indexes write it."""
    return records.c.event.op("->", return_type=JSONB)(_constant("data")).op("->>", return_type=Text)(_constant(key))


@dataclass(frozen=True)
class AccessFilter:
    """Reads of personal data: of one worker (read alone or with others: `data.workerIds`), by an agency (the one
    the read was recorded for, `data.agency`), for a purpose, in a time range (`[since, until)`)."""

    worker_id: str | None = None
    agency: str | None = None
    purpose: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _access_where(kind: str, f: AccessFilter, before: int | None) -> list[ColumnElement[bool]]:
    r = records.c
    where: list[ColumnElement[bool]] = [r.type == _constant(kind)]
    if f.worker_id is not None:
        where.append(ACCESSED_WORKERS.contains([f.worker_id]))
    if f.agency is not None:
        where.append(data_text("agency") == f.agency)
    if f.purpose is not None:
        where.append(data_text("purpose") == f.purpose)
    if f.since is not None:
        where.append(r.time >= f.since)
    if f.until is not None:
        where.append(r.time < f.until)
    if before is not None:
        where.append(r.seq < before)
    return where


def access_page_query(f: AccessFilter, *, first: int, before: int | None) -> Select[Any]:
    """One branch per type in ACCESS_TYPES (so each can use its partial indexes, as `access_log_query`), newest
    first over both; `first + 1` rows to tell whether another page follows."""
    branches = [
        select(records).where(*_access_where(kind, f, before)).order_by(records.c.seq.desc()).limit(first + 1)
        for kind in ACCESS_TYPES
    ]
    found = union_all(*branches).subquery("accessed")
    return select(found).order_by(found.c.seq.desc()).limit(first + 1)


async def access_page(conn: AsyncConnection, f: AccessFilter, *, first: int, before: int | None) -> list[RowMapping]:
    """Up to `first + 1` reads of personal data matching `f`, newest first, older than the sequence `before` (the
    extra row says that another page follows: `Connection.from_rows`)."""
    return list((await conn.execute(access_page_query(f, first=first, before=before))).mappings().all())


async def access_count(conn: AsyncConnection, f: AccessFilter) -> int:
    total = 0
    for kind in ACCESS_TYPES:
        total += int(
            await conn.scalar(select(func.count()).select_from(records).where(*_access_where(kind, f, None))) or 0
        )
    return total


def access_log_query(worker_id: str, *, limit: int = 500) -> Select[Any]:
    """One branch per type in ACCESS_TYPES, each under its own partial index, newest first over all of them.

    The type and the JSON path are written into the SQL as literals, not parameters: the service's prepared
    statements may run on a generic plan, which can use a partial index only when the query itself implies the
    index's predicate and names its expression."""
    branches = [
        select(records)
        .where(records.c.type == _constant(kind), ACCESSED_WORKERS.contains([worker_id]))
        .order_by(records.c.seq.desc())
        .limit(limit)
        for kind in ACCESS_TYPES
    ]
    found = union_all(*branches).subquery("accessed")
    return select(found).order_by(found.c.seq.desc()).limit(limit)


async def access_log(conn: AsyncConnection, worker_id: str, *, limit: int = 500) -> list[RowMapping]:
    """Reads of this worker's personal data, by any service that records them (ACCESS_TYPES), newest first."""
    return list((await conn.execute(access_log_query(worker_id, limit=limit))).mappings().all())


@dataclass(frozen=True)
class Verification:
    first_seq: int
    last_seq: int
    head_seq: int
    head_hash: bytes
    checked: int
    problems: list[ChainProblem]
    gaps: list[tuple[int, int]]


_VERIFIED = [
    records.c.seq,
    records.c.event,
    records.c.prev_hash,
    records.c.hash,
    records.c.stream_seq,
    records.c.recorded_at,
    records.c.digests,
    *(records.c[c] for c in DERIVED_COLUMNS),
]
"""What verification reads of each record: the chain, the hashed columns and the columns derived from the event."""


async def _records(conn: AsyncConnection, first: int, last: int | None) -> AsyncIterator[Record]:
    start = first
    while True:
        stmt = select(*_VERIFIED).where(records.c.seq >= start)
        if last is not None:
            stmt = stmt.where(records.c.seq <= last)
        rows = (await conn.execute(stmt.order_by(records.c.seq).limit(CHUNK))).mappings().all()
        for r in rows:
            yield Record(
                r["seq"],
                r["event"],
                bytes(r["prev_hash"]),
                bytes(r["hash"]),
                stream_seq=r["stream_seq"],
                recorded_at=r["recorded_at"],
                digests=None if r["digests"] is None else bytes(r["digests"]),
                columns={c: r[c] for c in DERIVED_COLUMNS},
            )
        if len(rows) < CHUNK:
            return
        start = rows[-1]["seq"] + 1


async def last_checkpoint(conn: AsyncConnection, up_to: int) -> tuple[Checkpoint, bytes | None] | None:
    """The stored checkpoint with the highest sequence up to `up_to`, and the hash the chain's record at that
    sequence holds now (None when the record is gone)."""
    row = (
        await conn.execute(
            select(checkpoints).where(checkpoints.c.seq <= up_to).order_by(checkpoints.c.seq.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    cp = Checkpoint(int(row.seq), bytes(row.hash), row.signed_at, str(row.key_id), bytes(row.signature))
    found = await conn.scalar(select(records.c.hash).where(records.c.seq == cp.seq))
    return cp, None if found is None else bytes(found)


async def verify_range(conn: AsyncConnection, from_seq: int | None, to_seq: int | None) -> Verification:
    current = (await conn.execute(select(head).where(head.c.id == 1))).one()
    first = max(from_seq or 1, 1)
    last = min(to_seq, current.seq) if to_seq is not None else current.seq
    prev: bytes | None = GENESIS
    if first > 1:
        found = await conn.scalar(select(records.c.hash).where(records.c.seq == first - 1))
        prev = bytes(found) if found is not None else None
    anchors = {
        int(s): bytes(h)
        for s, h in await conn.execute(
            select(checkpoints.c.seq, checkpoints.c.hash).where(
                and_(checkpoints.c.seq >= first, checkpoints.c.seq <= last)
            )
        )
    }
    verifier = ChainVerifier(
        first_seq=first,
        last_seq=last,
        prev_hash=prev,
        head_seq=current.seq,
        head_hash=bytes(current.hash),
        anchors=anchors,
    )
    async for record in _records(conn, first, to_seq):  # beyond the head too when no end is given: inserted rows
        verifier.add(record)
    checked, problems = verifier.finish()
    found_gaps = [
        (int(a), int(b))
        for a, b in await conn.execute(
            select(gaps.c.from_stream_seq, gaps.c.to_stream_seq).order_by(gaps.c.from_stream_seq)
        )
    ]
    return Verification(first, last, int(current.seq), bytes(current.hash), checked, problems, found_gaps)
