"""The issue's fault test, literally: NATS stopped, 200 workers registered, NATS started: all 200 events arrive,
each applied once. It runs on a database of its own, so no other relay of the test session touches its outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import demimas_registry
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service, runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_common.events.consumer import EventConsumer
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.nats import connect
from demimas_common.events.relay import OutboxRelay
from demimas_common.events.stream import STREAM, ensure_stream
from demimas_registry.adapters.unit_of_work import RegistryUnitOfWork
from demimas_registry.adapters.villages import load_villages
from demimas_registry.domain.commands import RegisterWorker
from demimas_registry.domain.vocabulary import EducationLevel, Sex
from demimas_registry.service_layer.handlers import register_worker

pytestmark = pytest.mark.integration
KP2MI = Principal("test", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])


@pytest.fixture(scope="module")
async def own_database(stack: TestStack) -> str:
    stack.postgres.psql("CREATE DATABASE registry_faults")
    admin = stack.postgres.url("registry_faults")
    engine = create_engine(admin, pool_size=1)
    try:
        async with engine.begin() as conn:
            await provision_service(conn, "registry")
    finally:
        await engine.dispose()
    migrations = Path(demimas_registry.__file__).parent / "migrations"
    await upgrade(with_user(admin, owner_role("registry")), schema="registry", script_location=migrations)
    runtime = with_user(admin, runtime_role("registry"))
    engine = create_engine(runtime, pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    return runtime


def candidate(i: int) -> RegisterWorker:
    born = dt.date(1990, 1, 1) + dt.timedelta(days=i)
    nik = f"160613{born.day:02d}{born.month:02d}{born.year % 100:02d}{i + 1:04d}"
    return RegisterWorker(
        nik=nik, full_name="Budi Santoso", sex=Sex.MALE, birth_date=born, education=EducationLevel.SMA,
        village_code="16.06.13.2001",
    )  # fmt: skip


async def test_nats_down_while_200_workers_register(stack: TestStack, own_database: str) -> None:
    engine = create_engine(own_database)
    nats = stack.fresh_nats("outbox-faults")
    relay = OutboxRelay(engine, "registry", nats.url, min_backoff=0.05, max_backoff=0.2, ack_timeout=1.0)
    relay_task = asyncio.create_task(relay.run())
    try:
        ids = []
        for i in range(200):
            async with RegistryUnitOfWork(engine, schema="registry", actor=KP2MI.actor) as uow:
                ids.append(str((await register_worker(candidate(i), uow, KP2MI)).id))
        await asyncio.sleep(0.3)
        assert not relay_task.done(), "the relay must outlive the outage"
        async with engine.connect() as conn:
            waiting = await conn.scalar(text("SELECT count(*) FROM registry.outbox WHERE published_at IS NULL"))
        assert waiting == 200

        nats.start()
        nc = await connect(nats.url, name="test")
        await ensure_stream(nc.jetstream())
        for _ in range(1200):  # up to a minute (10 s could be outrun by a loaded CI machine); ends once all are out
            async with engine.connect() as conn:
                waiting = await conn.scalar(text("SELECT count(*) FROM registry.outbox WHERE published_at IS NULL"))
            if waiting == 0:
                break
            await asyncio.sleep(0.05)
        assert waiting == 0
        assert (await nc.jetstream().stream_info(STREAM)).state.messages == 200
        await nc.close()

        applied: list[str] = []

        async def handler(conn: Any, event: CloudEvent) -> None:
            applied.append(event.data["workerId"])

        consumer = EventConsumer(
            engine, "registry", nats.url, durable="faults-test", subjects=["demimas.registry.worker.>"],
            handler=handler, fetch_timeout=0.3,
        )  # fmt: skip
        await consumer.drain()
        await relay.replay(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))  # publish everything again: still one effect
        await asyncio.sleep(0.5)
        await consumer.drain()
        await consumer.close()
        assert sorted(applied) == sorted(ids)
    finally:
        relay.stop()
        await asyncio.gather(relay_task, return_exceptions=True)
        nats.stop()
        await engine.dispose()
