"""Enrolments of workers and family members in empowerment programmes, and the reintegration queue's steps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from demimas_common.errors import Conflict
from demimas_pillars.domain.vocabulary import EnrolmentProgramme, EnrolmentStatus, PersonKind, ReintegrationStatus

__all__ = ["ENROLMENT_NEXT", "REINTEGRATION_NEXT", "Enrolment", "check_enrolment_move", "check_reintegration_move"]

ENROLMENT_NEXT: dict[EnrolmentStatus, frozenset[EnrolmentStatus]] = {
    EnrolmentStatus.ENROLLED: frozenset({EnrolmentStatus.ACTIVE, EnrolmentStatus.DROPPED}),
    EnrolmentStatus.ACTIVE: frozenset({EnrolmentStatus.COMPLETED, EnrolmentStatus.DROPPED}),
    EnrolmentStatus.COMPLETED: frozenset(),
    EnrolmentStatus.DROPPED: frozenset(),
}
REINTEGRATION_NEXT: dict[ReintegrationStatus, frozenset[ReintegrationStatus]] = {
    ReintegrationStatus.WAITING: frozenset({ReintegrationStatus.IN_PROGRESS, ReintegrationStatus.REINTEGRATED}),
    ReintegrationStatus.IN_PROGRESS: frozenset({ReintegrationStatus.REINTEGRATED}),
    ReintegrationStatus.REINTEGRATED: frozenset(),
}


@dataclass(frozen=True)
class Enrolment:
    id: uuid.UUID
    person_id: uuid.UUID
    person_kind: PersonKind
    worker_id: uuid.UUID
    village_code: str
    programme: EnrolmentProgramme
    status: EnrolmentStatus
    enrolled_on: dt.date
    agency: str
    updated_at: dt.datetime
    note: str | None = None


def check_enrolment_move(current: EnrolmentStatus, to: EnrolmentStatus) -> None:
    if to not in ENROLMENT_NEXT[current]:
        raise Conflict(f"an enrolment {current} cannot become {to}", reason="illegal_transition")


def check_reintegration_move(current: ReintegrationStatus, to: ReintegrationStatus) -> None:
    if to not in REINTEGRATION_NEXT[current]:
        raise Conflict(
            f"a returnee {current} in the reintegration queue cannot become {to}", reason="illegal_transition"
        )
