"""Composition root of the registry service: its parts on the common service skeleton (schema and context, the
outbox relay, the bulk-upload endpoint and its import jobs)."""

from __future__ import annotations

from fastapi import FastAPI

from demimas_common.service import ServiceSpec
from demimas_common.skeleton import Resources, ServiceParts, service_app
from demimas_registry.adapters.unit_of_work import RegistryUnitOfWork
from demimas_registry.entrypoints.graphql.context import RegistryContext
from demimas_registry.entrypoints.graphql.schema import schema
from demimas_registry.entrypoints.upload import upload_router
from demimas_registry.importer.run import ImportRunner
from demimas_registry.settings import RegistrySettings

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.of("registry", 4001)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()

    def parts(r: Resources[RegistrySettings]) -> ServiceParts:
        imports = ImportRunner(
            r.engine, r.settings.read_limits, limit=r.settings.import_concurrency, queue=r.settings.import_queue
        )
        return ServiceParts(
            schema=schema,
            context=RegistryContext.factory(r.engine),
            unit_of_work=RegistryUnitOfWork,
            routers=[upload_router(r.verifier, r.settings, imports)],
            workers=[imports.worker()],
            live_subject="demimas.registry.worker.>",  # workerChanged, villageStatsChanged
        )

    return service_app(SERVICE, settings, parts)
