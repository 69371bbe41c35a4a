"""The engine as the service runs it (app.py with DEMIMAS_WEBHOOK_WORKERS on): an endpoint created through GraphQL
receives an event signed with the secret the API showed, its deliveries and attempts are listed, redeliver works."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from demimas_common.auth.keys import DevKeys, ensure_dev_keys
from demimas_common.devstack.testing import TestStack
from demimas_feeds.app import create_app
from demimas_feeds.receiver import Receiver

from ..integration.conftest import Api, Caller, feeds_settings, serve  # noqa: TID252 (the API tests' helpers)
from .conftest import departed, publish, region, until

pytestmark = pytest.mark.integration

CREATE = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id, first: 10) { edges { node {
  id eventId status attempts lastStatusCode attemptLog { statusCode error durationMs } } } } }"""
REDELIVER = "mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }"
ENDPOINT = "query($id: ID!) { webhookEndpoint(id: $id) { status disabledReason failingSince } }"
NOTICES = """query($id: ID!) { webhookDeliveries(endpointId: $id, first: 10) { edges { node {
  status lastStatusCode lastError attemptLog { error } } } } }"""
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"
REPLAY = "mutation($id: ID!, $since: DateTime!) { replayWebhookEndpoint(id: $id, since: $since) }"


def engine_app(stack: TestStack, keys: DevKeys, **settings: Any) -> Any:
    """The feeds service with its delivery engine running and retries a thousand times sooner."""
    base = feeds_settings(stack, keys)
    return create_app(base.model_copy(update={"webhook_workers": True, "feeds_backoff_scale": 0.001, **settings}))


async def registry_endpoint(api: Any, caller: Any, url: str, village: str) -> tuple[str, str]:
    """A KP2MI endpoint of the registry's events of one village, made through the API: (its id, its secret)."""
    made = await api.ok(caller, CREATE, {"input": {"url": url, "eventTypes": ["demimas.registry.*"],
                                                   "regionPrefix": village}})  # fmt: skip
    return made["createWebhookEndpoint"]["endpoint"]["id"], made["createWebhookEndpoint"]["secret"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("feeds-engine-keys"))


async def test_an_endpoint_made_through_the_api_receives_signed_events(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, js: JetStreamContext
) -> None:
    app = engine_app(stack, keys)
    village = region()
    receiver = await Receiver().start()
    try:
        async for api in serve(app, keys):
            kp2mi = api.caller("KP2MI")
            endpoint_id, secret = await registry_endpoint(api, kp2mi, receiver.url, village)
            event = departed(village)
            await publish(js, [event])
            await receiver.wait_for(1)

            async def delivered(
                api: Api = api, who: Caller = kp2mi, eid: str = endpoint_id
            ) -> list[dict[str, Any]] | None:
                edges = (await api.ok(who, DELIVERIES, {"id": eid}))["webhookDeliveries"]["edges"]
                nodes = [e["node"] for e in edges]
                return nodes if nodes and nodes[0]["status"] == "DELIVERED" else None

            nodes = await until(delivered)
            again = await api.ok(kp2mi, REDELIVER, {"id": nodes[0]["id"]})
            assert again["redeliver"]["status"] == "PENDING"
            await receiver.wait_for(2)
            others = await api.error(api.caller("BNN"), REDELIVER, {"id": nodes[0]["id"]})
            assert others["code"] == "NOT_FOUND"
            await api.ok(kp2mi, DELETE, {"id": endpoint_id})
    finally:
        await receiver.stop()
    first, second = receiver.received
    assert Webhook(secret).verify(first.body, first.headers)["id"] == event.id
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == nodes[0]["id"]
    assert nodes[0]["eventId"] == event.id
    assert nodes[0]["attemptLog"][0]["statusCode"] == 204


async def test_the_notice_of_an_endpoint_disabled_for_failing_is_read_through_the_api(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, js: JetStreamContext
) -> None:
    """docs/feeds.md: the agency sees why its endpoint was disabled in the `lastError` of the delivery at its head."""
    app = engine_app(stack, keys, feeds_disable_after_hours=1 / 3600)
    village = region()
    receiver = await Receiver().start()
    await receiver.stop()  # gone: every attempt fails to connect
    async for api in serve(app, keys):
        kp2mi = api.caller("KP2MI")
        made = await api.ok(kp2mi, CREATE, {"input": {"url": receiver.url, "eventTypes": ["demimas.registry.*"],
                                                      "regionPrefix": village}})  # fmt: skip
        endpoint_id = made["createWebhookEndpoint"]["endpoint"]["id"]
        await publish(js, [departed(village)])

        async def disabled(api: Api = api, who: Caller = kp2mi, eid: str = endpoint_id) -> dict[str, Any] | None:
            endpoint: dict[str, Any] = (await api.ok(who, ENDPOINT, {"id": eid}))["webhookEndpoint"]
            return endpoint if endpoint["status"] == "DISABLED" else None

        endpoint = await until(disabled)
        nodes = [e["node"] for e in (await api.ok(kp2mi, NOTICES, {"id": endpoint_id}))["webhookDeliveries"]["edges"]]
        await api.ok(kp2mi, DELETE, {"id": endpoint_id})
    assert endpoint["disabledReason"] == "failing"
    assert endpoint["failingSince"] is not None
    [head] = nodes
    assert head["status"] == "PENDING"  # sent, in order, once the agency enables the endpoint
    assert head["lastStatusCode"] is None
    assert {a["error"] for a in head["attemptLog"]} == {"connect"}
    assert head["lastError"].startswith("endpoint disabled: failing since ")
    assert head["lastError"].endswith("without a success); last error: connect")


async def test_replay_through_the_api_sends_the_events_since_a_time_again(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, js: JetStreamContext
) -> None:
    app = engine_app(stack, keys)
    village = region()
    receiver = await Receiver().start()
    try:
        async for api in serve(app, keys):
            kp2mi = api.caller("KP2MI")
            endpoint_id, secret = await registry_endpoint(api, kp2mi, receiver.url, village)
            since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
            events = [departed(village, n) for n in range(3)]
            await publish(js, events)
            await receiver.wait_for(3)
            others = await api.error(api.caller("BNN"), REPLAY, {"id": endpoint_id, "since": since})
            queued = await api.ok(kp2mi, REPLAY, {"id": endpoint_id, "since": since})
            await receiver.wait_for(6)

            async def all_delivered(
                api: Api = api, who: Caller = kp2mi, eid: str = endpoint_id
            ) -> list[dict[str, Any]] | None:
                edges = (await api.ok(who, DELIVERIES, {"id": eid}))["webhookDeliveries"]["edges"]
                nodes = [e["node"] for e in edges]
                return nodes if len(nodes) == 6 and all(n["status"] == "DELIVERED" for n in nodes) else None

            nodes = await until(all_delivered)
            await api.ok(kp2mi, DELETE, {"id": endpoint_id})
    finally:
        await receiver.stop()
    assert others["code"] == "NOT_FOUND"  # another agency's endpoint does not exist for it
    assert queued["replayWebhookEndpoint"] == 3
    originals, replayed = receiver.received[:3], receiver.received[3:]
    ids = [e.id for e in events]
    assert [orjson.loads(r.body)["id"] for r in originals] == ids
    assert [Webhook(secret).verify(r.body, r.headers)["id"] for r in replayed] == ids  # signed, in order
    webhook_ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(webhook_ids) == 6  # a replay queues new deliveries: new webhook-ids
    assert webhook_ids == {n["id"] for n in nodes}
    assert sorted(n["eventId"] for n in nodes) == sorted(ids * 2)
