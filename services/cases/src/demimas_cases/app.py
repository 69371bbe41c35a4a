"""Composition root of the cases service: its parts on the common service skeleton (schema and context, the outbox
relay, the `people` consumer of the registry's events, the overdue sweep, the pruning of old idempotency keys)."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from demimas_cases.adapters.tables import idempotency_keys
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.entrypoints.graphql.context import CasesContext
from demimas_cases.entrypoints.graphql.schema import schema
from demimas_cases.service_layer.consumers import PEOPLE
from demimas_cases.service_layer.escalation import sweep
from demimas_cases.service_layer.rules import CaseRules
from demimas_cases.settings import CasesSettings
from demimas_common.db.idempotency import prune_idempotency_keys
from demimas_common.service import ServiceSpec
from demimas_common.skeleton import PeriodicJob, Resources, ServiceParts, service_app

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.of("cases", 4005)


def create_app(settings: CasesSettings | None = None, *, rules: CaseRules | None = None) -> FastAPI:
    """`rules`: the clocks and the time now, by default the settings' clocks and the wall clock (a test serves the
    service on a clock it controls: the settings keep every clock at an hour or more)."""
    settings = settings or CasesSettings()
    rules = rules or CaseRules(clocks=settings.clocks())

    def parts(r: Resources[CasesSettings]) -> ServiceParts:
        escalate = partial(sweep, r.engine, rules)
        prune = partial(prune_idempotency_keys, r.engine, idempotency_keys, r.settings.idempotency_key_retention_days)
        return ServiceParts(
            schema=schema,
            context=partial(CasesContext, rules=rules),
            unit_of_work=CasesUnitOfWork,
            consumers=[PEOPLE],
            live_subject="demimas.cases.case.>",  # caseChanged
            jobs=[
                PeriodicJob("escalate-overdue", r.settings.case_sweep_seconds, escalate),
                PeriodicJob("prune-idempotency-keys", 3600.0, prune),
            ],
        )

    return service_app(SERVICE, settings, parts)
