"""`demimas designation rebuild-stats`: the village-stats projection rebuilt from the stream, for a projection that
was lost or is suspected wrong. The projection, its inbox entries and its durable consumer are dropped; a new
consumer of the same name then reads `demimas.registry.worker.>` from the first event kept in the stream.

Run it while the designation service is stopped (its consumer would otherwise race the rebuild). What the stream no
longer holds (older than its retention) comes back with `demimas events replay --since T` in the registry first.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.uow import UnitOfWork
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from demimas_common.skeleton import Consumer, consumer_runner
from demimas_designation.adapters import projection
from demimas_designation.adapters.tables import SCHEMA, events, village_counts, worker_states

__all__ = ["VILLAGE_STATS", "rebuild_stats"]


async def apply_event(event: CloudEvent, uow: UnitOfWork) -> None:
    await projection.apply_event(uow.connection, event)


async def apply_events(batch: list[CloudEvent], uow: UnitOfWork) -> None:
    await projection.apply_events(uow.connection, batch)


VILLAGE_STATS = Consumer("village-stats", ["demimas.registry.worker.>"], apply_event, apply_events)


async def rebuild_stats(engine: AsyncEngine, nats_url: str) -> int:
    """Returns how many events were applied."""
    nc = await connect(nats_url, name="designation-rebuild", reconnect=False)
    try:
        with contextlib.suppress(Exception):  # no such consumer yet: nothing to drop
            await nc.jetstream().delete_consumer(STREAM, VILLAGE_STATS.durable)
    finally:
        await nc.close()
    async with engine.begin() as conn:
        await conn.execute(delete(worker_states))
        await conn.execute(delete(village_counts))
        await conn.execute(delete(events.inbox).where(events.inbox.c.consumer == VILLAGE_STATS.durable))
    consumer = consumer_runner(VILLAGE_STATS, engine, SCHEMA, nats_url)
    try:
        return await consumer.drain()
    finally:
        await consumer.close()
