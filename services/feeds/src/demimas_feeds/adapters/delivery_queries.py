"""The read side of deliveries and attempts for the API (the engine writes them: adapters/deliveries.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_feeds.adapters.tables import attempts as a
from demimas_feeds.adapters.tables import deliveries as d

__all__ = ["DeliveryQueries"]

_COLUMNS = [c for c in d.c if c.name != "body"]


class DeliveryQueries:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get(self, delivery_id: uuid.UUID) -> Any | None:
        return (await self._conn.execute(select(*_COLUMNS).where(d.c.id == delivery_id))).first()

    async def page(
        self,
        endpoint_id: uuid.UUID,
        *,
        status: str | None,
        first: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        event_types: Sequence[str] | None = None,
    ) -> Sequence[Any]:
        """Up to `first + 1` deliveries of the endpoint, newest first by (created_at, id); only of `event_types`
        when given (the types the caller may receive)."""
        query = select(*_COLUMNS).where(d.c.endpoint_id == endpoint_id)
        if event_types is not None:
            query = query.where(d.c.event_type.in_(list(event_types)))
        if status is not None:
            query = query.where(d.c.status == status)
        if after is not None:
            query = query.where(tuple_(d.c.created_at, d.c.id) < tuple_(*after))
        query = query.order_by(d.c.created_at.desc(), d.c.id.desc()).limit(first + 1)
        return list(await self._conn.execute(query))

    async def count(self, endpoint_id: uuid.UUID, status: str | None, event_types: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(d).where(d.c.endpoint_id == endpoint_id)
        if event_types is not None:
            query = query.where(d.c.event_type.in_(list(event_types)))
        if status is not None:
            query = query.where(d.c.status == status)
        return int(await self._conn.scalar(query) or 0)

    async def attempts_of(self, delivery_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        found: dict[uuid.UUID, list[Any]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return found
        query = select(a).where(a.c.delivery_id.in_(delivery_ids)).order_by(a.c.delivery_id, a.c.attempted_at, a.c.id)
        for row in await self._conn.execute(query):
            found[row.delivery_id].append(row)
        return found
