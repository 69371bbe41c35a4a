"""Housekeeping the pillars service runs periodically (see `app.py`)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_pillars.adapters.tables import SCHEMA
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.events import milestone_overdue
from demimas_pillars.service_layer.delivery import DeliverySettings

__all__ = ["OVERDUE_BATCH", "announce_overdue", "prune_keys"]

log = logging.getLogger("demimas.pillars")
OVERDUE_BATCH = 500


async def prune_keys(engine: AsyncEngine, retention_days: int) -> int:
    """Forget idempotency keys older than the retention (each replica does it; deleting is idempotent)."""
    async with PillarsUnitOfWork(engine, schema=SCHEMA) as uow:
        older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
        dropped = await uow.idempotency_keys.prune(older_than=older_than)
        await uow.commit()
    if dropped:
        log.info("pillars: %d idempotency keys older than %d days forgotten", dropped, retention_days)
    return dropped


async def announce_overdue(engine: AsyncEngine, settings: DeliverySettings) -> int:
    """The periodic job: one `milestone.overdue` event per milestone of a running pilot whose due date has passed
    (by `settings.clock`) uncompleted. Each batch is marked and its events written in one transaction, so a crash
    loses nothing and a replica running the job at the same time announces none twice."""
    today, total = settings.today(), 0
    while True:
        async with PillarsUnitOfWork(engine, schema=SCHEMA) as uow:
            claimed = await uow.pilots.claim_overdue(today=today, limit=OVERDUE_BATCH)
            for o in claimed:
                uow.publish(milestone_overdue(o.pilot_id, o.milestone_id, o.village_code, o.responsible_agency,
                                              o.due_date))  # fmt: skip
            await uow.commit()
        total += len(claimed)
        if len(claimed) < OVERDUE_BATCH:
            break
    if total:
        log.info("pillars: %d milestones became overdue", total)
    return total
