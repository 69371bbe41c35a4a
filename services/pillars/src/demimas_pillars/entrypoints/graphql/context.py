"""The pillars subgraph's per-request context: the common service context (caller, engine, the pillars unit of
work) with the delivery settings; the request's DataLoaders (pillar progress and enrolments are asked for many
villages or workers in one `_entities` call) live in its `loaders`."""

from __future__ import annotations

from typing import Any

from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.service_layer.delivery import DeliverySettings

__all__ = ["PillarsContext"]


class PillarsContext(ServiceContext[PillarsUnitOfWork]):
    def __init__(self, principal: Principal | None, *, delivery: DeliverySettings, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.delivery = delivery
