"""`PilotProject`: a joint pilot project in one village, with its partners, milestones and linked activities."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from demimas_common.errors import NotFound
from demimas_pillars.adapters.activities import ActivityRepository
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.domain import pilot as domain_pilot
from demimas_pillars.domain.pilot import is_overdue
from demimas_pillars.entrypoints.graphql.activities import Activity
from demimas_pillars.entrypoints.graphql.common import PILOT_READ, Ctx, parse_id
from demimas_pillars.entrypoints.graphql.enums import AgencyEnum, PilotStatusEnum, ThematicProgrammeEnum

if TYPE_CHECKING:
    from demimas_pillars.entrypoints.graphql.villages import Village

__all__ = ["Milestone", "Partner", "PilotProject"]

LazyVillage = Annotated["Village", strawberry.lazy("demimas_pillars.entrypoints.graphql.villages")]


@strawberry.type(description="A partner agency of a joint pilot, with its thematic programme and commitment.")
class Partner:
    agency: AgencyEnum  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None  # type: ignore[valid-type]
    commitment: str


@strawberry.type(description="A milestone of a joint pilot project.")
class Milestone:
    id: strawberry.ID
    title: str
    due_date: dt.date
    responsible_agency: AgencyEnum  # type: ignore[valid-type]
    completed_on: dt.date | None
    completed_by: AgencyEnum | None  # type: ignore[valid-type]
    overdue: bool
    village_code: strawberry.Private[str]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @classmethod
    def from_domain(cls, m: domain_pilot.Milestone, p: domain_pilot.Pilot, today: dt.date) -> Milestone:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            due_date=m.due_date,
            responsible_agency=m.responsible_agency,
            completed_on=m.completed_on,
            completed_by=m.completed_by,
            overdue=is_overdue(m, p.status, today),
            village_code=p.village_code,
        )


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=PILOT_READ,
    description="A joint pilot project: Demimas combined with partners' "
    "thematic-village programmes in one village (Kemenko Polkam, 19 Feb 2026).",
)
class PilotProject:
    id: strawberry.ID
    title: str
    village_code: str
    coordinator: AgencyEnum  # type: ignore[valid-type]
    status: PilotStatusEnum  # type: ignore[valid-type]
    status_reason: str | None
    start_date: dt.date
    partners: list[Partner]
    milestones: list[Milestone]
    created_at: dt.datetime

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    def village(self) -> LazyVillage:
        from demimas_pillars.entrypoints.graphql.villages import Village

        return Village(code=self.village_code)

    @strawberry.field(description="Activities linked to this pilot, newest first.")
    async def activities(self, info: Ctx) -> list[Activity]:
        ctx = info.context
        async with ctx.engine.connect() as conn:
            linked = await PilotRepository(conn).activity_ids_of([parse_id(self.id)])
            found = await ActivityRepository(conn).get_many(linked.get(parse_id(self.id), []))
        found.sort(key=lambda a: (a.occurred_on, a.id), reverse=True)
        return [Activity.from_domain(a) for a in found]

    @classmethod
    def from_domain(cls, p: domain_pilot.Pilot, today: dt.date) -> PilotProject:
        return cls(
            id=strawberry.ID(str(p.id)),
            title=p.title,
            village_code=p.village_code,
            coordinator=p.coordinator,
            status=p.status,
            status_reason=p.status_reason,
            start_date=p.start_date,
            partners=[Partner(agency=x.agency, programme=x.programme, commitment=x.commitment) for x in p.partners],
            milestones=[Milestone.from_domain(m, p, today) for m in p.milestones],
            created_at=p.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> PilotProject | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.engine.connect() as conn:
            try:
                [found] = await PilotRepository(conn).get_many([parse_id(id)])
            except NotFound:
                return None  # as for one outside the caller's region: null, nothing tells the two apart
        return cls.from_domain(found, ctx.delivery.today())
