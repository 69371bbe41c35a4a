"""Deliveries end to end: an event on the stream reaches the endpoints that may see it, signed, in order."""

from __future__ import annotations

import orjson
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from demimas_common.devstack.testing import TestStack
from demimas_feeds.receiver import Answer, Receiver

from .conftest import Endpoints, attempts, deliveries, departed, publish, region, running, until

pytestmark = pytest.mark.integration


async def test_events_are_delivered_signed_and_in_order(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    receivers = [await Receiver().start() for _ in range(3)]
    secrets = [await endpoints.add(r.url, region_prefix=village) for r in receivers]
    events = [departed(village, n) for n in range(30)]
    try:
        async with running(engine, stack):
            await publish(js, events)
            for receiver in receivers:
                await receiver.wait_for(30)
            for endpoint_id, _ in secrets:
                await until(lambda eid=endpoint_id: _all_delivered(engine, eid, 30))
    finally:
        for receiver in receivers:
            await receiver.stop()
    for receiver, (endpoint_id, secret) in zip(receivers, secrets, strict=True):
        bodies = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
        assert [b["id"] for b in bodies] == [e.id for e in events]  # in stream order
        assert all(b["data"]["villageCode"] == village for b in bodies)
        assert all("actorsub" not in b and "traceparent" not in b for b in bodies)
        sequences = [int(b["sequence"]) for b in bodies]
        assert sequences == sorted(sequences)
        rows = await until(lambda eid=endpoint_id: _all_delivered(engine, eid, 30))
        assert [str(r.id) for r in rows] == [r.headers["webhook-id"] for r in receiver.received]
        assert [orjson.loads(r.body) for r in rows] == bodies
        assert len(await attempts(engine, endpoint_id)) == 30


async def _all_delivered(engine: AsyncEngine, endpoint_id: object, count: int) -> object:
    rows = await deliveries(engine, endpoint_id)  # type: ignore[arg-type]
    return rows if len(rows) == count and all(r.status == "DELIVERED" for r in rows) else None


async def test_a_receiver_failing_n_times_gets_retries_and_order_is_kept(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    village = region()
    failures = {"left": 3}

    def respond(_r: object) -> Answer:
        if failures["left"] > 0:
            failures["left"] -= 1
            return Answer(503, b"try later")
        return Answer(200, b"ok")

    receiver = await Receiver(respond=respond).start()
    other = await Receiver().start()
    endpoint_id, _ = await endpoints.add(receiver.url, region_prefix=village)
    await endpoints.add(other.url, region_prefix=village)
    events = [departed(village, n) for n in range(5)]
    try:
        async with running(engine, stack):
            await publish(js, events)
            await other.wait_for(5)
            await receiver.wait_for(3 + 5)
            rows = await until(lambda: _all_delivered(engine, endpoint_id, 5))
    finally:
        await receiver.stop()
        await other.stop()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    first = str(rows[0].id)
    assert ids[:4] == [first] * 4  # the head was retried with the same webhook-id; nothing went past it
    assert ids[4:] == [str(r.id) for r in rows[1:]]
    assert rows[0].attempts == 4
    log = await attempts(engine, endpoint_id)
    assert [(a.status_code, a.response_excerpt) for a in log[:4]] == [(503, "try later")] * 3 + [(200, "ok")]
    assert len(other.received) == 5  # the other endpoint was not held up


async def test_the_dispatchers_pool_records_without_waiting_for_the_wal_flush(engine: AsyncEngine) -> None:
    """Its sessions ask for asynchronous commits themselves, whatever the server's default (a record lost in a
    crash means a resend with the same webhook-id); the test stack's server may already default to off, so the
    setting's source says who set it."""
    from demimas_feeds.adapters.deliveries import direct_pool

    pool = await direct_pool(engine, 2)
    try:
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'")
    finally:
        await pool.close()
    assert (row["setting"], row["source"]) == ("off", "client")
