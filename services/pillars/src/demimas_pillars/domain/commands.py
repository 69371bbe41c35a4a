"""What callers ask the pillars service to do, as plain values (from GraphQL input, the demo loader or a test).

An activity or a pilot arrives whole, with the id, agency, recorder and time the entry point gave it (a retry with an
idempotency key is a new attempt with a new id: the key, not the id, tells it is the same request)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.pilot import Milestone, Pilot
from demimas_pillars.domain.vocabulary import (
    EnrolmentProgramme,
    EnrolmentStatus,
    PilotStatus,
    ReintegrationStatus,
    ThematicProgramme,
)

__all__ = [
    "AddMilestone",
    "CompleteMilestone",
    "CreatePilot",
    "EndThematicStatus",
    "Enrol",
    "LinkActivity",
    "MoveEnrolment",
    "MoveReturnee",
    "RecordActivity",
    "SetPilotStatus",
    "SetThematicStatus",
]


@dataclass(frozen=True, slots=True)
class RecordActivity:
    activity: Activity
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CreatePilot:
    pilot: Pilot
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class AddMilestone:
    pilot_id: uuid.UUID
    milestone: Milestone
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CompleteMilestone:
    pilot_id: uuid.UUID
    milestone_id: uuid.UUID
    completed_on: dt.date


@dataclass(frozen=True, slots=True)
class LinkActivity:
    pilot_id: uuid.UUID
    activity_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SetPilotStatus:
    pilot_id: uuid.UUID
    status: PilotStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Enrol:
    person_id: uuid.UUID
    programme: EnrolmentProgramme
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MoveEnrolment:
    enrolment_id: uuid.UUID
    to: EnrolmentStatus
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MoveReturnee:
    worker_id: uuid.UUID
    to: ReintegrationStatus
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SetThematicStatus:
    village_code: str
    programme: ThematicProgramme
    since: dt.date
    reference: str


@dataclass(frozen=True, slots=True)
class EndThematicStatus:
    status_id: uuid.UUID
    ended_on: dt.date
    reason: str
