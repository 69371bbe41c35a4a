"""A consumer declared on the service skeleton: its handler's unit of work joins the consumer's transaction, so a
follow-up event is written with the handler's changes and the inbox row, or not at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.uow import UnitOfWork
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.relay import OutboxRelay
from demimas_common.skeleton import Consumer, consumer_runner

from .conftest import count_effects
from .test_events_relay_consumer import unique_village, worker_event, write_events

pytestmark = pytest.mark.integration


def follow_up(event: CloudEvent) -> CloudEvent:
    data = {"villageCode": event.data["villageCode"], "status": "DESIGNATED"}
    return new_event("demimas.designation.village.designated", data["villageCode"], data)


async def publish(engine: AsyncEngine, schema: str, nats_url: str) -> None:
    relay = OutboxRelay(engine, schema, nats_url)
    try:
        await relay.publish_pending()
    finally:
        await relay.close()


async def outbox_types(engine: AsyncEngine, schema: str) -> list[str]:
    async with engine.connect() as conn:
        return list(await conn.scalars(text(f'SELECT type FROM "{schema}".outbox ORDER BY seq')))


async def test_a_follow_up_event_is_written_with_the_handlers_change(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    village = unique_village()
    ids = await write_events(engine, schema, 3, village=village)
    await publish(engine, schema, stack.nats_url)
    failing_id = ids[1]

    async def handle(event: CloudEvent, uow: UnitOfWork) -> None:
        if event.data["villageCode"] != village:
            return
        await uow.connection.execute(
            text(f'INSERT INTO "{schema}".effects (event_id, n) VALUES (:id, 1)'), {"id": event.id}
        )
        uow.publish(follow_up(event))
        if event.id == failing_id:
            raise RuntimeError("the handler fails after its change and its follow-up")

    declared = Consumer(f"test-{uuid.uuid4().hex[:8]}", ["demimas.registry.worker.>"], handle)
    runner = consumer_runner(declared, engine, schema, stack.nats_url, max_attempts=1, fetch_timeout=1.0)
    runner.retry_delay = 0.05
    try:
        await runner.drain(idle_passes=2)
    finally:
        await runner.close()
    effects = await count_effects(engine, schema)
    assert effects == {ids[0]: 1, ids[2]: 1}  # the failing event left nothing behind
    followups = [t for t in await outbox_types(engine, schema) if t.startswith("demimas.designation")]
    assert len(followups) == 2  # ... and no follow-up either
    async with engine.connect() as conn:  # (the shared stream also holds other tests' poison messages)
        dead = set(await conn.scalars(text(f'SELECT event_id FROM "{schema}".dead_letter')))
    assert failing_id in dead


async def test_a_batch_handler_gets_one_joined_unit_of_work(event_schema: tuple[AsyncEngine, str]) -> None:
    """The batch path, called as the consumer calls it (inside the transaction that records the inbox rows): one
    unit of work for the batch, its events written there, and nothing of them when the transaction rolls back."""
    engine, schema = event_schema
    village = unique_village()
    events = [worker_event(village) for _ in range(5)]
    calls: list[int] = []

    async def one(event: CloudEvent, uow: UnitOfWork) -> None:
        raise AssertionError("the batch path takes a batch")

    async def many(batch: list[CloudEvent], uow: UnitOfWork) -> None:
        calls.append(len(batch))
        for event in batch:
            uow.publish(follow_up(event))

    declared = Consumer(f"test-{uuid.uuid4().hex[:8]}", ["demimas.registry.worker.>"], one, many)
    runner = consumer_runner(declared, engine, schema, "nats://127.0.0.1:1")
    assert runner.batch_handler is not None
    async with engine.begin() as conn:
        await runner.batch_handler(conn, events)
    assert calls == [5]
    assert len(await outbox_types(engine, schema)) == 5
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await runner.batch_handler(conn, events)
        await transaction.rollback()  # the consumer's transaction failed
    assert len(await outbox_types(engine, schema)) == 5
    await runner.close()
