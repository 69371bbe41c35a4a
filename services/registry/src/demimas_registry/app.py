"""Composition root of the registry service: settings, engine, schema, relay, HTTP app."""

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
from demimas_registry.adapters.tables import SCHEMA
from demimas_registry.entrypoints.graphql.context import context_getter
from demimas_registry.entrypoints.graphql.schema import schema
from demimas_registry.entrypoints.upload import upload_router
from demimas_registry.settings import RegistrySettings

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec(
    name="registry",
    port=4001,
    app_factory="demimas_registry.app:create_app",
    migrations=Path(__file__).parent / "migrations",
    demo_loader="demimas_registry.demo:load_demo",
    graphql_schema="demimas_registry.entrypoints.graphql.schema:schema",
)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    if not settings.database_url or not settings.nats_url:
        raise RuntimeError("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (`make run` does it for you)")
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, application_name="registry")
    instrument_engine(engine)
    relay = OutboxRelay(engine, SCHEMA, settings.nats_url, retention_days=settings.outbox_retention_days)

    @asynccontextmanager
    async def run_relay() -> AsyncIterator[None]:
        task = asyncio.create_task(relay.run(), name="registry-outbox-relay")
        try:
            yield
        finally:
            relay.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.dispose()

    verifier = TokenVerifier(settings)
    app = create_service_app(
        spec=SERVICE,
        settings=settings,
        schema=schema,
        context_getter=context_getter(engine, verifier),
        lifespan_hooks=[run_relay],
        readiness=[database_ready(engine), nats_ready(settings.nats_url)],
    )
    app.include_router(upload_router(engine, verifier, settings))
    return app
