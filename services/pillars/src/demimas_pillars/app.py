"""Composition root of the pillars service: its parts on the common service skeleton (schema and context, the
outbox relay, the `people`, `designations` and `case-counts` consumers, the pruning of old idempotency keys)."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from demimas_common.service import ServiceSpec
from demimas_common.skeleton import PeriodicJob, Resources, ServiceParts, service_app
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.schema import schema
from demimas_pillars.service_layer.consumers import CASE_COUNTS, DESIGNATIONS, PEOPLE
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.maintenance import announce_overdue, prune_keys
from demimas_pillars.settings import PillarsSettings

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.of("pillars", 4003)


def create_app(settings: PillarsSettings | None = None) -> FastAPI:
    settings = settings or PillarsSettings()
    delivery = DeliverySettings(pillar_agencies=settings.pillar_table(), window_days=settings.progress_window_days)

    def parts(r: Resources[PillarsSettings]) -> ServiceParts:
        prune = partial(prune_keys, r.engine, r.settings.idempotency_key_retention_days)
        return ServiceParts(
            schema=schema,
            context=partial(PillarsContext, delivery=delivery),
            unit_of_work=PillarsUnitOfWork,
            consumers=[PEOPLE, DESIGNATIONS, CASE_COUNTS],
            jobs=[
                PeriodicJob("prune-idempotency-keys", 3600.0, prune),
                PeriodicJob(
                    "announce-overdue-milestones",
                    r.settings.overdue_check_seconds,
                    partial(announce_overdue, r.engine, delivery),
                ),
            ],
            live_subject="demimas.pillars.>",  # activityRecorded, pilotProjectChanged
        )

    return service_app(SERVICE, settings, parts)
