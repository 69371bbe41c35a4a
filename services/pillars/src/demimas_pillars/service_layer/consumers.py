"""The pillars service's durable consumers (ARCHITECTURE.md): `people` on the registry's worker and family events,
`designations` on the designation service's village events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.events.consumer import EventConsumer
from demimas_pillars.adapters.people import apply_people_event
from demimas_pillars.adapters.portfolios import apply_designation_event
from demimas_pillars.adapters.tables import SCHEMA

__all__ = ["designations_consumer", "people_consumer"]


def people_consumer(
    engine: AsyncEngine, nats_url: str, *, max_attempts: int = 5, fetch_timeout: float = 1.0
) -> EventConsumer:
    return EventConsumer(
        engine,
        SCHEMA,
        nats_url,
        durable="people",
        subjects=["demimas.registry.worker.>", "demimas.registry.family.>"],
        handler=apply_people_event,
        max_attempts=max_attempts,
        fetch_timeout=fetch_timeout,
    )


def designations_consumer(
    engine: AsyncEngine, nats_url: str, *, max_attempts: int = 5, fetch_timeout: float = 1.0
) -> EventConsumer:
    return EventConsumer(
        engine,
        SCHEMA,
        nats_url,
        durable="designations",
        subjects=["demimas.designation.village.>"],
        handler=apply_designation_event,
        max_attempts=max_attempts,
        fetch_timeout=fetch_timeout,
    )
