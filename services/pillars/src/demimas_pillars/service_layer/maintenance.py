"""Housekeeping the pillars service runs periodically (see `app.py`)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_pillars.adapters.tables import SCHEMA
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork

__all__ = ["prune_keys"]

log = logging.getLogger("demimas.pillars")


async def prune_keys(engine: AsyncEngine, retention_days: int) -> int:
    """Forget idempotency keys older than the retention (each replica does it; deleting is idempotent)."""
    async with PillarsUnitOfWork(engine, schema=SCHEMA) as uow:
        older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
        dropped = await uow.idempotency_keys.prune(older_than=older_than)
        await uow.commit()
    if dropped:
        log.info("pillars: %d idempotency keys older than %d days forgotten", dropped, retention_days)
    return dropped
