"""Redelivery (same webhook-id), replay since a time, and at-least-once across a dispatcher restart."""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.devstack.testing import TestStack
from demimas_common.errors import NotFound
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.receiver import Answer, Receiver
from demimas_feeds.service_layer.redelivery import redeliver, replay

from .conftest import Endpoints, deliveries, departed, publish, region, running, until

pytestmark = pytest.mark.integration


def principal(agency: str = "KP2MI", region: str | None = None) -> Principal:
    a = Agency(agency)
    return Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region, None)


async def _statuses(engine: AsyncEngine, endpoint_id: object, count: int, status: str = "DELIVERED") -> object:
    rows = await deliveries(engine, endpoint_id)  # type: ignore[arg-type]
    return rows if len(rows) == count and all(r.status == status for r in rows) else None


async def test_redeliver_sends_the_same_delivery_again_with_its_webhook_id(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    receiver = await Receiver().start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    try:
        async with running(engine, stack):
            await publish(js, [departed(village, n) for n in range(2)])
            rows = await until(lambda: _statuses(engine, endpoint_id, 2))
            first = rows[0]
            with pytest.raises(NotFound):  # another agency's delivery does not exist for it
                async with FeedsUnitOfWork(engine, schema="feeds") as uow:
                    await redeliver(uow, principal("BNN"), first.id)
            async with FeedsUnitOfWork(engine, schema="feeds") as uow:
                again = await redeliver(uow, principal(), first.id)
            assert again.status == "PENDING"
            await receiver.wait_for(3)
            rows = await until(lambda: _statuses(engine, endpoint_id, 2))
    finally:
        await receiver.stop()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [str(rows[0].id), str(rows[1].id), str(rows[0].id)]
    assert receiver.received[2].body == receiver.received[0].body
    assert rows[0].attempts == 2


async def test_replay_queues_the_endpoints_events_since_a_time(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    receiver = await Receiver().start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    early = [departed(village, n) for n in range(2)]
    reader = StreamReader(stack.nats_url)
    try:
        async with running(engine, stack):
            await publish(js, early)
            await until(lambda: _statuses(engine, endpoint_id, 2))
            await asyncio.sleep(0.05)
            since = dt.datetime.now(dt.UTC)
            late = [departed(village, n) for n in range(2, 5)]
            await publish(js, late)
            await until(lambda: _statuses(engine, endpoint_id, 5))
            async with FeedsUnitOfWork(engine, schema="feeds") as uow:
                queued = await replay(uow, principal(), endpoint_id, since, reader)
            assert queued == 3
            rows = await until(lambda: _statuses(engine, endpoint_id, 8))
            await receiver.wait_for(8)
    finally:
        await receiver.stop()
        await reader.close()
    replayed = [r for r in rows if r.replay_of is not None]
    assert [r.event_id for r in replayed] == [e.id for e in late]
    assert len({r.replay_of for r in replayed}) == 1
    sent = [orjson.loads(r.body)["id"] for r in receiver.received]
    assert sent == [e.id for e in early + late + late]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 8  # a replay is new deliveries


async def test_at_least_once_across_a_dispatcher_restart(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    seen: dict[str, int] = {}

    async def respond(r: object) -> Answer:
        webhook_id = r.headers["webhook-id"]  # type: ignore[attr-defined]
        seen[webhook_id] = seen.get(webhook_id, 0) + 1
        if len(seen) == 3 and seen[webhook_id] == 1:
            await asyncio.sleep(30)  # the dispatcher stops while this one is in flight
        return Answer(200)

    receiver = await Receiver(respond=respond).start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    events = [departed(village, n) for n in range(5)]
    try:
        async with running(engine, stack):
            await publish(js, events)
            await receiver.wait_for(3)
        async with running(engine, stack):
            rows = await until(lambda: _statuses(engine, endpoint_id, 5))
    finally:
        await receiver.stop()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert set(ids) == {str(r.id) for r in rows}  # every delivery arrived
    assert len(ids) > 5  # what was sent but not recorded was sent again...
    assert ids.count(ids[2]) == 2  # ...with the same webhook-id
    bodies: dict[str, bytes] = {}
    for got in receiver.received:
        assert bodies.setdefault(got.headers["webhook-id"], got.body) == got.body


async def test_two_engines_on_one_database_never_send_one_endpoint_at_once(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    in_flight = {"now": 0, "most": 0}

    async def respond(_r: object) -> Answer:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        await asyncio.sleep(0.002)
        in_flight["now"] -= 1
        return Answer(200)

    receiver = await Receiver(respond=respond).start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    events = [departed(village, n) for n in range(60)]
    try:
        async with running(engine, stack) as one, running(engine, stack) as two:
            await publish(js, events)
            rows = await until(lambda: _statuses(engine, endpoint_id, 60))
    finally:
        await receiver.stop()
    assert in_flight["most"] == 1
    sent = [orjson.loads(r.body)["id"] for r in receiver.received]
    assert sent == [e.id for e in events]  # in order, each once
    assert [str(r.id) for r in rows] == [r.headers["webhook-id"] for r in receiver.received]
    assert one.dispatcher.sent + two.dispatcher.sent == 60
