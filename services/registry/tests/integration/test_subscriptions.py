"""The registry's subscriptions over a real WebSocket (`graphql-transport-ws`, the `websockets` library) against
the real registry app on the test devstack: changes made through mutations reach subscribers through the outbox,
NATS and the process's fan-out.

Covered: a worker change arrives with its entity references; region isolation for a regional token; resuming after
a cursor gets each missed change once and in order; invalid cursors; a token that expires; scopes checked before
the stream opens; the caller from `connection_init`; village numbers; personal fields keep their rules."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from demimas_common.subscriptions.client import WsClient, serve

from .conftest import GraphQL, worker_input
from .test_graphql_workers import DEPART, REGISTER, departure

pytestmark = pytest.mark.integration

WORKER_CHANGED = """
subscription($filter: WorkerChangeFilter, $after: String) {
  workerChanged(filter: $filter, after: $after) {
    cursor kind workerId villageCode status version occurredAt worker { id status version } village { code }
  }
}"""
STATS_CHANGED = """
subscription($code: String, $prefix: String, $after: String) {
  villageStatsChanged(villageCode: $code, regionPrefix: $prefix, after: $after) {
    cursor villageCode cause migrantStats { total abroad }
  }
}"""


@pytest.fixture(scope="module")
async def url(registry_app: Any) -> AsyncIterator[str]:
    async with serve(registry_app) as found:
        yield found


def connect(url: str, jwt: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {jwt}"} if jwt else None
    return WsClient.connect(url, headers=headers, **kwargs)


async def register(gql: GraphQL, jwt: str, village: str = "16.06.13.2001") -> dict[str, Any]:
    body = await gql(REGISTER, {"input": worker_input(village)}, token=jwt)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["registerWorker"]
    return found


async def started(ws: WsClient, registry_app: Any, query: str, variables: dict[str, Any], id: str = "1") -> None:
    """Subscribe; return once the fan-out offers events to the subscription (its feed is registered)."""
    fanout = _fanout(registry_app)
    before = len(fanout.feeds)
    await ws.subscribe(id, query, variables)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # a loaded CI machine may take seconds (3 s did not do); a started one returns at once
    while loop.time() < deadline:
        if len(fanout.feeds) > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the subscription did not start: {await ws.receive(1)}")


def _fanout(app: Any) -> Any:
    """The registry process's live fan-out (the one every subscription's context holds)."""
    return app.state.live_events


async def changes_for(ws: WsClient, ids: set[str], count: int, id: str = "1") -> list[dict[str, Any]]:
    """The next `count` changes of the workers `ids` on operation `id` (others' changes, from other tests, are
    skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        [payload] = await ws.events(id, 1, timeout=30)  # outbox, stream, fan-out: seconds on a loaded machine
        assert "errors" not in payload, payload
        change = payload["data"]["workerChanged"]
        if change["workerId"] in ids:
            found.append(change)
    return found


async def test_a_registered_worker_reaches_a_subscriber_with_its_references(
    url: str, registry_app: Any, gql: GraphQL, token: Callable[..., str]
) -> None:
    kp2mi = token("KP2MI")
    async with connect(url, kp2mi) as ws:
        await started(ws, registry_app, WORKER_CHANGED, {"filter": {"villageCode": "16.06.13.2001"}})
        before = dt.datetime.now(dt.UTC)
        worker = await register(gql, kp2mi)
        body = await gql(DEPART, {"id": worker["id"], "input": departure()}, token=kp2mi)
        assert "errors" not in body, body
        registered, departed = await changes_for(ws, {worker["id"]}, 2)
    assert registered["kind"] == "REGISTERED"
    assert registered["status"] == "CANDIDATE"
    assert registered["version"] == 1
    # occurredAt: the event's time, set in the committing transaction (the subscriptions benchmark's start point)
    occurred = dt.datetime.fromisoformat(registered["occurredAt"])
    assert before <= occurred <= dt.datetime.fromisoformat(departed["occurredAt"]) <= dt.datetime.now(dt.UTC)
    assert registered["village"] == {"code": "16.06.13.2001"}
    assert registered["worker"]["id"] == worker["id"]
    assert departed["kind"] == "DEPARTED"
    assert departed["status"] == "ABROAD"
    assert int(departed["cursor"]) > int(registered["cursor"])


async def test_a_regional_token_never_receives_another_regions_changes(
    url: str, registry_app: Any, gql: GraphQL, token: Callable[..., str]
) -> None:
    kp2mi = token("KP2MI")
    disnaker = token("DISNAKER", region="16.06")
    async with connect(url, disnaker) as ws:
        await started(ws, registry_app, WORKER_CHANGED, {})
        outside = await register(gql, kp2mi, village="32.01.01.1002")
        inside = await register(gql, kp2mi, village="16.06.13.2001")
        [change] = await changes_for(ws, {outside["id"], inside["id"]}, 1)
        assert change["workerId"] == inside["id"]
        # a regionPrefix outside the caller's region is a filter, as in the queries: nothing matches
        await started(ws, registry_app, WORKER_CHANGED, {"filter": {"regionPrefix": "32"}}, id="2")
        await register(gql, kp2mi, village="32.01.01.1002")
        assert await ws.nothing_within(0.5)


async def test_resume_after_a_cursor_gets_each_missed_change_once_in_order(
    url: str, registry_app: Any, gql: GraphQL, token: Callable[..., str]
) -> None:
    kp2mi = token("KP2MI")
    village = {"filter": {"villageCode": "16.06.03.2008"}}
    async with connect(url, kp2mi) as ws:
        await started(ws, registry_app, WORKER_CHANGED, village)
        first = await register(gql, kp2mi, village="16.06.03.2008")
        [seen] = await changes_for(ws, {first["id"]}, 1)
    # disconnected: these are missed
    missed = [await register(gql, kp2mi, village="16.06.03.2008") for _ in range(3)]
    await gql(DEPART, {"id": missed[0]["id"], "input": departure()}, token=kp2mi)
    ids = {w["id"] for w in missed}
    async with connect(url, kp2mi) as ws:
        await ws.subscribe("1", WORKER_CHANGED, {**village, "after": seen["cursor"]})
        got = await changes_for(ws, ids, 4)
        assert [(c["workerId"], c["kind"]) for c in got] == [
            *((w["id"], "REGISTERED") for w in missed),
            (missed[0]["id"], "DEPARTED"),
        ]
        cursors = [int(c["cursor"]) for c in got]
        assert cursors == sorted(cursors)
        later = await register(gql, kp2mi, village="16.06.03.2008")
        [live] = await changes_for(ws, ids | {later["id"]}, 1)
        assert live["workerId"] == later["id"]  # then live, and nothing twice


async def test_invalid_cursors_are_refused(url: str, token: Callable[..., str]) -> None:
    async with connect(url, token("KP2MI")) as ws:
        for index, after in enumerate(["not-a-cursor", "-5", "99999999999"]):
            await ws.subscribe(str(index), WORKER_CHANGED, {"after": after})
            message = await ws.receive()
            assert message["type"] == "error"
            extensions = message["payload"][0]["extensions"]
            assert (extensions["code"], extensions["reason"], extensions["field"]) == (
                "BAD_USER_INPUT", "invalid_cursor", "after"
            )  # fmt: skip


async def test_a_token_that_expires_ends_the_subscription(
    url: str, registry_app: Any, token: Callable[..., str]
) -> None:
    # accepted within the 30 s leeway, for about 6 s more: time for the subscription to start on a loaded machine
    jwt = token("KP2MI", ttl=dt.timedelta(seconds=-24))
    async with connect(url, jwt) as ws:
        await started(ws, registry_app, WORKER_CHANGED, {"filter": {"villageCode": "16.06.13.2001"}})
        while True:  # other tests' changes may come first
            message = await ws.receive(timeout=30)
            if message["type"] == "next" and "errors" in message["payload"]:
                break
        assert message["payload"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}
        assert (await ws.receive())["type"] == "complete"


async def test_scopes_are_checked_before_the_stream_opens(url: str, token: Callable[..., str]) -> None:
    async with connect(url, token("KEMENDES")) as ws:  # stats:read, no registry:read
        await ws.subscribe("1", WORKER_CHANGED, {})
        message = await ws.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "FORBIDDEN"
    async with connect(url) as ws:
        await ws.subscribe("1", WORKER_CHANGED, {})
        message = await ws.receive()
    assert message["payload"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "missing"}


async def test_the_caller_may_come_in_connection_init_and_personal_fields_keep_their_rules(
    url: str, registry_app: Any, gql: GraphQL, token: Callable[..., str]
) -> None:
    kp2mi = token("KP2MI")
    query = """subscription($f: WorkerChangeFilter) { workerChanged(filter: $f) {
      workerId worker { nik } } }"""
    async with connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws:  # no purpose named
        await started(ws, registry_app, query, {"f": {"villageCode": "16.06.13.2001"}})
        worker = await register(gql, kp2mi)
        while True:
            [payload] = await ws.events("1", 1, timeout=30)  # seconds on a loaded machine
            if payload["data"] and payload["data"]["workerChanged"]["workerId"] == worker["id"]:
                break
    assert payload["data"]["workerChanged"]["worker"]["nik"] is None
    assert payload["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    purposeful = {"authorization": f"Bearer {kp2mi}", "purpose": "PLACEMENT_SERVICE"}
    async with connect(url, payload=purposeful) as ws:
        await started(ws, registry_app, query, {"f": {"villageCode": "16.06.13.2001"}})
        worker = await register(gql, kp2mi)
        while True:
            [payload] = await ws.events("1", 1, timeout=30)  # seconds on a loaded machine
            if payload["data"]["workerChanged"]["workerId"] == worker["id"]:
                break
    assert "errors" not in payload
    assert len(payload["data"]["workerChanged"]["worker"]["nik"]) == 16


async def test_village_numbers_changes(url: str, registry_app: Any, gql: GraphQL, token: Callable[..., str]) -> None:
    kp2mi = token("KP2MI")
    kemendes = token("KEMENDES")  # stats:read only
    async with connect(url, kemendes) as ws:
        await started(ws, registry_app, STATS_CHANGED, {"code": "16.06.03.2008"})
        await register(gql, kp2mi, village="32.01.01.1002")  # another village: not this subscription's
        await register(gql, kp2mi, village="16.06.03.2008")
        [payload] = await ws.events("1", 1, timeout=30)  # seconds on a loaded machine
    assert "errors" not in payload, payload
    change = payload["data"]["villageStatsChanged"]
    assert change["villageCode"] == "16.06.03.2008"
    assert change["cause"] == "REGISTERED"
    assert change["migrantStats"]["total"] >= 1
    async with connect(url, token("BP3MI", region="16.06")) as ws:  # a region's numbers: inside it only
        await started(ws, registry_app, STATS_CHANGED, {"prefix": "16"})
        await register(gql, kp2mi, village="32.01.01.1002")
        await register(gql, kp2mi, village="16.06.13.2001")
        [payload] = await ws.events("1", 1, timeout=30)  # seconds on a loaded machine
        assert payload["data"]["villageStatsChanged"]["villageCode"].startswith("16.06.")
