"""The designation subgraph's per-request context: the caller, the engine and the workflow settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import RequestContext, context_getter_factory
from demimas_designation.service_layer.proposals import WorkflowSettings

__all__ = ["DesignationContext", "context_getter"]


class DesignationContext(RequestContext):
    def __init__(self, principal: Principal | None, *, engine: AsyncEngine, workflow: WorkflowSettings,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(principal, **kwargs)
        self.engine = engine
        self.workflow = workflow


def context_getter(
    engine: AsyncEngine, verifier: TokenVerifier, workflow: WorkflowSettings
) -> Callable[[Request], Awaitable[DesignationContext]]:
    def build(principal: Principal | None, **kwargs: Any) -> DesignationContext:
        return DesignationContext(principal, engine=engine, workflow=workflow, **kwargs)

    return context_getter_factory(verifier, build)
