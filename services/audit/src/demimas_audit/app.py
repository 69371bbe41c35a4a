"""Composition root of the audit service: its parts on the common service skeleton (schema, context and unit of
work; the ingest, a stream reader with its own position rather than a consumer, and the checkpointer as background
workers; it publishes nothing, so no outbox relay)."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from demimas_audit.adapters.keys import load_signing_key
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.entrypoints.checkpointer import Checkpointer
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.schema import schema
from demimas_audit.entrypoints.ingest import AuditIngest
from demimas_audit.settings import AuditSettings
from demimas_common.service import ServiceSpec
from demimas_common.skeleton import Resources, ServiceParts, service_app

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.of("audit", 4004, demo=False)


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    key = load_signing_key(settings.audit_signing_key, create=settings.creates_signing_key())

    def parts(r: Resources[AuditSettings]) -> ServiceParts:
        assert r.settings.nats_url is not None
        return ServiceParts(
            schema=schema,
            context=partial(AuditContext, gateway_url=r.settings.gateway_url, public_key=key.public_key()),
            unit_of_work=AuditUnitOfWork,
            relay=False,
            live_subject="demimas.>",  # auditEventAppended
            workers=[
                AuditIngest(r.engine, r.settings.nats_url),
                Checkpointer(r.engine, r.settings.nats_url, key, interval=r.settings.audit_checkpoint_seconds),
            ],
        )

    return service_app(SERVICE, settings, parts)
