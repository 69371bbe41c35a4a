"""Composition root of the pillars service: settings, engine, schema, outbox relay, the `people` and `designations`
consumers, HTTP app."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.app import create_app as create_service_app
from demimas_common.app import database_ready, nats_ready
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.db.engine import create_engine
from demimas_common.events.relay import OutboxRelay
from demimas_common.service import ServiceSpec
from demimas_common.telemetry import instrument_engine
from demimas_pillars.adapters import idempotency
from demimas_pillars.adapters.tables import SCHEMA
from demimas_pillars.entrypoints.graphql.context import context_getter
from demimas_pillars.entrypoints.graphql.schema import schema
from demimas_pillars.service_layer.consumers import designations_consumer, people_consumer
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.settings import PillarsSettings

__all__ = ["SERVICE", "create_app", "prune_keys"]

log = logging.getLogger("demimas.pillars")

SERVICE = ServiceSpec(
    name="pillars",
    port=4003,
    app_factory="demimas_pillars.app:create_app",
    migrations=Path(__file__).parent / "migrations",
    graphql_schema="demimas_pillars.entrypoints.graphql.schema:schema",
    demo_loader="demimas_pillars.demo:load_demo",
)


async def prune_keys(engine: AsyncEngine, retention_days: int, every_seconds: float = 3600.0) -> None:
    """Every hour, forget idempotency keys older than the retention (each replica does; deleting is idempotent)."""
    while True:
        try:
            dropped = await idempotency.prune(
                engine, older_than=dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
            )
            if dropped:
                log.info("pillars: %d idempotency keys older than %d days forgotten", dropped, retention_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away: try again at the next round
            log.warning("pillars: pruning idempotency keys failed: %s: %s", type(exc).__name__, str(exc)[:200])
        await asyncio.sleep(every_seconds)


def create_app(settings: PillarsSettings | None = None) -> FastAPI:
    settings = settings or PillarsSettings()
    if not settings.database_url or not settings.nats_url:
        raise RuntimeError("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (`make run` does it for you)")
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, application_name="pillars")
    instrument_engine(engine)
    relay = OutboxRelay(engine, SCHEMA, settings.nats_url, retention_days=settings.outbox_retention_days)
    consumers = [
        people_consumer(engine, settings.nats_url, max_attempts=settings.consumer_max_attempts),
        designations_consumer(engine, settings.nats_url, max_attempts=settings.consumer_max_attempts),
    ]

    @asynccontextmanager
    async def background() -> AsyncIterator[None]:
        tasks = [asyncio.create_task(relay.run(), name="pillars-outbox-relay")]
        tasks.append(asyncio.create_task(prune_keys(engine, settings.idempotency_key_retention_days)))
        tasks += [asyncio.create_task(c.run(), name=f"pillars-{c.durable}") for c in consumers]
        try:
            yield
        finally:
            relay.stop()
            for c in consumers:
                c.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in consumers:
                await c.close()
            await engine.dispose()

    verifier = TokenVerifier(settings)
    delivery = DeliverySettings(pillar_agencies=settings.pillar_table(), window_days=settings.progress_window_days)
    return create_service_app(
        spec=SERVICE,
        settings=settings,
        schema=schema,
        context_getter=context_getter(engine, verifier, delivery),
        lifespan_hooks=[background],
        readiness=[database_ready(engine), nats_ready(settings.nats_url)],
    )
