"""Composition root of the audit service: settings, engine, schema, the `all` ingest consumer, the checkpointer,
HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from demimas_audit.entrypoints.graphql.context import context_getter
from demimas_audit.entrypoints.graphql.schema import schema
from demimas_audit.service_layer.checkpoints import Checkpointer, load_signing_key
from demimas_audit.service_layer.ingest import AuditIngest
from demimas_audit.settings import AuditSettings
from demimas_common.app import create_app as create_service_app
from demimas_common.app import database_ready, nats_ready
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.db.engine import create_engine
from demimas_common.service import ServiceSpec
from demimas_common.telemetry import instrument_engine

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec(
    name="audit",
    port=4004,
    app_factory="demimas_audit.app:create_app",
    migrations=Path(__file__).parent / "migrations",
    graphql_schema="demimas_audit.entrypoints.graphql.schema:schema",
)


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    if not settings.database_url or not settings.nats_url:
        raise RuntimeError("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (`make run` does it for you)")
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, application_name="audit")
    instrument_engine(engine)
    ingest = AuditIngest(engine, settings.nats_url)
    key = load_signing_key(settings.audit_signing_key, create=settings.creates_signing_key())
    checkpointer = Checkpointer(engine, settings.nats_url, key, interval=settings.audit_checkpoint_seconds)

    @asynccontextmanager
    async def background() -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(ingest.run(), name="audit-ingest"),
            asyncio.create_task(checkpointer.run(), name="audit-checkpoints"),
        ]
        try:
            yield
        finally:
            ingest.stop()
            checkpointer.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ingest.close()
            await engine.dispose()

    verifier = TokenVerifier(settings)
    return create_service_app(
        spec=SERVICE,
        settings=settings,
        schema=schema,
        context_getter=context_getter(engine, verifier, settings.gateway_url),
        lifespan_hooks=[background],
        readiness=[database_ready(engine), nats_ready(settings.nats_url)],
    )
