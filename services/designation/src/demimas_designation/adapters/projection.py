"""The village-stats projection in PostgreSQL: one registry worker event applied in the caller's transaction.

A transaction-scoped advisory lock on the worker serialises concurrent events of one worker (the first event of a
worker has no row to lock yet); counter rows are updated in sorted order so concurrent workers never deadlock."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ARRAY, Boolean, Integer, RowMapping, Table, Text, Uuid, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import BadUserInput
from demimas_common.events.envelope import CloudEvent
from demimas_designation.adapters.tables import village_counts, worker_states
from demimas_designation.domain.assessment import VillageCounts
from demimas_designation.domain.village_stats import WorkerState, apply_worker_event, counts_delta

__all__ = ["apply_event", "apply_events", "counts_of", "village_counters"]


async def apply_event(conn: AsyncConnection, event: CloudEvent) -> None:
    """The consumer's handler for `demimas.registry.worker.>` (the inbox around it makes redelivery harmless)."""
    try:
        worker_id = uuid.UUID(str(event.data["workerId"]))
    except (KeyError, ValueError) as exc:
        raise BadUserInput(f"worker event {event.id} without a valid workerId", field="workerId") from exc
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"worker:{worker_id}"})
    row = (await conn.execute(select(worker_states).where(worker_states.c.worker_id == worker_id))).mappings().first()
    before = _state(row) if row else None
    after = apply_worker_event(before, event.type, event.data)
    if after == before or after is None:
        return
    values = {
        "worker_id": worker_id,
        "village_code": after.village_code,
        "status": after.status,
        "version": after.version,
        "procedural": after.procedural,
        "procedural_version": after.procedural_version,
    }
    upsert = insert(worker_states).values(values)
    await conn.execute(upsert.on_conflict_do_update(index_elements=[worker_states.c.worker_id], set_=values))
    for (village, counter), change in counts_delta(before, after).items():
        stmt = insert(village_counts).values(village_code=village, counter=counter, value=change)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[village_counts.c.village_code, village_counts.c.counter],
                set_={"value": village_counts.c.value + change},
            )
        )


def _state(row: RowMapping) -> WorkerState:
    return WorkerState(
        village_code=row["village_code"],
        status=row["status"],
        version=row["version"],
        procedural=row["procedural"],
        procedural_version=row["procedural_version"],
    )


async def village_counters(conn: AsyncConnection, village_code: str) -> dict[str, int]:
    rows = await conn.execute(
        select(village_counts.c.counter, village_counts.c.value).where(village_counts.c.village_code == village_code)
    )
    return {counter: value for counter, value in rows if value}


async def counts_of(conn: AsyncConnection, village_code: str) -> VillageCounts | None:
    """What the assessment needs: workers registered, departed at least once, of those procedurally."""
    counters = await village_counters(conn, village_code)
    if not counters:
        return None
    total = sum(v for k, v in counters.items() if k.startswith("status:"))
    return VillageCounts(total=total, departed=counters.get("departed", 0), procedural=counters.get("procedural", 0))


_LOCK_WORKERS = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k")
_READ_STATES = select(worker_states).where(worker_states.c.worker_id == func.any(bindparam("ids", type_=ARRAY(Uuid))))
# Bulk writes take one array per column and unnest them: the statement text never changes with the batch's size, so
# SQLAlchemy compiles it once and asyncpg prepares it once (a multi-row VALUES is recompiled for every row count).
_STATE_COLUMNS = {
    "worker_id": Uuid,
    "village_code": Text,
    "status": Text,
    "version": Integer,
    "procedural": Boolean,
    "procedural_version": Integer,
}
_COUNT_COLUMNS = {"village_code": Text, "counter": Text, "value": Integer}


def _from_arrays(table: Table, columns: dict[str, Any]) -> Insert:
    """INSERT ... SELECT * FROM unnest(:col1, :col2, ...): one array parameter per column."""
    rows = (
        func.unnest(*(bindparam(c, type_=ARRAY(t)) for c, t in columns.items())).table_valued(*columns).render_derived()
    )
    return insert(table).from_select(list(columns), select(rows))


_write = _from_arrays(worker_states, _STATE_COLUMNS)
_WRITE_STATES = _write.on_conflict_do_update(
    index_elements=[worker_states.c.worker_id],
    set_={c: _write.excluded[c] for c in _STATE_COLUMNS if c != "worker_id"},
)
_add = _from_arrays(village_counts, _COUNT_COLUMNS)
_ADD_COUNTS = _add.on_conflict_do_update(
    index_elements=[village_counts.c.village_code, village_counts.c.counter],
    set_={"value": village_counts.c.value + _add.excluded.value},
)


async def apply_events(conn: AsyncConnection, batch: list[CloudEvent]) -> None:
    """A batch of worker events at once: the batch's workers locked and read in one statement each, the events
    applied in memory in stream order, then one bulk upsert of the states and one of the summed counter deltas
    (in sorted order, like the locks, so concurrent batches never deadlock)."""
    if not batch:
        return
    ids: list[uuid.UUID] = []
    for event in batch:
        try:
            ids.append(uuid.UUID(str(event.data["workerId"])))
        except (KeyError, ValueError) as exc:
            raise BadUserInput(f"worker event {event.id} without a valid workerId", field="workerId") from exc
    await conn.execute(_LOCK_WORKERS, {"keys": sorted({f"worker:{i}" for i in ids})})
    rows = await conn.execute(_READ_STATES, {"ids": list(set(ids))})
    before: dict[uuid.UUID, WorkerState | None] = {r["worker_id"]: _state(r) for r in rows.mappings().all()}
    states = dict(before)
    for worker_id, event in zip(ids, batch, strict=True):
        states[worker_id] = apply_worker_event(states.get(worker_id), event.type, event.data)
    changed = sorted(((w, s) for w, s in states.items() if s is not None and s != before.get(w)), key=lambda ws: ws[0])
    if not changed:
        return
    await conn.execute(
        _WRITE_STATES,
        {
            "worker_id": [w for w, _ in changed],
            "village_code": [s.village_code for _, s in changed],
            "status": [s.status for _, s in changed],
            "version": [s.version for _, s in changed],
            "procedural": [s.procedural for _, s in changed],
            "procedural_version": [s.procedural_version for _, s in changed],
        },
    )
    total: dict[tuple[str, str], int] = {}
    for w, s in changed:
        for key, n in counts_delta(before.get(w), s).items():
            total[key] = total.get(key, 0) + n
    deltas = [(v, c, n) for (v, c), n in sorted(total.items()) if n]
    if deltas:
        await conn.execute(
            _ADD_COUNTS,
            {
                "village_code": [v for v, _, _ in deltas],
                "counter": [c for _, c, _ in deltas],
                "value": [n for _, _, n in deltas],
            },
        )
