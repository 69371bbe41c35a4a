"""The pillars subgraph's schema: the queries (queries.py), the activity, enrolment and pilot-project mutations
(mutations.py), and the entities it extends or owns (`Village`, `Worker`, `Activity`, `PilotProject`)."""

from __future__ import annotations

from demimas_common.graphql.schema import build_schema
from demimas_pillars.entrypoints.graphql.graph import Activity, PilotProject, Village
from demimas_pillars.entrypoints.graphql.mutations import Mutation
from demimas_pillars.entrypoints.graphql.people import Worker
from demimas_pillars.entrypoints.graphql.queries import Query
from demimas_pillars.entrypoints.graphql.subscriptions import Subscription

__all__ = ["Mutation", "Query", "schema"]

schema = build_schema(
    query=Query, mutation=Mutation, subscription=Subscription, types=[Village, Worker, Activity, PilotProject]
)
