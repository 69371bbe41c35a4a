"""The feeds subgraph's schema (scaffold: the endpoint and change-feed fields come next)."""

from __future__ import annotations

import strawberry

from demimas_common.graphql.schema import build_schema

__all__ = ["Query", "schema"]


@strawberry.type
class Query:
    @strawberry.federation.field(requires_scopes=[["feeds:manage"]], description="Scaffold placeholder.")
    def feeds_ready(self) -> bool:
        return True


schema = build_schema(query=Query)
