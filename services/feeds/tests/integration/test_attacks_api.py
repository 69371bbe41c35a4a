"""A hostile token against the delivery log over GraphQL: a token of the agency narrowed to `feeds:manage` (without
the scope an event needs) sees none of the deliveries of those events, however it asks (the endpoint's list, the
root list, the counts, redeliver): the log says which event happened when, in which region."""

from __future__ import annotations

import dataclasses
import random
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import Conflict
from demimas_common.events.envelope import new_event
from demimas_feeds.adapters.deliveries import NewDeliveries, insert_deliveries
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.domain.commands import CreateEndpoint
from demimas_feeds.service_layer.endpoints import EndpointRules, create_endpoint
from demimas_feeds.service_layer.fanout import delivery_body
from demimas_feeds.visibility import Audience

from .conftest import Api
from .test_endpoints_api import create

pytestmark = pytest.mark.integration

DELIVERIES = "query D($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount edges { node { id eventType } } } }"
NESTED = "query G($id: ID!) { webhookEndpoint(id: $id) { deliveries { totalCount edges { node { id } } } } }"
REDELIVER = "mutation R($id: ID!) { redeliver(deliveryId: $id) { id } }"


async def _delivered(engine: AsyncEngine, endpoint_id: str, event_type: str, data: dict[str, object]) -> str:
    event = new_event(event_type, str(uuid.uuid4()), data).to_dict()
    body = delivery_body(event, Audience("KP2MI", frozenset({"registry:read", "stats:read"}), None), None, 3)
    assert body is not None
    new = NewDeliveries.empty()
    delivery_id = uuid.uuid4()
    new.add(delivery_id, uuid.UUID(endpoint_id), 3, event["id"], event_type, body)
    async with engine.begin() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await insert_deliveries(driver, new)
        await driver.execute("UPDATE feeds.deliveries SET status = 'DELIVERED' WHERE id = $1", delivery_id)
    return str(delivery_id)


async def test_a_narrowed_token_sees_no_delivery_of_an_event_it_may_not_read(
    api: Api, feeds_engine: AsyncEngine
) -> None:
    owner = api.caller("KP2MI", scopes=["feeds:manage", "registry:read", "stats:read"])
    village = (
        f"{random.randint(11, 94)}.{random.randint(1, 79):02d}.{random.randint(1, 40):02d}.{random.randint(1000, 2999)}"
    )
    kinds = ["demimas.registry.worker.departed", "demimas.designation.village.designated"]
    # its own village and types: a delivery engine running on the same database adds nothing to its log
    endpoint = (await create(api, owner, eventTypes=kinds, regionPrefix=village))["endpoint"]["id"]
    worker = str(uuid.uuid4())
    registry = await _delivered(
        feeds_engine, endpoint, "demimas.registry.worker.departed",
        {"workerId": worker, "villageCode": village, "status": "ABROAD", "version": 2,
         "destinationCountry": "MY", "scheme": "P_TO_P", "procedural": True},
    )  # fmt: skip
    stats = await _delivered(feeds_engine, endpoint, "demimas.designation.village.designated", {"villageCode": village})
    narrowed = api.caller("KP2MI", scopes=["feeds:manage", "stats:read"])
    for who, expected in ((owner, {registry, stats}), (narrowed, {stats})):
        listed = (await api.ok(who, DELIVERIES, {"id": endpoint}))["webhookDeliveries"]
        assert {e["node"]["id"] for e in listed["edges"]} == expected, who.name
        assert listed["totalCount"] == len(expected)
        nested = (await api.ok(who, NESTED, {"id": endpoint}))["webhookEndpoint"]["deliveries"]
        assert {e["node"]["id"] for e in nested["edges"]} == expected
        assert nested["totalCount"] == len(expected)
    refused = await api.error(narrowed, REDELIVER, {"id": registry})
    assert refused["code"] == "NOT_FOUND"


async def test_one_regency_office_cannot_take_every_endpoint_of_its_agency(
    feeds_engine: AsyncEngine, rules: EndpointRules
) -> None:
    """DISNAKER is one agency of some five hundred regency offices: with one limit for the whole agency, one office
    registering the most allowed left every other office without a webhook. An office (the tokens of one region)
    has a limit of its own within the agency's."""
    few = dataclasses.replace(rules, max_per_office=2, max_per_agency=10_000)
    here, there = (f"{random.randint(11, 94)}.{n:02d}" for n in random.sample(range(1, 80), 2))

    def office(region: str | None, agency: Agency = Agency.DISNAKER) -> Principal:
        return Principal(f"office-{region}", agency, DEFAULT_GRANTS[agency], region, None)

    async def create_as(who: Principal, limits: EndpointRules = few) -> None:
        cmd = CreateEndpoint("http://127.0.0.1:9/office", ("demimas.registry.worker.*",))
        async with FeedsUnitOfWork(feeds_engine, schema="feeds") as uow:
            await create_endpoint(cmd, uow, who, limits)

    for _ in range(2):
        await create_as(office(here))
    with pytest.raises(Conflict) as full:
        await create_as(office(here))
    assert full.value.extensions["reason"] == "too_many_endpoints"
    await create_as(office(there))  # another office of the agency still may
    # and the agency's own limit still holds over all its offices
    async with FeedsUnitOfWork(feeds_engine, schema="feeds") as uow:
        live, _ = await uow.endpoints.count_live("KEMENIMIPAS", None)
    capped = dataclasses.replace(rules, max_per_office=10_000, max_per_agency=live + 1)
    await create_as(office(None, Agency.KEMENIMIPAS), capped)
    with pytest.raises(Conflict):
        await create_as(office(here, Agency.KEMENIMIPAS), capped)
