"""A hostile agency against the delivery engine's stored bodies: what an endpoint's queue and log hold was projected
for the grants frozen on the endpoint when the event came; a token with fewer grants that takes the endpoint over
(a new URL) must not receive them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.devstack.testing import TestStack
from demimas_common.errors import Conflict, Forbidden, NotFound
from demimas_common.events.envelope import new_event
from demimas_feeds.adapters.deliveries import NewDeliveries, insert_deliveries
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.domain.commands import UpdateEndpoint
from demimas_feeds.domain.url_policy import UrlPolicy
from demimas_feeds.receiver import Answer, Receiver
from demimas_feeds.service_layer import redelivery
from demimas_feeds.service_layer.endpoints import EndpointRules, update_endpoint
from demimas_feeds.service_layer.fanout import delivery_body
from demimas_feeds.service_layer.redelivery import redeliver, replay
from demimas_feeds.visibility import Audience

from .conftest import Endpoints, box, deliveries, departed, fast, publish, region, running, until

pytestmark = pytest.mark.integration

RULES = EndpointRules(
    box=box(), policy=UrlPolicy(https_only=False, allow_loopback=True), rotation_grace=dt.timedelta(1)
)


async def _queue(engine: AsyncEngine, endpoint_id: uuid.UUID, village: str, status: str) -> uuid.UUID:
    """A delivery of a worker's departure as the fan-out makes it for a KP2MI endpoint with its full grants."""
    event = departed(village)
    body = delivery_body(event.to_dict(), Audience("KP2MI", frozenset({"registry:read"}), None), village, 7)
    assert body is not None
    new = NewDeliveries.empty()
    delivery_id = uuid.uuid4()
    new.add(delivery_id, endpoint_id, 7, event.id, event.type, body)
    async with engine.begin() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await insert_deliveries(driver, new)
        await driver.execute("UPDATE feeds.deliveries SET status = $2 WHERE id = $1", delivery_id, status)
    return delivery_id


async def test_a_narrowed_token_that_moves_an_endpoint_gets_none_of_what_wider_grants_queued(
    engine: AsyncEngine, endpoints: Endpoints
) -> None:
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/kp2mi", region_prefix=village, types=("*",))
    pending = await _queue(engine, endpoint_id, village, "PENDING")
    delivered = await _queue(engine, endpoint_id, village, "DELIVERED")
    # a KP2MI token narrowed to feeds:manage (no registry:read) points the endpoint at its own receiver
    narrowed = Principal("contractor", Agency.KP2MI, frozenset({"feeds:manage", "stats:read"}), None, None)
    async with FeedsUnitOfWork(engine, schema="feeds") as uow:
        await update_endpoint(UpdateEndpoint(endpoint_id, url="http://127.0.0.1:9/mine"), uow, narrowed, RULES)
    rows = {r.id: r for r in await deliveries(engine, endpoint_id)}
    assert rows[pending].status == "CANCELLED"  # the queued worker event never goes to the new URL
    assert "no longer" in rows[pending].last_error
    with pytest.raises(NotFound):  # nor a delivered one, asked for again (its log hides it from this token)
        async with FeedsUnitOfWork(engine, schema="feeds") as uow:
            await redeliver(uow, narrowed, delivered)
    assert {r.id: r.status for r in await deliveries(engine, endpoint_id)}[delivered] == "DELIVERED"


async def test_redeliver_sends_nothing_the_endpoints_present_filter_would_not(
    engine: AsyncEngine, endpoints: Endpoints
) -> None:
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/kp2mi", region_prefix=village, types=("*",))
    delivered = await _queue(engine, endpoint_id, village, "DELIVERED")
    owner = Principal("owner", Agency.KP2MI, frozenset({"feeds:manage", "registry:read"}), None, None)
    elsewhere = "95.01" if not village.startswith("95") else "94.01"
    async with FeedsUnitOfWork(engine, schema="feeds") as uow:
        await update_endpoint(UpdateEndpoint(endpoint_id, region_prefix=elsewhere), uow, owner, RULES)
    with pytest.raises(Forbidden) as refused:
        async with FeedsUnitOfWork(engine, schema="feeds") as uow:
            await redeliver(uow, owner, delivered)
    assert refused.value.extensions["reason"] == "not_receivable"


async def test_an_update_by_the_same_grants_keeps_the_queue(engine: AsyncEngine, endpoints: Endpoints) -> None:
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/kp2mi", region_prefix=village, types=("*",))
    pending = await _queue(engine, endpoint_id, village, "PENDING")
    owner = Principal("owner", Agency.KP2MI, frozenset({"feeds:manage", "registry:read"}), None, None)
    async with FeedsUnitOfWork(engine, schema="feeds") as uow:
        await update_endpoint(UpdateEndpoint(endpoint_id, url="http://127.0.0.1:9/moved"), uow, owner, RULES)
    assert {r.id: r.status for r in await deliveries(engine, endpoint_id)}[pending] == "PENDING"


