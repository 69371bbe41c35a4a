"""Composition root of the designation service: settings, engine, schema, outbox relay, the village-stats consumer,
HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from demimas_common.app import create_app as create_service_app
from demimas_common.app import database_ready, nats_ready
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.db.engine import create_engine
from demimas_common.events.relay import OutboxRelay
from demimas_common.service import ServiceSpec
from demimas_common.telemetry import instrument_engine
from demimas_designation.adapters.tables import SCHEMA
from demimas_designation.entrypoints.graphql.context import context_getter
from demimas_designation.entrypoints.graphql.schema import schema
from demimas_designation.service_layer.proposals import WorkflowSettings
from demimas_designation.service_layer.rebuild import village_stats_consumer
from demimas_designation.settings import DesignationSettings

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec(
    name="designation",
    port=4002,
    app_factory="demimas_designation.app:create_app",
    migrations=Path(__file__).parent / "migrations",
    graphql_schema="demimas_designation.entrypoints.graphql.schema:schema",
    demo_loader="demimas_designation.demo:load_demo",
)


def create_app(settings: DesignationSettings | None = None) -> FastAPI:
    settings = settings or DesignationSettings()
    if not settings.database_url or not settings.nats_url:
        raise RuntimeError("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (`make run` does it for you)")
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, application_name="designation")
    instrument_engine(engine)
    relay = OutboxRelay(engine, SCHEMA, settings.nats_url, retention_days=settings.outbox_retention_days)
    consumer = village_stats_consumer(engine, settings.nats_url, max_attempts=settings.consumer_max_attempts)

    @asynccontextmanager
    async def background() -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(relay.run(), name="designation-outbox-relay"),
            asyncio.create_task(consumer.run(), name="designation-village-stats"),
        ]
        try:
            yield
        finally:
            relay.stop()
            consumer.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumer.close()
            await engine.dispose()

    verifier = TokenVerifier(settings)
    workflow = WorkflowSettings(procedural_threshold=settings.procedural_threshold)
    return create_service_app(
        spec=SERVICE,
        settings=settings,
        schema=schema,
        context_getter=context_getter(engine, verifier, workflow),
        lifespan_hooks=[background],
        readiness=[database_ready(engine), nats_ready(settings.nats_url)],
    )
