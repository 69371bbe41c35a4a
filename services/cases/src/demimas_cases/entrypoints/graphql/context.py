"""The cases subgraph's per-request context: the common service context (caller, engine, the cases unit of work)
with the case rules (clocks, time now), the content gate and the request's DataLoaders."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.entrypoints.graphql.content import ContentGate
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext

__all__ = ["CasesContext", "Ctx"]


class CasesContext(ServiceContext[CasesUnitOfWork]):
    def __init__(self, principal: Principal | None, *, rules: CaseRules, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.rules = rules
        self.content = ContentGate(self.unit_of_work, principal, operation=lambda: self.operation)

    def renew(self) -> None:
        """A gate for the current caller: per operation on a WebSocket (whose caller may come from
        `connection_init`, after this context was made) and per event of a subscription."""
        super().renew()
        self.content = ContentGate(self.unit_of_work, self.principal, operation=lambda: self.operation)


Ctx = Info[CasesContext, None]
