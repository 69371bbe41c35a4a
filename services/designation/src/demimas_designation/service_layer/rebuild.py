"""`demimas designation rebuild-stats`: the village-stats projection rebuilt from the stream, for a projection that
was lost or is suspected wrong. The projection, its inbox entries and its durable consumer are dropped; a new
consumer of the same name then reads `demimas.registry.worker.>` from the first event kept in the stream.

Run it while the designation service is stopped (its consumer would otherwise race the rebuild). What the stream no
longer holds (older than its retention) comes back with `demimas events replay --since T` in the registry first.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from demimas_common.skeleton import consumer_runner
from demimas_designation.adapters.tables import SCHEMA
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.service_layer.village_stats import VILLAGE_STATS

__all__ = ["rebuild_stats"]


async def rebuild_stats(engine: AsyncEngine, nats_url: str) -> int:
    """Returns how many events were applied."""
    nc = await connect(nats_url, name="designation-rebuild", reconnect=False)
    try:
        with contextlib.suppress(Exception):  # no such consumer yet: nothing to drop
            await nc.jetstream().delete_consumer(STREAM, VILLAGE_STATS.durable)
    finally:
        await nc.close()
    async with DesignationUnitOfWork(engine, schema=SCHEMA) as uow:
        await uow.village_stats.clear(VILLAGE_STATS.durable)
        await uow.commit()
    consumer = consumer_runner(VILLAGE_STATS, engine, SCHEMA, nats_url, unit_of_work=DesignationUnitOfWork)
    try:
        return await consumer.drain()
    finally:
        await consumer.close()
