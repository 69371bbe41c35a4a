"""The village-stats projection on the real devstack: PostgreSQL for the state, NATS JetStream for delivery.
Its counters equal the ones computed from each worker's true final state after random orders and redeliveries."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.testing import TestStack
from demimas_common.events.consumer import EventConsumer
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.skeleton import consumer_runner
from demimas_designation.adapters.tables import SCHEMA
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.adapters.village_stats import VillageStatsRepository
from demimas_designation.service_layer.village_stats import VILLAGE_STATS, apply_event, apply_events

from .conftest import consume, village

pytestmark = pytest.mark.integration


def worker_history(rng: random.Random, villages: list[str]) -> tuple[list[CloudEvent], tuple[str, str, bool | None]]:
    worker = str(uuid.uuid4())
    where, status, procedural = rng.choice(villages), "CANDIDATE", None
    steps: list[tuple[str, dict[str, Any]]] = [("registered", {"villageCode": where, "status": status})]
    for _ in range(rng.randint(0, 5)):
        if status != "ABROAD" and rng.random() < 0.5:
            status, procedural = "ABROAD", rng.random() < 0.7
            steps.append(("departed", {"villageCode": where, "status": status, "procedural": procedural,
                                       "destinationCountry": "MY", "scheme": "P_TO_P"}))  # fmt: skip
        elif status == "ABROAD" and rng.random() < 0.6:
            status = "RETURNED"
            steps.append(("returned", {"villageCode": where, "status": status}))
        else:
            where = rng.choice(villages)
            steps.append(("updated", {"villageCode": where, "status": status}))
    events = [
        new_event(f"demimas.registry.worker.{kind}", worker, {"workerId": worker, **data, "version": n})
        for n, (kind, data) in enumerate(steps, start=1)
    ]
    return events, (where, status, procedural)


def expected_counters(finals: list[tuple[str, str, bool | None]], village_code: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for where, status, procedural in finals:
        if where != village_code:
            continue
        total[f"status:{status}"] += 1
        if procedural is not None:
            total["departed"] += 1
            total["procedural"] += procedural
    return {k: v for k, v in total.items() if v}


async def test_shuffled_and_repeated_events_give_the_true_counters(engine: AsyncEngine) -> None:
    rng = random.Random(7)
    villages = [village(), village()]
    histories = [worker_history(rng, villages) for _ in range(40)]
    delivered = [e for events, _ in histories for e in events]
    delivered += rng.sample(delivered, 20)
    rng.shuffle(delivered)
    for event in delivered:
        await consume(engine, apply_event, event)
    finals = [final for _, final in histories]
    async with engine.connect() as conn:
        for code in villages:
            assert await VillageStatsRepository(conn).counters(code) == expected_counters(finals, code)
        counts = await VillageStatsRepository(conn).counts_of(villages[0])
    expected = expected_counters(finals, villages[0])
    assert counts is not None
    assert counts.total == sum(v for k, v in expected.items() if k.startswith("status:"))


async def test_through_jetstream_an_event_delivered_twice_counts_once(stack: TestStack, engine: AsyncEngine) -> None:
    rng = random.Random(11)
    code = village()
    histories = [worker_history(rng, [code]) for _ in range(15)]
    nc = await connect(stack.nats_url, name="designation-test")
    js = nc.jetstream()
    await ensure_stream(js)
    for events, _ in histories:
        for event in events:
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    # the same events again under other message ids (a replay from the registry's outbox would look like this)
    for events, _ in histories[:5]:
        for event in events:
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": f"replay-{event.id}"})
    await nc.close()
    durable = f"village-stats-{uuid.uuid4().hex[:8]}"
    consumer = consumer_runner(replace(VILLAGE_STATS, durable=durable), engine, SCHEMA, stack.nats_url,
                               unit_of_work=DesignationUnitOfWork)  # fmt: skip
    await consumer.drain()
    await consumer.close()
    async with engine.connect() as conn:
        assert await VillageStatsRepository(conn).counters(code) == expected_counters([f for _, f in histories], code)


async def test_batches_applied_at_once_give_the_true_counters(engine: AsyncEngine) -> None:
    rng = random.Random(21)
    villages = [village(), village()]
    histories = [worker_history(rng, villages) for _ in range(60)]
    delivered = [e for events, _ in histories for e in events]
    delivered += rng.sample(delivered, 30)
    rng.shuffle(delivered)
    for start in range(0, len(delivered), 37):  # batches holding several events of one worker, out of order
        await consume(engine, apply_events, delivered[start : start + 37])
    finals = [final for _, final in histories]
    async with engine.connect() as conn:
        for code in villages:
            assert await VillageStatsRepository(conn).counters(code) == expected_counters(finals, code)


async def test_events_published_while_the_service_is_down_are_applied_after_restart(
    stack: TestStack, engine: AsyncEngine
) -> None:
    rng = random.Random(5)
    code = village()
    histories = [worker_history(rng, [code]) for _ in range(20)]
    nc = await connect(stack.nats_url, name="designation-restart-test")
    js = nc.jetstream()
    await ensure_stream(js)
    durable = f"village-stats-{uuid.uuid4().hex[:8]}"

    def consumer() -> EventConsumer:
        return consumer_runner(replace(VILLAGE_STATS, durable=durable), engine, SCHEMA, stack.nats_url,
                               unit_of_work=DesignationUnitOfWork, fetch_timeout=0.3)  # fmt: skip

    async def publish(items: list[tuple[list[CloudEvent], Any]]) -> None:
        for events, _ in items:
            for event in events:
                await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})

    await publish(histories[:10])
    running = consumer()
    await running.drain()
    await running.close()  # the service stops
    await publish(histories[10:])  # the registry goes on
    restarted = consumer()  # the same durable consumer picks up where it stopped
    await restarted.drain()
    await restarted.close()
    await nc.close()
    async with engine.connect() as conn:
        assert await VillageStatsRepository(conn).counters(code) == expected_counters([f for _, f in histories], code)
