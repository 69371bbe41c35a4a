"""Who took part in an activity (`Activity` is in graph.py). Who took part is personal: the registered participants'
ids need `registry:read` (workers) and `family:read` (family members); counts are open to every `pillars:read`
caller."""

from __future__ import annotations

import uuid

import strawberry

from demimas_common.auth.principal import region_covers
from demimas_common.graphql.access import ANYWHERE
from demimas_pillars.entrypoints.graphql.common import Ctx
from demimas_pillars.entrypoints.graphql.enums import (
    ParticipantGroupEnum,
    SexEnum,
)
from demimas_pillars.entrypoints.graphql.people import Worker, person_villages

__all__ = ["ActivityParticipants", "AnonymousCount"]


@strawberry.type(description="People reached who are not registered, by sex and group.")
class AnonymousCount:
    sex: SexEnum  # type: ignore[valid-type]
    group: ParticipantGroupEnum  # type: ignore[valid-type]
    count: int


@strawberry.type
class ActivityParticipants:
    registered: int = strawberry.field(description="Registered workers and family members who took part.")
    anonymous: list[AnonymousCount]
    worker_ids: strawberry.Private[tuple[uuid.UUID, ...]]
    family_member_ids_: strawberry.Private[tuple[uuid.UUID, ...]]

    @strawberry.federation.field(requires_scopes=[["registry:read"]], description="The registered workers.")
    def workers(self) -> list[Worker] | None:
        return [Worker(id=strawberry.ID(str(i))) for i in self.worker_ids]

    @strawberry.federation.field(requires_scopes=[["family:read"]], description="Ids of the family members.")
    async def family_member_ids(self, info: Ctx) -> list[strawberry.ID] | None:
        ids = self.family_member_ids_
        region = info.context.require_principal().region
        if region is not None and ids:
            # Ids are not objects the region filter sees: a family living elsewhere is left out here, as its
            # worker is left out of `workers` (people the projection does not know are left out too).
            villages = await person_villages(info.context).load_many(list(ids))
            ids = tuple(i for i, v in zip(ids, villages, strict=True) if v != ANYWHERE and region_covers(region, v))
        return [strawberry.ID(str(i)) for i in ids]
