"""The feeds subgraph's schema: queries, mutations, and the entity it owns (`WebhookEndpoint`)."""

from __future__ import annotations

from demimas_common.graphql.schema import build_schema
from demimas_feeds.entrypoints.graphql.mutations import Mutation
from demimas_feeds.entrypoints.graphql.queries import Query
from demimas_feeds.entrypoints.graphql.types import WebhookEndpoint

__all__ = ["Mutation", "Query", "schema"]

schema = build_schema(query=Query, mutation=Mutation, types=[WebhookEndpoint])
