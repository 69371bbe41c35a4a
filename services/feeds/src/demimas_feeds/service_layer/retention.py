"""The delivery log's retention: deliveries that are done (DELIVERED, FAILED, CANCELLED) and attempts older than
`DEMIMAS_FEEDS_RETENTION_DAYS` are deleted, hourly, in slices so that no statement holds locks for long. PENDING
deliveries are kept whatever their age (they are still to be sent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["prune_deliveries"]

SLICE = 10_000


async def prune_deliveries(engine: AsyncEngine, retention_days: int, *, now: dt.datetime | None = None) -> int:
    """Delete what is older than the retention; how many deliveries were deleted."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    deleted = 0
    async with engine.connect() as conn:
        db: Any = (await conn.get_raw_connection()).driver_connection
        while True:  # each slice is its own statement (autocommit): short locks, progress kept
            status = await db.execute(
                "DELETE FROM feeds.attempts WHERE id IN "
                "(SELECT id FROM feeds.attempts WHERE attempted_at < $1 ORDER BY id LIMIT $2)",
                cutoff,
                SLICE,
            )
            if int(status.split()[-1]) < SLICE:
                break
        while True:
            status = await db.execute(
                "DELETE FROM feeds.deliveries WHERE id IN (SELECT id FROM feeds.deliveries "
                "WHERE status <> 'PENDING' AND created_at < $1 LIMIT $2)",
                cutoff,
                SLICE,
            )
            count = int(status.split()[-1])
            deleted += count
            if count < SLICE:
                break
    return deleted
