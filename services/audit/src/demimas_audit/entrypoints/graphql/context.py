"""The audit subgraph's per-request context: the caller and the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import RequestContext, context_getter_factory

__all__ = ["AuditContext", "context_getter"]


class AuditContext(RequestContext):
    def __init__(self, principal: Principal | None, *, engine: AsyncEngine, gateway_url: str, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.engine = engine
        self.gateway_url = gateway_url


def context_getter(
    engine: AsyncEngine, verifier: TokenVerifier, gateway_url: str
) -> Callable[[Request], Awaitable[AuditContext]]:
    def build(principal: Principal | None, **kwargs: Any) -> AuditContext:
        return AuditContext(principal, engine=engine, gateway_url=gateway_url, **kwargs)

    return context_getter_factory(verifier, build)
