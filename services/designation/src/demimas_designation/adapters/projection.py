"""The village-stats projection in PostgreSQL: one registry worker event applied in the caller's transaction.

A transaction-scoped advisory lock on the worker serialises concurrent events of one worker (the first event of a
worker has no row to lock yet); counter rows are updated in sorted order so concurrent workers never deadlock."""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import BadUserInput
from demimas_common.events.envelope import CloudEvent
from demimas_designation.adapters.tables import village_counts, worker_states
from demimas_designation.domain.assessment import VillageCounts
from demimas_designation.domain.village_stats import WorkerState, apply_worker_event, counts_delta

__all__ = ["apply_event", "counts_of", "village_counters"]


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
