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
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.entrypoints.graphql.context import FeedsContext
from demimas_feeds.entrypoints.graphql.schema import schema
from demimas_feeds.service_layer.endpoints import EndpointRules
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


def create_app(settings: FeedsSettings | None = None, *, rules: EndpointRules | None = None) -> FastAPI:
    """`rules`: the endpoint rules (secret key, URL policy, grace, clock), by default from the settings."""
    settings = settings or FeedsSettings()
    endpoint_rules = rules or EndpointRules.from_settings(settings)

    def parts(r: Resources[FeedsSettings]) -> ServiceParts:
        assert r.settings.nats_url is not None  # the skeleton refuses to start without one
        reader = StreamReader(r.settings.nats_url, name="feeds-changes")
        engine = engine_parts(r) if r.settings.webhook_workers else EngineParts()
        return ServiceParts(
            schema=schema,
            context=partial(FeedsContext, settings=r.settings, rules=endpoint_rules, reader=reader),
            unit_of_work=FeedsUnitOfWork,
            consumers=list(engine.consumers),
            workers=[reader, *engine.workers],  # the reader is a worker only so that shutdown closes it
            jobs=list(engine.jobs),
        )

    return service_app(SERVICE, settings, parts)
