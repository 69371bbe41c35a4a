"""The unit of work's bulk write of events (`copy_events`): the same outbox rows as `publish`, in the unit's
transaction or in a savepoint of it, and no event that breaks its schema."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.uow import UnitOfWork
from demimas_common.events.envelope import CloudEvent, InvalidEvent, new_event
from demimas_common.events.outbox import outbox_record

pytestmark = pytest.mark.integration

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def registered(**extra: Any) -> CloudEvent:
    data = {"workerId": str(uuid.uuid4()), "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}
    return new_event("demimas.registry.worker.registered", data["workerId"], {**data, **extra})


async def outbox(engine: AsyncEngine, schema: str) -> list[Any]:
    async with engine.connect() as conn:
        columns = "id::text, type, subject, payload, traceparent, published_at"
        return list((await conn.execute(text(f'SELECT {columns} FROM "{schema}".outbox ORDER BY seq'))).all())


async def test_copied_events_are_the_rows_publish_writes(event_schema: tuple[AsyncEngine, str]) -> None:
    engine, schema = event_schema
    one, many = registered(), [registered() for _ in range(50)]
    async with UnitOfWork(engine, schema=schema, traceparent=TRACE) as uow:
        uow.publish(one)
        await uow.flush_events()
        await uow.copy_events([outbox_record(event, TRACE) for event in many])
        await uow.commit()
    rows = await outbox(engine, schema)
    assert [r.id for r in rows] == [e.id for e in [one, *many]]
    assert {(r.type, r.traceparent, r.published_at) for r in rows} == {(one.type, TRACE, None)}
    assert rows[0].payload == one.with_traceparent(TRACE).to_dict()
    assert rows[1].payload == many[0].with_traceparent(TRACE).to_dict()


async def test_copied_events_go_with_the_transaction_and_its_savepoints(event_schema: tuple[AsyncEngine, str]) -> None:
    engine, schema = event_schema
    kept, undone = registered(), registered()
    async with UnitOfWork(engine, schema=schema) as uow:
        await uow.copy_events([outbox_record(kept)])
        driver = await uow.driver_connection()
        savepoint = driver.transaction()
        await savepoint.start()
        await uow.copy_events([outbox_record(undone)])
        await savepoint.rollback()
        await uow.commit()
    async with UnitOfWork(engine, schema=schema) as uow:
        await uow.copy_events([outbox_record(registered())])  # never committed
    assert [r.id for r in await outbox(engine, schema)] == [kept.id]


async def test_an_event_that_breaks_its_schema_is_not_copied(event_schema: tuple[AsyncEngine, str]) -> None:
    engine, schema = event_schema
    async with UnitOfWork(engine, schema=schema) as uow:
        with pytest.raises(InvalidEvent, match="nik"):
            await uow.copy_events([outbox_record(registered(nik="1606135508950001"))])
    assert await outbox(engine, schema) == []
