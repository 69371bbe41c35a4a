"""Composition root of the feeds service: its parts on the common service skeleton (schema and context, the outbox
relay for its own `demimas.feeds.endpoint.*` events, and, unless `DEMIMAS_WEBHOOK_WORKERS=false`, the delivery
engine: the fan-out consumer and the dispatcher)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from fastapi import APIRouter, FastAPI

from demimas_common.service import ServiceSpec
from demimas_common.settings import Environment
from demimas_common.skeleton import BackgroundWorker, Consumer, PeriodicJob, Resources, ServiceParts, service_app
from demimas_feeds.adapters.sender import policy_resolver
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.domain.backoff import Backoff
from demimas_feeds.domain.secrets import SecretBox
from demimas_feeds.domain.url_policy import UrlPolicy, address_problem
from demimas_feeds.domain.url_policy import system_resolver as url_system_resolver
from demimas_feeds.entrypoints.dev_sink import PATH as SINK_PATH
from demimas_feeds.entrypoints.dev_sink import DevSink, sink_router
from demimas_feeds.entrypoints.graphql.context import FeedsContext
from demimas_feeds.entrypoints.graphql.schema import schema
from demimas_feeds.service_layer.dispatch import Dispatcher, DispatchSettings, publish_disabled
from demimas_feeds.service_layer.endpoints import EndpointRules
from demimas_feeds.service_layer.fanout import FanoutConsumer
from demimas_feeds.service_layer.retention import prune_deliveries
from demimas_feeds.settings import FeedsSettings

__all__ = ["SERVICE", "EngineParts", "create_app", "engine_parts"]

DEMO_SINKS = ("kp2mi", "bp3mi")
"""The development sinks the demo's endpoints point at (demo.py), printed by `make run`."""
SERVICE = ServiceSpec.of("feeds", 4006, dev_links=tuple((f"webhook sink {n}", f"{SINK_PATH}/{n}") for n in DEMO_SINKS))


@dataclass(frozen=True)
class EngineParts:
    """What the delivery engine adds to the service: its consumers (fan-out), workers (dispatch) and jobs."""

    consumers: Sequence[Consumer] = ()
    workers: Sequence[BackgroundWorker] = ()
    jobs: Sequence[PeriodicJob] = field(default=())


def engine_parts(r: Resources[FeedsSettings]) -> EngineParts:
    """The delivery engine: the `feeds-fanout` consumer on `demimas.>` (a worker: it hands the fan-out the stream
    sequences and wakes the dispatcher after each commit) and the dispatcher. Called only when
    `DEMIMAS_WEBHOOK_WORKERS` is true (the default)."""
    s = r.settings
    assert s.nats_url is not None  # the skeleton refuses to start without one
    policy = UrlPolicy.for_environment(s.environment)
    dispatcher = Dispatcher(
        r.engine,
        decrypt=SecretBox(s.secret_key_bytes()).decrypt,
        settings=DispatchSettings(
            backoff=Backoff(scale=s.feeds_backoff_scale, disable_after=dt.timedelta(hours=s.feeds_disable_after_hours)),
            concurrency=s.feeds_concurrency,
            timeout=s.feeds_timeout_seconds,
            connect_timeout=s.feeds_connect_timeout_seconds,
            response_cap=s.feeds_response_cap_bytes,
            poll_seconds=s.feeds_poll_seconds,
            https_only=policy.https_only,
        ),
        resolve=policy_resolver(partial(address_problem, policy=policy), url_system_resolver),
        on_disable=publish_disabled,
    )
    fanout = FanoutConsumer(r.engine, s.nats_url, wake=dispatcher.wake, max_attempts=s.consumer_max_attempts)
    dispatcher.own_origin = fanout.fanout.origin
    prune = partial(prune_deliveries, r.engine, s.feeds_retention_days)
    return EngineParts(workers=[fanout, dispatcher], jobs=[PeriodicJob("prune-deliveries", 3600.0, prune)])


def create_app(settings: FeedsSettings | None = None, *, rules: EndpointRules | None = None) -> FastAPI:
    """`rules`: the endpoint rules (secret key, URL policy, grace, clock), by default from the settings."""
    settings = settings or FeedsSettings()
    endpoint_rules = rules or EndpointRules.from_settings(settings)

    def parts(r: Resources[FeedsSettings]) -> ServiceParts:
        assert r.settings.nats_url is not None  # the skeleton refuses to start without one
        reader = StreamReader(r.settings.nats_url, name="feeds-changes")
        engine = engine_parts(r) if r.settings.webhook_workers else EngineParts()
        routers: list[APIRouter] = []
        if r.settings.environment is Environment.DEVELOPMENT:  # never in test or production: it takes no token
            routers.append(sink_router(DevSink(r.engine, SecretBox(r.settings.secret_key_bytes()))))
        return ServiceParts(
            schema=schema,
            context=partial(FeedsContext, settings=r.settings, rules=endpoint_rules, reader=reader),
            unit_of_work=FeedsUnitOfWork,
            consumers=list(engine.consumers),
            workers=[reader, *engine.workers],  # the reader is a worker only so that shutdown closes it
            jobs=list(engine.jobs),
            routers=routers,
        )

    return service_app(SERVICE, settings, parts)
