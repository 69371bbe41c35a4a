"""The pillars service's events (subjects in docs/contracts.md). Payloads carry ids and counts, never who took part.

`portfolio_opened` follows a designation event (the `designations` consumer): it names that event as its cause and
keeps its correlation id."""

from __future__ import annotations

import uuid

from demimas_common.events.envelope import Actor, CloudEvent, new_event
from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.enrolment import Enrolment
from demimas_pillars.domain.pilot import Milestone, Pilot
from demimas_pillars.domain.thematic import ThematicStatus

__all__ = [
    "activity_recorded",
    "enrolment_created",
    "milestone_completed",
    "pilot_created",
    "portfolio_opened",
    "thematic_status_changed",
]


def activity_recorded(a: Activity, actor: Actor) -> CloudEvent:
    data = {
        "activityId": str(a.id),
        "villageCode": a.village_code,
        "pillar": a.pillar.value,
        "agency": a.agency,
        "occurredOn": a.occurred_on.isoformat(),
        "programme": a.programme.value if a.programme else None,
        "peopleReached": a.people_reached,
        "registeredParticipants": len(a.worker_ids) + len(a.family_member_ids),
        "outputs": {k.value: v for k, v in a.outputs.items()},
    }
    return new_event("demimas.pillars.activity.recorded", str(a.id), data, actor=actor)


def enrolment_created(e: Enrolment, actor: Actor) -> CloudEvent:
    data = {
        "enrolmentId": str(e.id),
        "villageCode": e.village_code,
        "personId": str(e.person_id),
        "personKind": e.person_kind.value,
        "programme": e.programme.value,
        "agency": e.agency,
    }
    return new_event("demimas.pillars.enrolment.created", str(e.id), data, actor=actor)


def pilot_created(p: Pilot, actor: Actor) -> CloudEvent:
    data = {
        "pilotId": str(p.id),
        "villageCode": p.village_code,
        "coordinator": p.coordinator,
        "partners": [x.agency for x in p.partners],
        "milestones": len(p.milestones),
    }
    return new_event("demimas.pillars.pilot.created", str(p.id), data, actor=actor)


def milestone_completed(p: Pilot, m: Milestone, actor: Actor) -> CloudEvent:
    assert m.completed_on is not None
    data = {
        "pilotId": str(p.id),
        "milestoneId": str(m.id),
        "villageCode": p.village_code,
        "responsibleAgency": m.responsible_agency,
        "completedOn": m.completed_on.isoformat(),
        "dueDate": m.due_date.isoformat(),
    }
    return new_event("demimas.pillars.pilot.milestone_completed", str(p.id), data, actor=actor)


def portfolio_opened(
    village_code: str, designation_id: uuid.UUID, cause: CloudEvent, traceparent: str | None
) -> CloudEvent:
    return new_event(
        "demimas.pillars.portfolio.opened",
        village_code,
        {"villageCode": village_code, "designationId": str(designation_id)},
        traceparent=traceparent,
        causation_id=cause.id,
        correlation_id=cause.correlationid or cause.id,
    )


def thematic_status_changed(s: ThematicStatus, actor: Actor) -> CloudEvent:
    """`thematic_status.set` (a status began, or its day or reference changed) or `thematic_status.ended`."""
    data: dict[str, object] = {
        "statusId": str(s.id),
        "villageCode": s.village_code,
        "programme": s.programme.value,
        "agency": s.agency,
        "since": s.since.isoformat(),
        "reference": s.reference,
        "status": s.status.value,
        "version": s.version,
    }
    if s.ended_on is not None:
        data["endedOn"] = s.ended_on.isoformat()
    kind = "ended" if s.ended_on is not None else "set"
    return new_event(f"demimas.pillars.thematic_status.{kind}", str(s.id), data, actor=actor)
