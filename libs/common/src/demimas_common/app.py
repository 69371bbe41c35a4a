"""The app factory every service uses: FastAPI with the Strawberry federation router at /graphql (GraphiQL in
development only), `GET /healthz` (the process answers), `GET /readyz` (its dependencies answer), `GET /metrics`
(Prometheus), masked JSON logs, OpenTelemetry, and a lifespan that runs the service's background work.

Lifespan hooks are async context managers entered in order at start-up and left in reverse order at shutdown:
services start their outbox relay and event consumers in them as tasks and stop them cleanly on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import strawberry
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from demimas_common.graphql.router import GuardedGraphQLRouter
from demimas_common.health import ReadinessCheck, database_ready, nats_ready
from demimas_common.logs import configure_logging
from demimas_common.metrics import MetricsMiddleware, metrics_response
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings, Environment
from demimas_common.telemetry import configure_tracing, instrument_app

__all__ = ["LifespanHook", "ReadinessCheck", "add_probes", "create_app", "database_ready", "nats_ready"]

LifespanHook = Callable[[], AbstractAsyncContextManager[None]]
log = logging.getLogger("demimas.app")


def create_app(
    *,
    spec: ServiceSpec,
    settings: CommonSettings,
    schema: strawberry.federation.Schema,
    context_getter: Callable[..., Awaitable[Any]],
    lifespan_hooks: Sequence[LifespanHook] = (),
    readiness: Sequence[ReadinessCheck] = (),
    readiness_timeout: float = 3.0,
) -> FastAPI:
    configure_logging(settings.log_level, spec.name)
    configure_tracing(spec.name, settings)
    development = settings.environment is Environment.DEVELOPMENT

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook())
            log.info("%s started", spec.name)
            yield
            log.info("%s stopping", spec.name)

    app = FastAPI(
        title=f"Demimas {spec.name}",
        lifespan=lifespan,
        docs_url="/docs" if development else None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
    )
    router = GuardedGraphQLRouter(
        schema, path="/graphql", context_getter=context_getter, graphql_ide="graphiql" if development else None
    )
    app.include_router(router)
    add_probes(app, spec, readiness, readiness_timeout)
    instrument_app(app)
    return app


def add_probes(
    app: FastAPI, spec: ServiceSpec, readiness: Sequence[ReadinessCheck] = (), readiness_timeout: float = 3.0
) -> None:
    """`/healthz`, `/readyz` (the `readiness` checks, concurrently, each within `readiness_timeout`), `/metrics`
    and the request metrics: what every service answers, the page-only portal included."""
    app.add_middleware(MetricsMiddleware, service=spec.name)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(check, readiness_timeout) for check in readiness))
        failing = [name for name in results if name is not None]
        if failing:
            return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response()


async def _run_check(check: ReadinessCheck, limit_seconds: float) -> str | None:
    """None when the check passes, else its name (the failure's detail goes to the log, not to the prober)."""
    name = getattr(check, "__name__", type(check).__name__)
    try:
        async with asyncio.timeout(limit_seconds):
            await check()
    except TimeoutError:
        log.warning("readiness check %s timed out after %.1fs", name, limit_seconds)
        return name
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return name
    return None
