"""The feeds service through the gateway, with agencies' own tokens: an agency registers a webhook endpoint and
lists it, another agency cannot see it (by id, in its list, through `_entities`), and the change feed pages the
events an agency may see (a regional office only its region's) with stream-sequence cursors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

CREATE = """mutation C($in: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $in) { secret endpoint { id url eventTypes regionPrefix status } } }"""
GET = "query G($id: ID!) { webhookEndpoint(id: $id) { id url status deliveries(first: 5) { totalCount } } }"
LIST = "{ webhookEndpoints(first: 500) { totalCount edges { node { id } } } }"
CHANGES = """query F($after: String, $types: [String!], $first: Int) {
  changes(after: $after, types: $types, first: $first) {
    edges { cursor node { id type villageCode sequence data } } pageInfo { hasNextPage endCursor } } }"""


async def _ok(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    status, answer = await ask(endpoints.gateway, query, variables, token=token)
    assert status == 200, answer
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def test_webhook_endpoints_through_the_gateway(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    owner = mint("KEMENPPPA")
    hook = {"url": "http://127.0.0.1:9/kemenpppa", "eventTypes": ["demimas.pillars.*"], "description": "e2e"}
    created = (await _ok(endpoints, CREATE, {"in": hook}, owner))["createWebhookEndpoint"]
    endpoint_id = created["endpoint"]["id"]
    assert created["secret"].startswith("whsec_")
    assert created["endpoint"]["status"] == "ACTIVE"
    listed = (await _ok(endpoints, LIST, {}, owner))["webhookEndpoints"]
    assert endpoint_id in {e["node"]["id"] for e in listed["edges"]}
    read = (await _ok(endpoints, GET, {"id": endpoint_id}, owner))["webhookEndpoint"]
    assert read["url"] == hook["url"]
    assert isinstance(read["deliveries"]["totalCount"], int)

    other = mint("BNN")
    _, answer = await ask(endpoints.gateway, GET, {"id": endpoint_id}, token=other)
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["NOT_FOUND"]
    assert endpoint_id not in {
        e["node"]["id"] for e in (await _ok(endpoints, LIST, {}, other))["webhookEndpoints"]["edges"]
    }
    # no agency without feeds:manage gets past the gateway
    _, refused = await ask(endpoints.gateway, LIST, token=mint("KEMENKO_POLKAM"))
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"  # the gateway's own check


async def test_the_change_feed_through_the_gateway(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    nc = await connect(stack.nats_url, name="e2e-feeds")
    try:
        js = nc.jetstream()
        start = int((await js.stream_info(STREAM)).state.last_seq)
        # villages of their own: the stream is the session's, and every service's projections read these made-up
        # registrations too (another test's counts of a shared village would be one off)
        serial = uuid.uuid4().int % 900 + 3000
        here, there = f"16.06.13.{serial}", f"33.07.03.{serial}"
        events = []
        for code in (here, there):
            worker = str(uuid.uuid4())
            data = {"workerId": worker, "villageCode": code, "status": "CANDIDATE", "version": 1}
            events.append(new_event("demimas.registry.worker.registered", worker, data))
        for event in events:
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    finally:
        await nc.close()
    ids = {e.id: e.data["villageCode"] for e in events}

    async def pulled(token: str) -> list[str]:
        seen: list[str] = []
        variables: dict[str, Any] = {"after": str(start), "types": ["demimas.registry.worker.*"], "first": 1000}
        for _ in range(50):
            page = (await _ok(endpoints, CHANGES, variables, token))["changes"]
            seen += [e["node"]["id"] for e in page["edges"] if e["node"]["id"] in ids]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            variables["after"] = page["pageInfo"]["endCursor"]
            await asyncio.sleep(0)
        raise AssertionError("the change feed did not end")

    assert await pulled(mint("KP2MI")) == [e.id for e in events]
    assert await pulled(mint("BP3MI", region="16")) == [events[0].id]
    assert await pulled(mint("DISNAKER", region="33.07")) == [events[1].id]
