"""Demo data for `make run`: two webhook endpoints, made through the endpoint use case as the agencies would, both
pointing at the development sink of this service (entrypoints/dev_sink.py), so the demo shows deliveries end to end:

- KP2MI (no region): `demimas.designation.*` and `demimas.pillars.*`, at `/dev/webhook-sink/kp2mi`;
- BP3MI of South Sumatra (region 16, the demo's Musi Banyuasin villages): `demimas.registry.worker.*` and
  `demimas.cases.*`, at `/dev/webhook-sink/bp3mi`.

The devstack loads it before the services start. The fan-out consumer `feeds-fanout` is created with deliver policy
ALL the first time the service starts, so it reads the stream from its start: the other services' demo events, which
their outbox relays publish when they start, reach these endpoints as well as every later event. (On a devstack
where the feeds service already ran before this demo existed, the consumer is past those events: the endpoints get
what happens from then on, and `replayWebhookEndpoint` queues the older ones.)

The secrets the use case answers are not kept: the sink reads the endpoints' encrypted secrets from the database.
Idempotent: an agency's endpoint already at a sink's URL is left alone."""

from __future__ import annotations

import logging

from sqlalchemy import select

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_feeds.adapters.tables import SCHEMA, endpoints
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.app import SERVICE
from demimas_feeds.domain.commands import CreateEndpoint
from demimas_feeds.entrypoints.dev_sink import PATH
from demimas_feeds.service_layer.endpoints import EndpointRules, create_endpoint
from demimas_feeds.settings import FeedsSettings

__all__ = ["BP3MI", "DEMO_ENDPOINTS", "KP2MI", "load_demo", "sink_url"]

log = logging.getLogger("demimas.feeds.demo")


def _principal(agency: Agency, region: str | None = None) -> Principal:
    return Principal(f"demo-{agency.value.lower()}", agency, DEFAULT_GRANTS[agency], region=region)


KP2MI, BP3MI = _principal(Agency.KP2MI), _principal(Agency.BP3MI, "16")
DEMO_ENDPOINTS: tuple[tuple[Principal, str, tuple[str, ...], str], ...] = (
    (KP2MI, "kp2mi", ("demimas.designation.*", "demimas.pillars.*"), "demo: village designation and the pillars"),
    (BP3MI, "bp3mi", ("demimas.registry.worker.*", "demimas.cases.*"), "demo: workers and cases of South Sumatra"),
)


def sink_url(name: str, port: int = SERVICE.port) -> str:
    return f"http://127.0.0.1:{port}{PATH}/{name}"


async def load_demo(database_url: str, *, port: int = SERVICE.port, settings: FeedsSettings | None = None) -> None:
    """`port`: where the feeds service (and so its sink) listens; `make run` starts it on its default port."""
    rules = EndpointRules.from_settings(settings or FeedsSettings())
    engine = create_engine(database_url, pool_size=1)
    try:
        for principal, name, types, description in DEMO_ENDPOINTS:
            url = sink_url(name, port)
            async with engine.connect() as conn:
                existing = await conn.scalar(
                    select(endpoints.c.id).where(
                        endpoints.c.agency == principal.agency.value,
                        endpoints.c.url == url,
                        endpoints.c.deleted_at.is_(None),
                    )
                )
            if existing is not None:
                continue
            async with FeedsUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
                await create_endpoint(CreateEndpoint(url, types, description=description), uow, principal, rules)
        log.info("feeds demo: webhook endpoints of KP2MI and BP3MI (16) at the development sink")
    finally:
        await engine.dispose()
