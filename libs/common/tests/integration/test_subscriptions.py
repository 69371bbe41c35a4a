"""Subscriptions on the common machinery, over a real WebSocket (`graphql-transport-ws`) and a real NATS: a tiny
subgraph whose one subscription field reads `demimas.testlive.>` through the process's fan-out.

Covered: a live event arrives (caller from the handshake's headers, or from `connection_init`); the region rule
filters events (no error); resuming `after` a cursor gets each missed event once and in order, then live ones;
invalid and expired cursors; a token that expires ends the subscription; an overflowing subscriber ends with
SLOW_CONSUMER; one fan-out consumer serves many subscriptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import strawberry
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from demimas_common.app import create_app
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM, ensure_stream
from demimas_common.graphql.context import RequestContext, context_getter_factory
from demimas_common.graphql.schema import build_schema
from demimas_common.logs import _DemimasHandler
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings, Environment
from demimas_common.subscriptions import EventFanout, EventQuery, LiveEvent, live_events
from demimas_common.subscriptions.client import WsClient, serve

pytestmark = pytest.mark.integration

SPEC = ServiceSpec(name="livetest", port=0, app_factory="tests:app", migrations=Path("."))
ISS = "https://auth.test"
SUBJECT = "demimas.testlive.thing.changed"


@strawberry.type
class ThingChange:
    cursor: str
    thing_id: str
    village_code: str


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def thing_changed(
        self, info: strawberry.Info[RequestContext, None], batch: str, after: str | None = None
    ) -> AsyncGenerator[ThingChange, None]:
        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.testlive.>",
                after=after,
                village_of=lambda event: event.data.get("villageCode"),
                matches=lambda event: event.data.get("batch") == batch,
                build=lambda cursor, event: ThingChange(
                    cursor=cursor, thing_id=event.data["thingId"], village_code=event.data["villageCode"]
                ),
            ),
        )


schema = build_schema(query=Query, subscription=Subscription)

SUBSCRIBE = "subscription($batch: String!, $after: String) { thingChanged(batch: $batch, after: $after) " \
            "{ cursor thingId villageCode } }"  # fmt: skip


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _DemimasHandler)]:
        root.removeHandler(handler)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("live-keys"))


def token(keys: DevKeys, **kwargs: Any) -> str:
    return mint_token(keys, issuer=ISS, audience="demimas", **{"agency": Agency.KP2MI} | kwargs)


class Live:
    def __init__(self, url: str, fanout: EventFanout, js: JetStreamContext, keys: DevKeys) -> None:
        self.url, self.fanout, self.js, self.keys = url, fanout, js, keys
        self.batch = uuid.uuid4().hex

    async def publish(self, village: str = "16.06.13.2001", batch: str | None = None) -> int:
        thing = uuid.uuid4().hex[:8]
        data = {"thingId": thing, "villageCode": village, "batch": batch or self.batch}
        ack = await self.js.publish(SUBJECT, new_event(SUBJECT, thing, data).to_json(), stream=STREAM)
        return int(ack.seq)

    def client(self, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", None)
        if "token" in kwargs:
            headers = {"Authorization": f"Bearer {kwargs.pop('token')}"}
        return WsClient.connect(self.url, headers=headers, **kwargs)


@asynccontextmanager
async def live_app(stack: TestStack, keys: DevKeys, queue_size: int = 1000) -> AsyncIterator[Live]:
    settings = CommonSettings(
        environment=Environment.TEST,
        jwt_issuer=ISS,
        jwks_path=keys.jwks_path,
        database_url="postgresql://unused@/x",
        nats_url=stack.nats_url,
    )
    fanout = EventFanout(stack.nats_url, subject="demimas.testlive.>", name="livetest", queue_size=queue_size)

    def build(principal: Any, **kwargs: Any) -> RequestContext:
        context = RequestContext(principal, **kwargs)
        context.live = fanout
        return context

    app: FastAPI = create_app(
        spec=SPEC,
        settings=settings,
        schema=schema,
        context_getter=context_getter_factory(TokenVerifier(settings), build),
    )
    nc = await connect(stack.nats_url, name="livetest-publisher")
    await ensure_stream(nc.jetstream())
    task = asyncio.create_task(fanout.run())
    try:
        await fanout.ready()
        async with serve(app) as url:
            yield Live(url, fanout, nc.jetstream(), keys)
    finally:
        fanout.stop()
        await asyncio.wait_for(task, 5)
        await nc.close()


@pytest.fixture
async def live(stack: TestStack, keys: DevKeys) -> AsyncIterator[Live]:
    async with live_app(stack, keys) as found:
        yield found


def changes(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for payload in payloads:
        assert "errors" not in payload, payload
    return [p["data"]["thingChanged"] for p in payloads]


async def subscribed(ws: WsClient, live: Live, id: str = "1", **variables: Any) -> None:
    """Subscribe and wait until the subscription's feed is registered with the fan-out."""
    before = len(live.fanout.feeds)
    await ws.subscribe(id, SUBSCRIBE, {"batch": live.batch} | variables)
    await until(lambda: len(live.fanout.feeds) > before, "the subscription registered")


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition` up to 30 s: a loaded CI machine may take seconds (2 s did not do); one that holds returns
    at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def test_a_live_event_reaches_a_subscriber_with_its_cursor(live: Live) -> None:
    async with live.client(token=token(live.keys)) as ws:
        await subscribed(ws, live)
        seq = await live.publish()
        [change] = changes(await ws.events("1", 1))
    assert change["cursor"] == str(seq)
    assert change["villageCode"] == "16.06.13.2001"


async def test_the_caller_may_come_in_the_connection_init_payload(live: Live) -> None:
    jwt = token(live.keys, agency=Agency.DISNAKER, region="16.06", purpose="PLACEMENT_SERVICE")
    async with live.client(payload={"authorization": f"Bearer {jwt}"}) as ws:
        await subscribed(ws, live)
        await live.publish("35.07.01.2001")  # outside 16.06: invisible
        seq = await live.publish("16.06.13.2001")
        [change] = changes(await ws.events("1", 1))
        assert change["cursor"] == str(seq)


async def test_no_caller_is_refused_before_the_stream_opens(live: Live) -> None:
    async with live.client() as ws:
        await ws.subscribe("1", SUBSCRIBE, {"batch": live.batch})
        message = await ws.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "missing"}


async def test_a_regional_token_never_sees_another_regions_events(live: Live) -> None:
    async with live.client(token=token(live.keys, agency=Agency.BP3MI, region="16.06")) as ws:
        await subscribed(ws, live)
        await live.publish("16.07.01.2001")
        await live.publish("16.061.01.2001")  # not inside 16.06: whole segments
        await live.publish("35.07.01.2001")
        inside = await live.publish("16.06.01.2002")
        [change] = changes(await ws.events("1", 1))
        assert change["cursor"] == str(inside)
        assert await ws.nothing_within(0.3)


async def test_resume_after_a_cursor_gets_each_missed_event_once_in_order_then_live(live: Live) -> None:
    jwt = token(live.keys)
    async with live.client(token=jwt) as ws:
        await subscribed(ws, live)
        first = await live.publish()
        [change] = changes(await ws.events("1", 1))
        assert change["cursor"] == str(first)
    missed = [await live.publish() for _ in range(5)]
    await live.publish(batch="another")  # not this subscription's
    async with live.client(token=jwt) as ws:
        await subscribed(ws, live, after=str(first))
        got = changes(await ws.events("1", 5))
        assert [c["cursor"] for c in got] == [str(s) for s in missed]
        later = await live.publish()
        [change] = changes(await ws.events("1", 1))
        assert change["cursor"] == str(later)
        assert await ws.nothing_within(0.3)


async def test_events_published_during_the_replay_are_sent_once(live: Live) -> None:
    """The handover under load: events keep coming while the replay reads; each arrives exactly once, in order."""
    start = await live.publish()
    backlog = [await live.publish() for _ in range(200)]

    async def publish_more() -> list[int]:
        return [await live.publish() for _ in range(100)]

    async with live.client(token=token(live.keys)) as ws:
        more_task = asyncio.create_task(publish_more())
        await ws.subscribe("1", SUBSCRIBE, {"batch": live.batch, "after": str(start)})
        more = await more_task
        got = [int(c["cursor"]) for c in changes(await ws.events("1", 300, timeout=20))]
        assert got == backlog + more
        assert await ws.nothing_within(0.3)


async def test_bad_cursors_are_refused_with_codes_a_client_can_act_on(live: Live) -> None:
    last = await live.publish()
    async with live.client(token=token(live.keys)) as ws:
        for index, after in enumerate(["abc", "-1", "1.5", str(last + 1_000_000)]):
            await ws.subscribe(str(index), SUBSCRIBE, {"batch": live.batch, "after": after})
            message = await ws.receive()
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert message["payload"][0]["extensions"]["reason"] == "invalid_cursor"


async def test_a_cursor_older_than_the_retention_is_expired(stack: TestStack, keys: DevKeys) -> None:
    """On a private NATS whose stream has lost its first events (purged), `after` before them is CURSOR_EXPIRED."""
    server = stack.fresh_nats("live-expired")
    server.start()
    try:
        nc = await connect(server.url, name="expired-setup")
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM, subjects=["demimas.>"]))
        for _ in range(5):
            await js.publish(SUBJECT, new_event(SUBJECT, "x", {"thingId": "x", "villageCode": "16.06", "batch": "b"})
                             .to_json())  # fmt: skip
        await js.purge_stream(STREAM, keep=2)  # sequences 1-3 gone
        await nc.close()
        private = TestStack(root=stack.root, postgres=stack.postgres, nats=server)
        async with live_app(private, keys) as live, live.client(token=token(keys)) as ws:
            await ws.subscribe("1", SUBSCRIBE, {"batch": "b", "after": "1"})
            message = await ws.receive()
            assert message["type"] == "error"
            assert message["payload"][0]["extensions"] == {
                "code": "CURSOR_EXPIRED", "field": "after", "firstAvailableCursor": "4", "resumeAfter": "3"
            }  # fmt: skip
            await ws.subscribe("2", SUBSCRIBE, {"batch": "b", "after": "3"})
            got = changes(await ws.events("2", 2))
            assert [c["cursor"] for c in got] == ["4", "5"]
    finally:
        server.stop()


async def test_a_token_that_expires_ends_the_subscription(live: Live) -> None:
    # Within the verifier's 30 s leeway, so accepted now; it stops being accepted in about 6 s (3 s were outrun by a
    # loaded machine's pause before the event arrived).
    jwt = token(live.keys, ttl=dt.timedelta(seconds=-24))
    async with live.client(token=jwt) as ws:
        await subscribed(ws, live)
        seq = await live.publish()
        [change] = changes(await ws.events("1", 1))
        assert change["cursor"] == str(seq)
        message = await ws.receive(timeout=30)
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}
        assert (await ws.receive())["type"] == "complete"
    assert not live.fanout.feeds


async def test_a_subscriber_that_falls_behind_ends_with_slow_consumer(stack: TestStack, keys: DevKeys) -> None:
    async with live_app(stack, keys, queue_size=10) as live, live.client(token=token(keys)) as ws:
        await subscribed(ws, live)
        # A burst faster than any drain: 50 events offered without yielding to the subscriber in between.
        event = new_event(SUBJECT, "x", {"thingId": "x", "villageCode": "16.06.13.2001", "batch": live.batch})
        base = live.fanout.position
        for offset in range(1, 51):
            live.fanout.dispatch(LiveEvent(base + offset, event))
        payloads = []
        while True:
            message = await ws.receive()
            if message["type"] == "complete":
                break
            payloads.append(message["payload"])
        final = payloads[-1]["errors"][0]
        assert final["extensions"]["code"] == "SLOW_CONSUMER"
        delivered = [p["data"]["thingChanged"]["cursor"] for p in payloads[:-1]]
        assert final["extensions"]["lastCursor"] == (delivered[-1] if delivered else None)


async def test_many_subscriptions_share_one_consumer_and_identical_ones_one_execution(live: Live) -> None:
    jwt = token(live.keys)
    async with live.client(token=jwt) as ws:
        await subscribed(ws, live, id="0")
        for index in range(1, 20):  # the same subscription by the same caller: joins the first one's stream
            await ws.subscribe(str(index), SUBSCRIBE, {"batch": live.batch})
        await subscribed(ws, live, id="other", batch=uuid.uuid4().hex)  # another: a stream of its own
        # the 19 have joined (not a fixed 0.2 s: a loaded machine may take longer, and the event would miss them)
        await until(lambda: any(len(s.members) == 20 for s in schema.shared_streams.streams.values()), "all joined")
        assert len(live.fanout.feeds) == 2
        nc = live.fanout.connection
        consumers = [c async for c in _consumers(nc.jetstream())]
        seq = await live.publish()
        got = [await ws.receive() for _ in range(20)]
        assert await ws.nothing_within(0.3)  # "other" receives nothing of this batch
    assert sorted(m["id"] for m in got) == sorted(str(i) for i in range(20))
    assert {m["payload"]["data"]["thingChanged"]["cursor"] for m in got} == {str(seq)}
    assert len(consumers) < 20  # one live consumer for the process (others belong to other tests' processes)
    await until(lambda: not live.fanout.feeds, "every member gone: the shared stream and its feed too")


async def _consumers(js: JetStreamContext) -> AsyncIterator[str]:
    for info in await js.consumers_info(STREAM):
        yield info.name
