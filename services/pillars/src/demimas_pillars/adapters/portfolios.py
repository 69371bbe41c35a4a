"""Portfolios follow the designation service's `demimas.designation.village.*` events: `designated` opens the
village's ten-pillar portfolio (and publishes `demimas.pillars.portfolio.opened`, once per designation),
`suspended` and `revoked` suspend and close it. An event older than the last one applied is ignored."""

from __future__ import annotations

import uuid

from sqlalchemy import insert as sa_insert
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db.uow import outbox_rows
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.schemas import validate_event
from demimas_common.telemetry import current_traceparent
from demimas_pillars.adapters.tables import events, portfolios

__all__ = ["PortfolioStatus", "apply_designation_event"]


class PortfolioStatus:
    OPEN = "OPEN"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


_STATUS = {
    "demimas.designation.village.designated": PortfolioStatus.OPEN,
    "demimas.designation.village.suspended": PortfolioStatus.SUSPENDED,
    "demimas.designation.village.revoked": PortfolioStatus.CLOSED,
}


async def apply_designation_event(conn: AsyncConnection, event: CloudEvent) -> None:
    status = _STATUS.get(event.type)
    if status is None:
        return
    village = str(event.data["villageCode"])
    designation_id = uuid.UUID(str(event.data["designationId"]))
    row = (await conn.execute(select(portfolios).where(portfolios.c.village_code == village).with_for_update())).first()
    if row is None:
        await conn.execute(
            sa_insert(portfolios).values(
                village_code=village,
                designation_id=designation_id,
                status=status,
                opened_at=event.time,
                changed_at=event.time,
            )
        )
        opened = status == PortfolioStatus.OPEN
    else:
        if event.time <= row.changed_at:
            return
        reopened = status == PortfolioStatus.OPEN and row.designation_id != designation_id
        values = {"status": status, "changed_at": event.time, "designation_id": designation_id}
        if reopened:
            values["opened_at"] = event.time
        await conn.execute(update(portfolios).where(portfolios.c.village_code == village).values(**values))
        opened = reopened
    if opened:
        published = new_event(
            "demimas.pillars.portfolio.opened",
            village,
            {"villageCode": village, "designationId": str(designation_id)},
            traceparent=current_traceparent() or event.traceparent,
            causation_id=event.id,
            correlation_id=event.correlationid or event.id,
        )
        validate_event(published)
        await conn.execute(sa_insert(events.outbox).values(outbox_rows([published])))
