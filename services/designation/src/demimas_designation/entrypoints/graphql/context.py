"""The designation subgraph's per-request context: the common service context (caller, engine, the service's unit
of work) with the workflow settings."""

from __future__ import annotations

from typing import Any

from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.service_layer.proposals import WorkflowSettings

__all__ = ["DesignationContext"]


class DesignationContext(ServiceContext[DesignationUnitOfWork]):
    def __init__(self, principal: Principal | None, *, workflow: WorkflowSettings, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.workflow = workflow
