"""Composition root of the designation service: its parts on the common service skeleton (schema and context, the
outbox relay, the village-stats and case-stats consumers)."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from demimas_common.service import ServiceSpec
from demimas_common.skeleton import Resources, ServiceParts, service_app
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.entrypoints.graphql.context import DesignationContext
from demimas_designation.entrypoints.graphql.schema import schema
from demimas_designation.service_layer.case_stats import CASE_STATS
from demimas_designation.service_layer.proposals import WorkflowSettings
from demimas_designation.service_layer.village_stats import VILLAGE_STATS
from demimas_designation.settings import DesignationSettings

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.of("designation", 4002)


def create_app(settings: DesignationSettings | None = None) -> FastAPI:
    settings = settings or DesignationSettings()
    workflow = WorkflowSettings(procedural_threshold=settings.procedural_threshold)

    def parts(r: Resources[DesignationSettings]) -> ServiceParts:
        return ServiceParts(
            schema=schema,
            context=partial(DesignationContext, workflow=workflow),
            unit_of_work=DesignationUnitOfWork,
            consumers=[VILLAGE_STATS, CASE_STATS],
            live_subject="demimas.designation.>",  # proposalChanged, designationChanged
        )

    return service_app(SERVICE, settings, parts)
