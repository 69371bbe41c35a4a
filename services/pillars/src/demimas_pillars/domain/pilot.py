"""Joint pilot projects (Kemenko Polkam, 19 Feb 2026): one or more villages (the first, `village_code`, is the lead
village; `villages` the others, up to `MAX_VILLAGES` in all), a coordinator, partner agencies each bringing its
thematic programme and a commitment, milestones with a responsible agency and a due date (each may concern one of
the pilot's villages), linked activities held in the pilot's villages."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from demimas_common.errors import BadUserInput, Conflict
from demimas_pillars.domain.vocabulary import PilotStatus, ThematicProgramme

__all__ = [
    "MAX_VILLAGES",
    "NEXT",
    "Milestone",
    "Partner",
    "Pilot",
    "add_village",
    "check_pilot",
    "complete_milestone",
    "is_overdue",
    "move",
    "remove_village",
]

MAX_VILLAGES = 50
"""Villages of one pilot, the lead among them."""

NEXT: dict[PilotStatus, frozenset[PilotStatus]] = {
    PilotStatus.PLANNED: frozenset({PilotStatus.ACTIVE, PilotStatus.CANCELLED}),
    PilotStatus.ACTIVE: frozenset({PilotStatus.COMPLETED, PilotStatus.CANCELLED}),
    PilotStatus.COMPLETED: frozenset(),
    PilotStatus.CANCELLED: frozenset(),
}


@dataclass(frozen=True)
class Partner:
    agency: str
    programme: ThematicProgramme | None
    commitment: str


@dataclass(frozen=True)
class Milestone:
    id: uuid.UUID
    title: str
    due_date: dt.date
    responsible_agency: str
    completed_on: dt.date | None = None
    completed_by: str | None = None
    village_code: str | None = None
    """The one of the pilot's villages this milestone concerns, if any."""


@dataclass(frozen=True)
class Pilot:
    id: uuid.UUID
    village_code: str
    title: str
    coordinator: str
    status: PilotStatus
    start_date: dt.date
    partners: tuple[Partner, ...]
    milestones: tuple[Milestone, ...]
    created_at: dt.datetime
    status_reason: str | None = None
    villages: tuple[str, ...] = ()
    """The pilot's villages besides the lead (`village_code`), in code order."""

    @property
    def village_codes(self) -> tuple[str, ...]:
        """Every village of the pilot, the lead first."""
        return (self.village_code, *self.villages)


def check_villages(pilot: Pilot) -> None:
    """The villages besides the lead: none twice, the lead not again, at most `MAX_VILLAGES` in all."""
    seen = {pilot.village_code}
    for code in pilot.villages:
        if code in seen:
            what = "the lead village (villageCode)" if code == pilot.village_code else "twice"
            raise BadUserInput(f"village {code} is named {what}: name each village once", field="villageCodes",
                               reason="duplicate_village")  # fmt: skip
        seen.add(code)
    if len(seen) > MAX_VILLAGES:
        raise BadUserInput(
            f"a pilot spans at most {MAX_VILLAGES} villages, the lead included ({len(seen)} named)",
            field="villageCodes",
            reason="too_many_villages",
        )


def check_pilot(pilot: Pilot) -> None:
    if not 3 <= len(pilot.title.strip()) <= 200:
        raise BadUserInput("title must have 3 to 200 characters", field="title")
    if not pilot.partners:
        raise BadUserInput("a joint pilot needs at least one partner", field="partners")
    agencies = [p.agency for p in pilot.partners]
    if len(set(agencies)) != len(agencies):
        raise BadUserInput("a partner agency appears twice", field="partners.agency")
    for p in pilot.partners:
        if not 3 <= len(p.commitment.strip()) <= 1000:
            raise BadUserInput("a partner's commitment must have 3 to 1000 characters", field="partners.commitment")
    check_villages(pilot)
    for m in pilot.milestones:
        check_milestone(m, pilot)


