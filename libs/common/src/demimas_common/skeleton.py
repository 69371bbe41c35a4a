"""The service skeleton: what every data service's process is made of, declared once.

A service's `app.py` says which parts it has; the skeleton makes the engine and the token verifier, builds the
request context, starts the outbox relay, the consumers, the periodic jobs and any other background workers as
tasks, reports readiness, and on shutdown stops them, cancels and awaits the tasks, closes what holds connections
and disposes of the engine, in that order:

    def create_app(settings: PillarsSettings | None = None) -> FastAPI:
        settings = settings or PillarsSettings()
        return service_app(SERVICE, settings, lambda r: ServiceParts(
            schema=schema,
            context=partial(PillarsContext, delivery=delivery_settings(settings)),
            unit_of_work=PillarsUnitOfWork,
            consumers=[Consumer("people", ["demimas.registry.worker.>"], people.apply_event)],
            jobs=[PeriodicJob("prune-idempotency-keys", 3600, partial(prune_keys, r.engine, 30))],
        ))

A consumer's handler is a service-layer function `(event, uow)`: the unit of work joins the consumer's transaction
(the one that records the event in the inbox), so a follow-up event it publishes is written to the outbox together
with the handler's changes, or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_common.app import create_app
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.db.engine import create_engine
from demimas_common.db.uow import UnitOfWork
from demimas_common.events.consumer import EventConsumer
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.relay import OutboxRelay
from demimas_common.graphql.context import ServiceContext, context_getter_factory
from demimas_common.health import ReadinessCheck, database_ready, nats_ready
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings
from demimas_common.subscriptions.fanout import EventFanout
from demimas_common.telemetry import instrument_engine

__all__ = [
    "BackgroundWorker",
    "Consumer",
    "PeriodicJob",
    "Resources",
    "ServiceParts",
    "consumer_runner",
    "run_periodically",
    "service_app",
]

log = logging.getLogger("demimas.service")
U = TypeVar("U", bound=UnitOfWork)
S = TypeVar("S", bound=CommonSettings)
EventHandler = Callable[[CloudEvent, Any], Awaitable[None]]
"""`(event, uow)`: a service-layer function; the unit of work is the service's, joined to the consumer's
transaction."""
BatchEventHandler = Callable[[list[CloudEvent], Any], Awaitable[None]]


class BackgroundWorker(Protocol):
    """Anything with its own loop (the audit ingest, the checkpointer): `run()` as a task, `stop()` to end it."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Consumer:
    """A durable JetStream consumer: its name, the subjects it reads and the service-layer function per event
    (optionally one per fetched batch, for handlers that gain from bulk statements)."""

    durable: str
    subjects: Sequence[str]
    handler: EventHandler
    batch_handler: BatchEventHandler | None = None


@dataclass(frozen=True)
class PeriodicJob:
    """A function run every `every_seconds` by each replica (so it must be idempotent); a failure is logged and
    the job runs again at the next round."""

    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Resources(Generic[S]):
    """What the skeleton makes before the service declares its parts."""

    spec: ServiceSpec
    settings: S
    engine: AsyncEngine
    verifier: TokenVerifier


@dataclass(frozen=True)
class ServiceParts:
    schema: strawberry.federation.Schema
    context: Callable[..., ServiceContext[Any]]
    """Called per request as `context(principal, engine=..., schema=..., unit_of_work_class=..., auth_error=...,
    traceparent=...)`: a `ServiceContext` subclass, or a `functools.partial` of one with the service's settings."""
    unit_of_work: type[UnitOfWork] = UnitOfWork
    relay: bool = True
    """Whether the service publishes events (an outbox relay runs)."""
    consumers: Sequence[Consumer] = ()
    jobs: Sequence[PeriodicJob] = ()
    workers: Sequence[BackgroundWorker] = ()
    routers: Sequence[APIRouter] = ()
    readiness: Sequence[ReadinessCheck] = field(default=())
    """Checks beyond the database and NATS, which every service has."""
    live_subject: str | None = None
    """The NATS subject the service's subscriptions read (`demimas.registry.worker.>`): one live reader per
    process fans it out to every subscription (`demimas_common.subscriptions`); None when it serves none."""


