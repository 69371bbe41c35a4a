"""The engine as the service runs it (app.py with DEMIMAS_WEBHOOK_WORKERS on): an endpoint created through GraphQL
receives an event signed with the secret the API showed, its deliveries and attempts are listed, redeliver works."""

from __future__ import annotations

from typing import Any

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
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("feeds-engine-keys"))


async def test_an_endpoint_made_through_the_api_receives_signed_events(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, js: JetStreamContext
) -> None:
    base = feeds_settings(stack, keys)
    app = create_app(base.model_copy(update={"webhook_workers": True, "feeds_backoff_scale": 0.001}))
    village = region()
    receiver = await Receiver().start()
    try:
        async for api in serve(app, keys):
            kp2mi = api.caller("KP2MI")
            made = await api.ok(kp2mi, CREATE, {"input": {"url": receiver.url, "eventTypes": ["demimas.registry.*"],
                                                          "regionPrefix": village}})  # fmt: skip
            endpoint_id = made["createWebhookEndpoint"]["endpoint"]["id"]
            secret = made["createWebhookEndpoint"]["secret"]
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
