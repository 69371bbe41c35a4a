"""`Activity`: one delivery of a service pillar in a village by an agency. Who took part is personal: the registered
participants' ids need `registry:read` (workers) and `family:read` (family members); counts are open to every
`pillars:read` caller."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry

from demimas_common.auth.principal import region_covers
from demimas_common.errors import NotFound
from demimas_common.graphql.access import ANYWHERE
from demimas_common.graphql.types import PageInfo
from demimas_pillars.adapters.activities import ActivityRepository
from demimas_pillars.domain import activity as domain_activity
from demimas_pillars.domain.vocabulary import SERVES
from demimas_pillars.entrypoints.graphql.common import READ, Ctx, OutputValue, parse_id
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EmasPillarEnum,
    ParticipantGroupEnum,
    ServicePillarEnum,
    SexEnum,
    ThematicProgrammeEnum,
)
from demimas_pillars.entrypoints.graphql.people import Worker, person_villages

if TYPE_CHECKING:
    from demimas_pillars.entrypoints.graphql.villages import Village

__all__ = ["Activity", "ActivityConnection", "ActivityEdge"]

LazyVillage = Annotated["Village", strawberry.lazy("demimas_pillars.entrypoints.graphql.villages")]


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


@strawberry.federation.type(
    keys=["id"], requires_scopes=READ, description="One delivery of a service pillar in a village by an agency."
)
class Activity:
    id: strawberry.ID
    village_code: str
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    emas_pillar: EmasPillarEnum  # type: ignore[valid-type]
    title: str
    description: str | None
    occurred_on: dt.date
    agency: AgencyEnum  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None  # type: ignore[valid-type]
    people_reached: int
    participants: ActivityParticipants
    outputs: list[OutputValue]
    recorded_at: dt.datetime

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    def village(self) -> LazyVillage:
        from demimas_pillars.entrypoints.graphql.villages import Village

        return Village(code=self.village_code)

    @classmethod
    def from_domain(cls, a: domain_activity.Activity) -> Activity:
        participants = ActivityParticipants(
            registered=len(a.worker_ids) + len(a.family_member_ids),
            anonymous=[AnonymousCount(sex=c.sex, group=c.group, count=c.count) for c in a.anonymous],
            worker_ids=a.worker_ids,
            family_member_ids_=a.family_member_ids,
        )
        return cls(
            id=strawberry.ID(str(a.id)),
            village_code=a.village_code,
            pillar=a.pillar,
            emas_pillar=SERVES[a.pillar],
            title=a.title,
            description=a.description,
            occurred_on=a.occurred_on,
            agency=a.agency,
            programme=a.programme,
            people_reached=a.people_reached,
            participants=participants,
            outputs=[OutputValue(kind=k, value=v) for k, v in sorted(a.outputs.items())],
            recorded_at=a.recorded_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Activity | None:
        info.context.require_principal()
        async with info.context.engine.connect() as conn:
            try:
                [found] = await ActivityRepository(conn).get_many([parse_id(id)])
            except NotFound:
                return None  # as for one outside the caller's region: null, nothing tells the two apart
        return cls.from_domain(found)


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo
