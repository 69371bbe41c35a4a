"""The village-stats projection in PostgreSQL: the workers' last known states and the villages' counters, written in
bulk in the consumer's transaction (the rules that decide what changes are in `domain.village_stats`).

Transaction-scoped advisory locks on the workers serialise concurrent events of one worker (the first event of a
worker has no row to lock yet); locks are taken and rows written in sorted order so concurrent batches never
deadlock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, Boolean, Integer, RowMapping, Table, Text, Uuid, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_designation.adapters.tables import events, village_counts, worker_states
from demimas_designation.domain.assessment import VillageCounts
from demimas_designation.domain.village_stats import WorkerState, village_counts_of

__all__ = ["VillageStatsRepository"]

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


def _state(row: RowMapping) -> WorkerState:
    return WorkerState(
        village_code=row["village_code"],
        status=row["status"],
        version=row["version"],
        procedural=row["procedural"],
        procedural_version=row["procedural_version"],
    )


class VillageStatsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_workers(self, ids: Sequence[uuid.UUID]) -> None:
        """Until the end of the transaction, no other transaction changes these workers' states."""
        await self.conn.execute(_LOCK_WORKERS, {"keys": sorted({f"worker:{i}" for i in ids})})

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkerState]:
        """The stored states of those of the workers the projection knows."""
        rows = await self.conn.execute(_READ_STATES, {"ids": list(set(ids))})
        return {r["worker_id"]: _state(r) for r in rows.mappings().all()}

    async def write_states(self, states: Sequence[tuple[uuid.UUID, WorkerState]]) -> None:
        await self.conn.execute(
            _WRITE_STATES,
            {
                "worker_id": [w for w, _ in states],
                "village_code": [s.village_code for _, s in states],
                "status": [s.status for _, s in states],
                "version": [s.version for _, s in states],
                "procedural": [s.procedural for _, s in states],
                "procedural_version": [s.procedural_version for _, s in states],
            },
        )

    async def add_counts(self, counts: Sequence[tuple[str, str, int]]) -> None:
        """Add each (village code, counter, delta) to its counter."""
        await self.conn.execute(
            _ADD_COUNTS,
            {
                "village_code": [v for v, _, _ in counts],
                "counter": [c for _, c, _ in counts],
                "value": [n for _, _, n in counts],
            },
        )

    async def counters(self, village_code: str) -> dict[str, int]:
        rows = await self.conn.execute(
            select(village_counts.c.counter, village_counts.c.value).where(
                village_counts.c.village_code == village_code
            )
        )
        return {counter: value for counter, value in rows if value}

    async def counts_of(self, village_code: str) -> VillageCounts | None:
        """What the assessment needs of the village's counters (None when the projection has none)."""
        return village_counts_of(await self.counters(village_code))

    async def clear(self, consumer: str) -> None:
        """Forget the projection and which events its consumer has applied (before a rebuild from the stream)."""
        await self.conn.execute(delete(worker_states))
        await self.conn.execute(delete(village_counts))
        await self.conn.execute(delete(events.inbox).where(events.inbox.c.consumer == consumer))