async def test_replays_cannot_pile_up_an_endpoints_queue_without_bound(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One replay queues at most MAX_REPLAY deliveries; asking again and again (years of events each time) while
    they wait would grow the queue without end: the queue's waiting deliveries count against the next replay."""
    monkeypatch.setattr(redelivery, "MAX_REPLAY", 4)
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/slow", region_prefix=village)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await publish(js, [departed(village, n) for n in range(6)])
    owner = Principal("owner", Agency.KP2MI, frozenset(DEFAULT_GRANTS[Agency.KP2MI]), None, None)
    reader = StreamReader(stack.nats_url)
    try:
        async with FeedsUnitOfWork(engine, schema="feeds") as uow:
            assert await replay(uow, owner, endpoint_id, since, reader) == 4
        with pytest.raises(Conflict) as refused:
            async with FeedsUnitOfWork(engine, schema="feeds") as uow:
                await replay(uow, owner, endpoint_id, since, reader)
        assert refused.value.extensions["reason"] == "queue_full"
    finally:
        await reader.close()
    assert len([r for r in await deliveries(engine, endpoint_id) if r.status == "PENDING"]) == 4


async def test_a_slow_receiver_with_a_deep_queue_does_not_keep_other_agencies_waiting(
    stack: TestStack, engine: AsyncEngine, endpoints: Endpoints
) -> None:
    """Every slot busy with a slow receiver that answers 2xx just before the timeout, its queue deep (a replay):
    before, its loop kept the slot until the queue was empty (days), and other agencies' endpoints waited. Now a loop
    gives its slot up after its turn when others wait for one. One slot here stands for all of them."""
    slow = await Receiver(respond=lambda _r: Answer(200, delay=0.05)).start()
    other = await Receiver().start()
    village = region()
    hog, _ = await endpoints.add(slow.url, region_prefix=village, agency="KEMENDES", types=("*",))
    victim, _ = await endpoints.add(other.url, region_prefix=village, agency="BNN", types=("*",))
    try:
        for _ in range(60):
            await _queue(engine, hog, village, "PENDING")
        async with running(engine, stack, fast(concurrency=1, turn_seconds=0.2)) as eng:
            await slow.wait_for(1)  # the hog holds the only slot
            await _queue(engine, victim, village, "PENDING")
            eng.dispatcher.wake([victim])
            await other.wait_for(1)
            waiting = [r for r in await deliveries(engine, hog) if r.status == "PENDING"]
            assert waiting, "the victim was served only once the hog's queue was empty"
            await until(lambda: len(slow.received) >= 60)
    finally:
        await slow.stop()
        await other.stop()


async def test_an_event_fanned_out_while_an_update_commits_is_projected_for_the_new_grants(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    """The fan-out caches the endpoints: an update that commits while a batch is being fanned out (read with the
    old grants, inserted after the update's own check of the queue) must not leave a body projected for the old,
    wider grants to go to the new URL. The update is held open here while the event comes."""
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/kp2mi", region_prefix=village, types=("*",))
    designated = "demimas.designation.village.designated"
    warm, late, sentinel = (new_event(designated, village, {"villageCode": village}) for _ in range(3))
    secret = departed(village)
    async with running(engine, stack, fast(poll_seconds=60)):
        await publish(js, [warm])  # the fan-out's cache now holds the endpoint with KP2MI's grants
        await until(lambda: _has(engine, endpoint_id, warm.id))
        async with engine.connect() as held:
            await held.execute(
                text("SELECT 1 FROM feeds.endpoints WHERE id = :e FOR UPDATE"), {"e": endpoint_id}
            )  # fmt: skip
            await held.execute(
                text("UPDATE feeds.endpoints SET owner_scopes = '{feeds:manage,stats:read}', url = "
                     "'http://127.0.0.1:9/mine', version = version + 1, updated_at = now() WHERE id = :e"),
                {"e": endpoint_id},
            )  # fmt: skip
            await publish(js, [secret])
            # the fan-out waits for the update (its insert's foreign key check locks the endpoint row)
            await until(lambda: _waiting_or(engine, endpoint_id, secret.id))
            await held.commit()
        await publish(js, [late, sentinel])
        await until(lambda: _has(engine, endpoint_id, sentinel.id))
    sent = [r for r in await deliveries(engine, endpoint_id) if r.event_id == secret.id and r.status != "CANCELLED"]
    assert sent == [], "a worker's event projected for KP2MI's grants waits for the narrowed endpoint's new URL"


async def _has(engine: AsyncEngine, endpoint_id: uuid.UUID, event_id: str) -> bool:
    return any(r.event_id == event_id for r in await deliveries(engine, endpoint_id))


async def _waiting_or(engine: AsyncEngine, endpoint_id: uuid.UUID, event_id: str) -> bool:
    if await _has(engine, endpoint_id, event_id):
        return True
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :q"),
            {"q": "%feeds.%"},  # its insert (the foreign key locks the endpoint) or its check of the versions
        )
    return bool(waiting)


async def test_a_narrowed_token_cannot_count_by_replay_the_events_it_may_not_read(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    """The delivery log hides from a token narrowed below the endpoint's grants which of those events happened when;
    `replayWebhookEndpoint` answered it anyway: the number it queued is the number of the endpoint's events since
    `since`, so replays at two times count a region's worker departures between them (here a token of KP2MI with
    `feeds:manage` alone, no `registry:read`). Only a token holding every grant the endpoint delivers with may
    replay, as only such a token may rotate its secret."""
    village = region()
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/kp2mi", region_prefix=village)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await publish(js, [departed(village, n) for n in range(3)])
    narrowed = Principal("contractor", Agency.KP2MI, frozenset({"feeds:manage", "stats:read"}), None, None)
    reader = StreamReader(stack.nats_url)
    try:
        with pytest.raises(Forbidden) as refused:
            async with FeedsUnitOfWork(engine, schema="feeds") as uow:
                await replay(uow, narrowed, endpoint_id, since, reader)
        assert refused.value.extensions["reason"] == "narrower_grants"
        assert [r for r in await deliveries(engine, endpoint_id) if r.replay_of is not None] == []  # none queued
        owner = Principal("owner", Agency.KP2MI, frozenset(DEFAULT_GRANTS[Agency.KP2MI]), None, None)
        async with FeedsUnitOfWork(engine, schema="feeds") as uow:
            assert await replay(uow, owner, endpoint_id, since, reader) == 3
    finally:
        await reader.close()