def check_milestone(m: Milestone, pilot: Pilot) -> None:
    if not 3 <= len(m.title.strip()) <= 200:
        raise BadUserInput("a milestone title must have 3 to 200 characters", field="milestones.title")
    if m.due_date < pilot.start_date:
        raise BadUserInput(
            f"milestone {m.title!r} is due before the pilot starts ({pilot.start_date})", field="milestones.dueDate"
        )
    involved = {pilot.coordinator, *(p.agency for p in pilot.partners)}
    if m.responsible_agency not in involved:
        raise BadUserInput(
            f"{m.responsible_agency} is neither the coordinator nor a partner of this pilot",
            field="milestones.responsibleAgency",
        )
    if m.village_code is not None and m.village_code not in pilot.village_codes:
        raise BadUserInput(
            f"milestone {m.title!r} names village {m.village_code}, which is not one of this pilot's villages",
            field="milestones.villageCode",
            reason="not_a_pilot_village",
        )


def _open(pilot: Pilot) -> None:
    if pilot.status not in (PilotStatus.PLANNED, PilotStatus.ACTIVE):
        raise Conflict(f"the pilot is {pilot.status}: its villages can no longer change", reason="pilot_closed")


def add_village(pilot: Pilot, code: str) -> Pilot:
    """The pilot with one more village (not the lead)."""
    _open(pilot)
    if code in pilot.village_codes:
        raise Conflict(f"village {code} is already one of this pilot's villages", field="villageCode",
                       reason="already_a_pilot_village")  # fmt: skip
    grown = replace(pilot, villages=tuple(sorted((*pilot.villages, code))))
    check_villages(grown)
    return grown


def remove_village(pilot: Pilot, code: str) -> Pilot:
    """The pilot without one of its villages: never the lead, nor one a milestone concerns."""
    _open(pilot)
    if code == pilot.village_code:
        raise Conflict(
            f"village {code} is the pilot's lead village and cannot be removed", field="villageCode",
            reason="lead_village",
        )  # fmt: skip
    if code not in pilot.villages:
        raise BadUserInput(f"village {code} is not one of this pilot's villages", field="villageCode",
                           reason="not_a_pilot_village")  # fmt: skip
    named = [m.title for m in pilot.milestones if m.village_code == code]
    if named:
        raise Conflict(
            f"milestone {named[0]!r} concerns village {code}: it cannot be removed while a milestone names it",
            field="villageCode",
            reason="village_has_milestones",
        )
    return replace(pilot, villages=tuple(c for c in pilot.villages if c != code))


def move(pilot: Pilot, to: PilotStatus, reason: str | None) -> Pilot:
    if to not in NEXT[pilot.status]:
        raise Conflict(f"a {pilot.status} pilot cannot become {to}", reason="illegal_transition")
    if to is PilotStatus.CANCELLED and not (reason and reason.strip()):
        raise BadUserInput("cancelling a pilot needs a reason", field="reason")
    return replace(pilot, status=to, status_reason=reason)


def complete_milestone(pilot: Pilot, milestone_id: uuid.UUID, on: dt.date, by: str, *, today: dt.date) -> Milestone:
    found = next((m for m in pilot.milestones if m.id == milestone_id), None)
    if found is None:
        raise BadUserInput("no such milestone in this pilot", field="milestoneId")
    if pilot.status not in (PilotStatus.PLANNED, PilotStatus.ACTIVE):
        raise Conflict(f"the pilot is {pilot.status}", reason="pilot_closed")
    if found.completed_on is not None:
        raise Conflict(f"milestone already completed on {found.completed_on}", reason="already_completed")
    if on > today:
        raise BadUserInput(f"completedOn {on} is in the future", field="completedOn")
    if on < pilot.start_date:
        raise BadUserInput(f"completedOn {on} is before the pilot started", field="completedOn")
    return replace(found, completed_on=on, completed_by=by)


def is_overdue(m: Milestone, status: PilotStatus, today: dt.date) -> bool:
    return m.completed_on is None and m.due_date < today and status in (PilotStatus.PLANNED, PilotStatus.ACTIVE)
