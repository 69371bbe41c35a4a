"""A fan-out process that dies holding events it fetched and never acknowledged (kill -9 mid-batch, or its NATS
node lost with a batch in flight): the server hands them out again only after the consumer's ack wait, while later
events flow. The fan-out that goes on must still queue them before the later ones: an endpoint's queue follows the
stream's order, and so do its deliveries."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.testing import TestStack
from demimas_feeds.receiver import Receiver
from demimas_feeds.service_layer.fanout import FanoutConsumer

from .conftest import Endpoints, deliveries, departed, publish, region, running, until

pytestmark = pytest.mark.integration


def _ids(messages: list[Msg]) -> set[str]:
    return {(m.headers or {}).get("Nats-Msg-Id", "") for m in messages}


async def test_events_a_dead_fanout_held_are_queued_before_later_ones(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    receiver = await Receiver().start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    first = [departed(village, n) for n in range(5)]
    later = [departed(village, 5 + n) for n in range(5)]
    dead = FanoutConsumer(engine, stack.nats_url, wake=lambda _e: None, fetch_timeout=0.5)
    try:
        await until(dead._lead, within=60)  # another test's fan-out may still be closing
        async with asyncio.timeout(60):
            await publish(js, first)
            fetched: list[Msg] = []
            while not {e.id for e in first} <= _ids(fetched):
                fetched += await dead.pull.next_batch()
    finally:
        # it dies here, as a killed process does: nothing committed, nothing acknowledged, its connections gone
        nc = dead.pull._nc
        dead.pull._nc, dead.pull._sub, dead.pull._prefetch = None, None, None
        if nc is not None:
            await nc.close()
        await dead._drop_lock()
    try:
        await publish(js, later)
        async with running(engine, stack) as run:
            rows = await until(lambda: _all_delivered(engine, endpoint_id, 10), within=120)
            await receiver.wait_for(10, within=60)
            gap_events = run.fanout.gap_events
    finally:
        await receiver.stop()
    assert sorted(r.event_id for r in rows) == sorted(e.id for e in first + later)  # each once
    queue_order = [r.stream_seq for r in rows]  # rows in the endpoint's queue order (seq)
    assert queue_order == sorted(queue_order)
    received = [orjson.loads(r.body)["id"] for r in receiver.received]
    assert received == [e.id for e in first + later]
    assert gap_events >= 5  # read by sequence (with whatever else of the shared stream the dead one held)


async def _all_delivered(engine: AsyncEngine, endpoint_id: uuid.UUID, count: int) -> list[Any] | None:
    rows = await deliveries(engine, endpoint_id)
    return rows if len(rows) == count and all(r.status == "DELIVERED" for r in rows) else None
