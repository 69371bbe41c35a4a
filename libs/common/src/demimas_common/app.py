"""The app factory every service uses: FastAPI + the Strawberry federation router at /graphql, health and
readiness probes, Prometheus metrics, JSON logs with personal data masked, OpenTelemetry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import strawberry
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import GraphQLRouter

from demimas_common.logs import configure_logging
from demimas_common.metrics import metrics_middleware, metrics_response
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings, Environment
from demimas_common.telemetry import configure_tracing, instrument_app

__all__ = ["ReadinessCheck", "create_app", "database_ready", "nats_ready"]

ReadinessCheck = Callable[[], Awaitable[None]]
LifespanHook = Callable[[], AbstractAsyncContextManager[None]]


def database_ready(engine: AsyncEngine) -> ReadinessCheck:
    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return database


def nats_ready(url: str) -> ReadinessCheck:
    async def nats() -> None:
        from demimas_common.events.nats import connect

        nc = await connect(url, name="readyz", reconnect=False)
        try:
            await nc.flush(timeout=2)
        finally:
            await nc.close()

    return nats


def create_app(
    *,
    spec: ServiceSpec,
    settings: CommonSettings,
    schema: strawberry.federation.Schema,
    context_getter: Callable[..., Awaitable[Any]],
    lifespan_hooks: Sequence[LifespanHook] = (),
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    configure_logging(settings.log_level, spec.name)
    configure_tracing(spec.name, settings)
    development = settings.environment is Environment.DEVELOPMENT

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook())
            yield

    app = FastAPI(
        title=f"Demimas {spec.name}",
        lifespan=lifespan,
        docs_url="/docs" if development else None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
    )
    router: GraphQLRouter[Any, None] = GraphQLRouter(
        schema, context_getter=context_getter, graphql_ide="graphiql" if development else None
    )
    app.include_router(router, prefix="/graphql")
    app.middleware("http")(metrics_middleware(spec.name))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        async def run(check: ReadinessCheck) -> str | None:
            try:
                await asyncio.wait_for(check(), timeout=3.0)
            except Exception:
                return check.__name__
            return None

        failing = [name for name in await asyncio.gather(*(run(c) for c in readiness)) if name]
        if failing:
            return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Any:
        return metrics_response()

    instrument_app(app)
    return app
