"""A pilot project's partners and milestones (`PilotProject` is in graph.py)."""

from __future__ import annotations

import datetime as dt

import strawberry

from demimas_pillars.domain import pilot as domain_pilot
from demimas_pillars.domain.pilot import is_overdue
from demimas_pillars.entrypoints.graphql.common import Ctx, shown_village
from demimas_pillars.entrypoints.graphql.enums import AgencyEnum, ThematicProgrammeEnum

__all__ = ["Milestone", "Partner"]


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
    village_code: str | None = strawberry.field(
        description="The one of the pilot's villages this milestone concerns, if it names one."
    )
    pilot_villages_: strawberry.Private[tuple[str, ...]]

    def region_code(self, info: Ctx) -> str:
        """A milestone that names a village is of that village; the others are the pilot's (docs/pillars.md)."""
        return self.village_code or shown_village(self.pilot_villages_, info.context.principal)

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
            village_code=m.village_code,
            pilot_villages_=p.village_codes,
        )
