"""The audit subgraph's per-request context: the common service context (caller, engine) with the gateway's URL
(trace links point at it)."""

from __future__ import annotations

from typing import Any

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.graphql.context import ServiceContext

__all__ = ["AuditContext"]


class AuditContext(ServiceContext[UnitOfWork]):
    def __init__(self, principal: Principal | None, *, gateway_url: str, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.gateway_url = gateway_url
