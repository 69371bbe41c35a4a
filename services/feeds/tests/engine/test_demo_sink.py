"""`make run`'s webhook demo end to end: the feeds service in development mode served on a real port (API, engine and
the development sink), the demo's endpoints loaded through the use case, a designation event published on the stream
arriving verified at the KP2MI sink and never at the BP3MI sink (which gets a worker event of region 16 published
after it, so the designation event was fanned out by then). And the sink is not there in test or production."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.keys import DevKeys, ensure_dev_keys
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.settings import Environment
from demimas_feeds.adapters.tables import SCHEMA, endpoints
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.app import create_app
from demimas_feeds.demo import DEMO_ENDPOINTS, load_demo, sink_url
from demimas_feeds.domain.commands import EndpointAction
from demimas_feeds.domain.signing import sign
from demimas_feeds.service_layer.endpoints import EndpointRules, delete_endpoint
from demimas_feeds.settings import FeedsSettings

from ..integration.conftest import feeds_settings  # noqa: TID252 (the API tests' settings)
from .conftest import departed, publish, region, until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("feeds-demo-keys"))


def development(stack: TestStack, keys: DevKeys) -> FeedsSettings:
    return feeds_settings(stack, keys, Environment.DEVELOPMENT).model_copy(update={"webhook_workers": True})


@asynccontextmanager
async def served(app: FastAPI, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def sink(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries


async def test_the_demo_endpoints_receive_verified_deliveries_at_the_development_sink(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, js: JetStreamContext
) -> None:
    settings = development(stack, keys)
    port = free_port()
    await load_demo(settings.database_url or "", port=port, settings=settings)
    await load_demo(settings.database_url or "", port=port, settings=settings)  # idempotent: no second endpoint
    kp2mi, bp3mi = sink_url("kp2mi", port), sink_url("bp3mi", port)
    # a village of South Sumatra (the BP3MI demo office's region 16) that no other test uses: these events go to the
    # session's shared stream, where the other services' projections read them too (a made-up departure in the
    # demo village 16.06.13.2001 skewed designation's criteria against the registry's rows in the full session)
    village = region("16")
    designated = new_event(
        "demimas.designation.village.designated",
        str(uuid.uuid4()),
        {"villageCode": village, "designationId": str(uuid.uuid4())},
    )
    worker = departed(village)
    try:
        async with served(create_app(settings), port), httpx.AsyncClient(timeout=10) as http:
            await publish(js, [designated, worker])

            async def arrived(url: str, event_id: str) -> dict[str, Any] | None:
                for d in await sink(http, url):
                    if d["verified"] and d["eventId"] == event_id:
                        return d
                return None

            at_kp2mi = await until(lambda: arrived(kp2mi, designated.id))
            await until(lambda: arrived(bp3mi, worker.id))
            assert at_kp2mi["type"] == "demimas.designation.village.designated"
            assert at_kp2mi["villageCode"] == village
            assert at_kp2mi["data"] == designated.data
            assert int(at_kp2mi["sequence"]) > 0
            assert at_kp2mi["webhook-id"]
            assert at_kp2mi["time"]
            assert not [d for d in await sink(http, bp3mi) if d.get("eventId") == designated.id]
            assert not [d for d in await sink(http, kp2mi) if d.get("eventId") == worker.id]

            # a delivery signed with another secret is kept as unverified, with nothing of its body, and refused
            body = b'{"type": "demimas.designation.village.designated", "data": {"villageCode": "16.06.13.2001"}}'
            now = int(time.time())
            forged = sign("whsec_" + "A" * 32, "msg_forged", now, body)
            headers = {"webhook-id": "msg_forged", "webhook-timestamp": str(now), "webhook-signature": forged}
            refused = await http.post(kp2mi, content=body, headers=headers)
            assert refused.status_code == 401
            kept = next(d for d in await sink(http, kp2mi) if d["webhook-id"] == "msg_forged")
            assert kept["verified"] is False
            assert "data" not in kept
            assert "type" not in kept
    finally:
        rules = EndpointRules.from_settings(settings)
        async with engine.connect() as conn:
            made = (
                await conn.execute(
                    select(endpoints.c.id, endpoints.c.agency).where(
                        endpoints.c.url.in_([kp2mi, bp3mi]), endpoints.c.deleted_at.is_(None)
                    )
                )
            ).all()
        assert len(made) == len(DEMO_ENDPOINTS)
        owners = {principal.agency.value: principal for principal, *_ in DEMO_ENDPOINTS}
        for endpoint_id, agency in made:
            async with FeedsUnitOfWork(engine, schema=SCHEMA) as uow:
                await delete_endpoint(EndpointAction(endpoint_id), uow, owners[agency], rules)


async def sink_status(app: FastAPI) -> tuple[int, int]:
    """(GET, POST) status of the KP2MI sink path, over ASGI without starting the app (the list needs nothing)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feeds") as http:
        got = await http.get("/dev/webhook-sink/kp2mi")
        posted = await http.post("/dev/webhook-sink/kp2mi", content=b"{}") if got.status_code == 404 else got
    return got.status_code, posted.status_code


@pytest.mark.parametrize("environment", [Environment.PRODUCTION, Environment.TEST])
async def test_the_sink_is_absent_outside_development(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, environment: Environment
) -> None:
    assert await sink_status(create_app(feeds_settings(stack, keys, environment))) == (404, 404)
    development_app = create_app(development(stack, keys).model_copy(update={"webhook_workers": False}))
    assert (await sink_status(development_app))[0] == 200
