"""Enrolments of workers and family members in empowerment programmes, and the reintegration queue's steps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from demimas_common.errors import BadUserInput, Conflict
from demimas_pillars.domain.vocabulary import EnrolmentProgramme, EnrolmentStatus, PersonKind, ReintegrationStatus

__all__ = [
    "ENROLMENT_NEXT",
    "MAX_NOTE_LENGTH",
    "REINTEGRATION_NEXT",
    "Enrolment",
    "QueueEntry",
    "check_enrolment_move",
    "check_note",
    "check_reintegration_move",
    "moved_enrolment",
    "moved_returnee",
]

MAX_NOTE_LENGTH = 2000

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


@dataclass(frozen=True)
class QueueEntry:
    """A return in the village's reintegration queue (one per return: keyed by the worker and the version of the
    worker that the `returned` event carried)."""

    worker_id: uuid.UUID
    return_version: int
    village_code: str
    returned_at: dt.datetime
    status: ReintegrationStatus
    updated_at: dt.datetime
    note: str | None = None


def check_note(note: str | None) -> None:
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise BadUserInput(f"note must have at most {MAX_NOTE_LENGTH} characters", field="note")


def check_enrolment_move(current: EnrolmentStatus, to: EnrolmentStatus) -> None:
    if to not in ENROLMENT_NEXT[current]:
        raise Conflict(f"an enrolment {current} cannot become {to}", reason="illegal_transition")


def check_reintegration_move(current: ReintegrationStatus, to: ReintegrationStatus) -> None:
    if to not in REINTEGRATION_NEXT[current]:
        raise Conflict(
            f"a returnee {current} in the reintegration queue cannot become {to}", reason="illegal_transition"
        )


def moved_enrolment(e: Enrolment, to: EnrolmentStatus, note: str | None, at: dt.datetime) -> Enrolment:
    """The enrolment moved on to `to` (a new note replaces the old one; without one the old one stays)."""
    check_enrolment_move(e.status, to)
    return replace(e, status=to, updated_at=at, note=note if note is not None else e.note)


def moved_returnee(entry: QueueEntry, to: ReintegrationStatus, note: str | None, at: dt.datetime) -> QueueEntry:
    check_reintegration_move(entry.status, to)
    return replace(entry, status=to, updated_at=at, note=note if note is not None else entry.note)