def consumer_runner(
    consumer: Consumer,
    engine: AsyncEngine,
    schema: str,
    nats_url: str,
    *,
    unit_of_work: type[UnitOfWork] = UnitOfWork,
    max_attempts: int = 5,
    fetch_timeout: float = 1.0,
) -> EventConsumer:
    """The `EventConsumer` that runs a declared consumer: each event's (or batch's) handler gets a unit of work
    joined to the transaction that records the event in the inbox; its queued events are written at the end."""

    def joined(conn: AsyncConnection, event: CloudEvent | None) -> UnitOfWork:
        return unit_of_work.joining(conn, schema=schema, traceparent=event.traceparent if event else None)

    async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
        async with joined(conn, event) as uow:
            await consumer.handler(event, uow)
            await uow.flush_events()

    batch = consumer.batch_handler

    async def handle_batch(conn: AsyncConnection, events: list[CloudEvent]) -> None:
        assert batch is not None
        async with joined(conn, None) as uow:
            await batch(events, uow)
            await uow.flush_events()

    return EventConsumer(
        engine,
        schema,
        nats_url,
        durable=consumer.durable,
        subjects=consumer.subjects,
        handler=handle,
        batch_handler=handle_batch if batch is not None else None,
        max_attempts=max_attempts,
        fetch_timeout=fetch_timeout,
    )


async def run_periodically(job: PeriodicJob, service: str) -> None:
    """Run the job now and then every `every_seconds`, until cancelled; a failing round is logged."""
    while True:
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away: try again at the next round
            log.warning("%s: job %s failed: %s: %s", service, job.name, type(exc).__name__, str(exc)[:200])
        await asyncio.sleep(job.every_seconds)


def service_app(spec: ServiceSpec, settings: S, declare: Callable[[Resources[S]], ServiceParts]) -> FastAPI:
    """The service's ASGI app from its parts; `declare` receives the engine and verifier the parts may need."""
    if not settings.database_url or not settings.nats_url:
        raise RuntimeError("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (`make run` does it for you)")
    nats_url = settings.nats_url
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, application_name=spec.name)
    instrument_engine(engine)
    verifier = TokenVerifier(settings)
    parts = declare(Resources(spec=spec, settings=settings, engine=engine, verifier=verifier))

    workers: list[BackgroundWorker] = []
    if parts.relay:
        workers.append(OutboxRelay(engine, spec.schema, nats_url, retention_days=settings.outbox_retention_days))
    for c in parts.consumers:
        runner = consumer_runner(c, engine, spec.schema, nats_url, unit_of_work=parts.unit_of_work,
                                 max_attempts=settings.consumer_max_attempts)  # fmt: skip
        workers.append(runner)
    workers += parts.workers
    live: EventFanout | None = None
    if parts.live_subject is not None:
        live = EventFanout(nats_url, subject=parts.live_subject, name=spec.name,
                           queue_size=settings.subscription_queue_size)  # fmt: skip
        workers.append(live)

    @asynccontextmanager
    async def background() -> AsyncIterator[None]:
        tasks = [asyncio.create_task(w.run(), name=f"{spec.name}-{type(w).__name__}") for w in workers]
        tasks += [
            asyncio.create_task(run_periodically(job, spec.name), name=f"{spec.name}-{job.name}") for job in parts.jobs
        ]
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for worker in workers:
                close = getattr(worker, "close", None)
                if close is not None:
                    await close()
            await engine.dispose()

    def build_context(principal: Any, **kwargs: Any) -> ServiceContext[Any]:
        context = parts.context(
            principal, engine=engine, schema=spec.schema, unit_of_work_class=parts.unit_of_work, **kwargs
        )
        context.live = live
        return context

    app = create_app(
        spec=spec,
        settings=settings,
        schema=parts.schema,
        context_getter=context_getter_factory(verifier, build_context),
        lifespan_hooks=[background],
        readiness=[database_ready(engine), nats_ready(nats_url), *parts.readiness],
    )
    for router in parts.routers:
        app.include_router(router)
    app.state.live_events = live  # the fan-out (or None), for probes and tests
    return app
