"""The cases subgraph's schema: queries, mutations, and the entities it owns (`Case`) or extends (`Village`,
`Worker`, `FamilyMember`)."""

from __future__ import annotations

from demimas_cases.entrypoints.graphql.graph import Case, FamilyMember, Village, Worker
from demimas_cases.entrypoints.graphql.mutations import Mutation
from demimas_cases.entrypoints.graphql.queries import Query
from demimas_cases.entrypoints.graphql.subscriptions import Subscription
from demimas_common.graphql.schema import build_schema

__all__ = ["Mutation", "Query", "schema"]

schema = build_schema(
    query=Query, mutation=Mutation, subscription=Subscription, types=[Case, Village, Worker, FamilyMember]
)
