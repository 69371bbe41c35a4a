"""The outbox relay and the consumers against real PostgreSQL and NATS: nothing lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.uow import UnitOfWork
from demimas_common.devstack.testing import TestStack
from demimas_common.events.consumer import EventConsumer, retry_dead
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect
from demimas_common.events.relay import OutboxRelay
from demimas_common.events.stream import STREAM, ensure_stream
from demimas_common.settings import CommonSettings
from demimas_common.telemetry import configure_tracing, current_traceparent

from .conftest import count_effects, record_effect

pytestmark = pytest.mark.integration


def worker_event(village: str = "16.06.13.2001") -> CloudEvent:
    data = {"workerId": str(uuid.uuid4()), "villageCode": village, "status": "CANDIDATE", "version": 1}
    return new_event("demimas.registry.worker.registered", data["workerId"], data)


async def write_events(engine: AsyncEngine, schema: str, n: int, *, village: str = "16.06.13.2001") -> list[str]:
    ids = []
    async with UnitOfWork(engine, schema=schema) as uow:
        for _ in range(n):
            event = worker_event(village)
            ids.append(event.id)
            uow.publish(event)
        await uow.commit()
    return ids


async def unpublished(engine: AsyncEngine, schema: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL')) or 0)


def unique_village() -> str:
    """A village code no other test publishes for, so the consumer's filter sees only this test's events."""
    n = uuid.uuid4().int
    return f"{10 + n % 80:02d}.{n // 7 % 90 + 10:02d}.{n // 11 % 90 + 10:02d}.{2000 + n // 13 % 999}"


def consumer_for(engine: AsyncEngine, schema: str, url: str, **kwargs: Any) -> EventConsumer:
    kwargs.setdefault("handler", record_effect(schema))
    return EventConsumer(
        engine, schema, url, durable=f"test-{uuid.uuid4().hex[:8]}", subjects=["demimas.registry.worker.>"],
        fetch_timeout=0.3, retry_delay=0.05, **kwargs,
    )  # fmt: skip


async def test_events_written_while_nats_is_down_all_arrive_once(
    stack: TestStack, event_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = event_schema
    private = stack.fresh_nats("down")
    relay = OutboxRelay(engine, schema, private.url, min_backoff=0.05, max_backoff=0.2, ack_timeout=1.0)
    task = asyncio.create_task(relay.run())
    ids = await write_events(engine, schema, 200)
    await asyncio.sleep(0.5)  # the relay keeps failing, and keeps running
    assert not task.done()
    assert await unpublished(engine, schema) == 200
    private.start()
    try:
        nc = await connect(private.url, name="test")
        await ensure_stream(nc.jetstream())
        for _ in range(1200):  # up to a minute: 10 s could be outrun by a loaded CI machine; done, it ends at once
            if await unpublished(engine, schema) == 0:
                break
            await asyncio.sleep(0.05)
        assert await unpublished(engine, schema) == 0
        info = await nc.jetstream().stream_info(STREAM)
        assert info.state.messages == 200
        consumer = consumer_for(engine, schema, private.url)
        await consumer.drain()
        await consumer.close()
        assert await count_effects(engine, schema) == dict.fromkeys(ids, 1)
        await nc.close()
    finally:
        relay.stop()
        await asyncio.gather(task, return_exceptions=True)
        private.stop()


async def test_a_relay_killed_between_ack_and_commit_loses_nothing_and_doubles_nothing(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    village = unique_village()
    ids = await write_events(engine, schema, 50, village=village)
    relay = OutboxRelay(engine, schema, stack.nats_url)
    crashed = OutboxRelay(engine, schema, stack.nats_url)

    async def crash_after_publish(rows: Any) -> None:
        await OutboxRelay._publish_rows(crashed, rows)
        raise RuntimeError("killed after the acks, before marking the rows published")

    crashed._publish_rows = crash_after_publish  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        await crashed.publish_pending()
    assert await unpublished(engine, schema) == 50  # nothing marked: the claim rolled back
    assert await relay.publish_pending() == 50  # published again: same Nats-Msg-Id, deduplicated by JetStream
    handler = record_effect(schema)

    async def only_this_test(conn: Any, event: CloudEvent) -> None:
        if event.data["villageCode"] == village:
            await handler(conn, event)

    consumer = consumer_for(engine, schema, stack.nats_url, handler=only_this_test)
    await consumer.drain()
    await consumer.close()
    assert await count_effects(engine, schema) == dict.fromkeys(ids, 1)
    await relay.close()
    await crashed.close()


async def test_a_republished_event_has_one_effect(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    event = worker_event(unique_village())
    nc = await connect(stack.nats_url, name="test")
    js = nc.jetstream()
    for suffix in ("a", "b"):  # different message ids: JetStream keeps both, the inbox must not apply both
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}:{suffix}"})
    await nc.close()
    consumer = consumer_for(engine, schema, stack.nats_url)
    consumer.subjects = ["demimas.registry.worker.registered"]
    handler = record_effect(schema)

    async def only_this(conn: Any, e: CloudEvent) -> None:
        if e.id == event.id:
            await handler(conn, e)

    consumer.handler = only_this
    await consumer.drain()
    await consumer.close()
    assert await count_effects(engine, schema) == {event.id: 1}


async def test_a_poison_event_is_dead_lettered_without_blocking_and_retry_dead_brings_it_back(
    stack: TestStack, event_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = event_schema
    private = stack.fresh_nats("poison")
    private.start()
    try:
        nc = await connect(private.url, name="test")
        await ensure_stream(nc.jetstream())
        await nc.close()
        ids = await write_events(engine, schema, 3)
        poison = ids[1]
        await OutboxRelay(engine, schema, private.url).publish_once()
        broken = True
        effect = record_effect(schema)

        async def handler(conn: Any, event: CloudEvent) -> None:
            if broken and event.id == poison:
                raise ValueError("cannot apply this one")
            await effect(conn, event)

        consumer = consumer_for(engine, schema, private.url, max_attempts=3, handler=handler)
        for _ in range(200):  # each round waits up to 0.3 s for a message: a minute, not 12 s, on a loaded machine
            await consumer.process_available()
            if len(await count_effects(engine, schema)) == 2:
                async with engine.connect() as conn:
                    dead = (
                        await conn.execute(text(f'SELECT event_id, attempts, error FROM "{schema}".dead_letter'))
                    ).all()
                if dead:
                    break
        assert await count_effects(engine, schema) == {ids[0]: 1, ids[2]: 1}
        assert [(d.event_id, d.attempts) for d in dead] == [(poison, 3)]
        assert "cannot apply this one" in dead[0].error

        broken = False
        assert await retry_dead(engine, schema, private.url) == 1
        await consumer.drain()
        await consumer.close()
        assert await count_effects(engine, schema) == dict.fromkeys(ids, 1)
        assert await retry_dead(engine, schema, private.url) == 0
    finally:
        private.stop()


async def test_an_event_that_breaks_its_schema_is_dead_lettered_at_once(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    village = unique_village()
    bad = new_event(
        "demimas.registry.worker.registered", "x",
        {"workerId": str(uuid.uuid4()), "villageCode": village, "status": "CANDIDATE", "version": 1, "nik": "1"},
    )  # fmt: skip
    nc = await connect(stack.nats_url, name="test")
    await nc.jetstream().publish(bad.type, bad.to_json(), headers={"Nats-Msg-Id": bad.id})
    await nc.close()
    consumer = consumer_for(engine, schema, stack.nats_url, handler=record_effect(schema))
    consumer.subjects = ["demimas.registry.worker.registered"]
    await consumer.drain()
    await consumer.close()
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f'SELECT attempts, error FROM "{schema}".dead_letter'))).all()
    assert any("nik" in r.error and r.attempts == 1 for r in rows)
    assert bad.id not in await count_effects(engine, schema)


async def test_trace_context_flows_from_producer_to_consumer(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    configure_tracing("test", CommonSettings())
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        producer_trace = span.get_span_context().trace_id
        traceparent = current_traceparent()
        event = worker_event(unique_village())
        async with UnitOfWork(engine, schema=schema) as uow:
            uow.publish(event)
            await uow.commit()
    await OutboxRelay(engine, schema, stack.nats_url).publish_once()
    seen: list[tuple[str | None, int]] = []

    async def handler(conn: Any, e: CloudEvent) -> None:
        if e.id == event.id:
            seen.append((e.traceparent, trace.get_current_span().get_span_context().trace_id))

    consumer = consumer_for(engine, schema, stack.nats_url, handler=handler)
    consumer.subjects = ["demimas.registry.worker.registered"]
    await consumer.drain()
    await consumer.close()
    assert seen == [(traceparent, producer_trace)]


async def test_stream_setup_is_idempotent(stack: TestStack) -> None:
    nc = await connect(stack.nats_url, name="test")
    try:
        await ensure_stream(nc.jetstream())
        await ensure_stream(nc.jetstream())
        info = await nc.jetstream().stream_info(STREAM)
        assert info.config.subjects == ["demimas.>"]
        assert info.config.duplicate_window == 120.0
    finally:
        await nc.close()


async def test_published_rows_are_kept_for_the_retention_period_then_dropped(
    stack: TestStack, event_schema: tuple[AsyncEngine, str], shared_stream: None
) -> None:
    engine, schema = event_schema
    await write_events(engine, schema, 3, village=unique_village())
    relay = OutboxRelay(engine, schema, stack.nats_url, retention_days=30)
    assert await relay.publish_once() == 3
    assert await relay.cleanup() == 0
    async with engine.begin() as conn:
        oldest = f'(SELECT min(seq) FROM "{schema}".outbox)'
        await conn.execute(
            text(f"UPDATE \"{schema}\".outbox SET published_at = now() - interval '31 days' WHERE seq = {oldest}")
        )
    assert await relay.cleanup() == 1
    assert await relay.replay(since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 2
    assert await unpublished(engine, schema) == 2


async def test_a_batch_fetched_ahead_and_never_handled_is_handed_back_at_close(
    stack: TestStack, event_schema: tuple[AsyncEngine, str]
) -> None:
    """A consumer with a backlog fetches the next batch while handling the current one; stopped in between, it naks
    that batch, so another replica handles it at once (not after ack_wait), each event once."""
    engine, schema = event_schema
    private = stack.fresh_nats("prefetch")
    private.start()
    try:
        nc = await connect(private.url, name="test")
        await ensure_stream(nc.jetstream())
        await nc.close()
        ids = await write_events(engine, schema, 25)
        await OutboxRelay(engine, schema, private.url).publish_once()
        first = consumer_for(engine, schema, private.url, batch_size=10, ack_wait=60.0)
        assert await first.process_available() == 10
        assert first.pull.fetching_ahead  # the second batch is on its way
        await first.close()
        assert len(await count_effects(engine, schema)) == 10
        second = EventConsumer(
            engine, schema, private.url, durable=first.durable, subjects=first.subjects, handler=first.handler,
            batch_size=10, ack_wait=60.0, fetch_timeout=0.3,
        )  # fmt: skip
        assert await second.drain() == 15  # within the test's time, far below ack_wait
        await second.close()
        assert await count_effects(engine, schema) == dict.fromkeys(ids, 1)
    finally:
        private.stop()


async def test_a_comma_separated_server_list_reaches_a_live_server(stack: TestStack) -> None:
    """DEMIMAS_NATS_URL may name a cluster's servers; a dead one first does not stop the connection."""
    from demimas_common.devstack.ports import free_port

    dead = f"nats://127.0.0.1:{free_port()}"
    nc = await connect(f"{dead}, {stack.nats_url}", name="test-cluster-urls")
    try:
        assert nc.is_connected
        await ensure_stream(nc.jetstream())
    finally:
        await nc.close()
