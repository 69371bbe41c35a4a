"""The pillars subgraph's per-request context: the caller, the engine, the delivery settings, and the request's
DataLoaders (pillar progress and enrolments are asked for many villages or workers in one `_entities` call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import RequestContext, context_getter_factory
from demimas_pillars.service_layer.delivery import DeliverySettings

__all__ = ["PillarsContext", "context_getter"]


class PillarsContext(RequestContext):
    def __init__(
        self, principal: Principal | None, *, engine: AsyncEngine, delivery: DeliverySettings, **kwargs: Any
    ) -> None:
        super().__init__(principal, **kwargs)
        self.engine = engine
        self.delivery = delivery


def context_getter(
    engine: AsyncEngine, verifier: TokenVerifier, delivery: DeliverySettings
) -> Callable[[Request], Awaitable[PillarsContext]]:
    def build(principal: Principal | None, **kwargs: Any) -> PillarsContext:
        return PillarsContext(principal, engine=engine, delivery=delivery, **kwargs)

    return context_getter_factory(verifier, build)
