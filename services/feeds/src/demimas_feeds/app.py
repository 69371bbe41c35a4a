"""Composition root of the feeds service: its parts on the common service skeleton (schema and context, the outbox
relay for its own `demimas.feeds.endpoint.*` events, and, unless `DEMIMAS_WEBHOOK_WORKERS=false`, the delivery
engine: the fan-out consumer and the dispatcher)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI

from demimas_common.service import ServiceSpec
from demimas_common.skeleton import BackgroundWorker, Consumer, PeriodicJob, Resources, ServiceParts, service_app
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.entrypoints.graphql.context import FeedsContext
from demimas_feeds.entrypoints.graphql.schema import schema
from demimas_feeds.settings import FeedsSettings

__all__ = ["SERVICE", "EngineParts", "create_app", "engine_parts"]

SERVICE = ServiceSpec.of("feeds", 4006, demo=False)


@dataclass(frozen=True)
class EngineParts:
    """What the delivery engine adds to the service: its consumers (fan-out), workers (dispatch) and jobs."""

    consumers: Sequence[Consumer] = ()
    workers: Sequence[BackgroundWorker] = ()
    jobs: Sequence[PeriodicJob] = field(default=())


def engine_parts(r: Resources[FeedsSettings]) -> EngineParts:
    """HOOK of the delivery engine (branch i19-engine owns this body): the `feeds-fanout` consumer on `demimas.>`
    and the dispatcher worker. Called only when `DEMIMAS_WEBHOOK_WORKERS` is true (the default)."""
    return EngineParts()


def create_app(settings: FeedsSettings | None = None) -> FastAPI:
    settings = settings or FeedsSettings()

    def parts(r: Resources[FeedsSettings]) -> ServiceParts:
        engine = engine_parts(r) if r.settings.webhook_workers else EngineParts()
        return ServiceParts(
            schema=schema,
            context=partial(FeedsContext, settings=r.settings),
            unit_of_work=FeedsUnitOfWork,
            consumers=list(engine.consumers),
            workers=list(engine.workers),
            jobs=list(engine.jobs),
        )

    return service_app(SERVICE, settings, parts)
