"""The `people` projection's rules: what the registry's worker and family events change in the pillars service.

The projection knows which workers and family members exist (participant ids are checked against it), each worker's
last known village and status, and the reintegration queue. Events may come late, twice or out of order: a worker's
row is only replaced by a newer version (the repository writes it only if so, and says whether it did), and only the
newest event of a worker has consequences:
- a return enters the queue once (keyed by the worker and the event's version);
- a departure takes the returns before it that are still WAITING off the queue: the person left again;
- a worker who moves takes along the family living with them (in the village they left) and their place in the
  queue: what belongs to a person's village follows the person, so the office they left no longer sees or changes it.
A family member lives with the worker unless the event names another village.

Pure: the service layer (service_layer/people.py) reads and writes through the repositories."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from demimas_common.events.envelope import CloudEvent
from demimas_pillars.domain.vocabulary import PersonKind

__all__ = [
    "FAMILY_ADDED",
    "DropWaitingReturns",
    "EnterQueue",
    "FamilyMemberAdded",
    "MoveFamily",
    "MoveQueue",
    "Person",
    "WorkerSeen",
    "after_worker_event",
    "family_member_added",
    "family_member_person",
    "worker_seen",
]

FAMILY_ADDED = "demimas.registry.family.added"
RETURNED = "demimas.registry.worker.returned"
DEPARTED = "demimas.registry.worker.departed"


@dataclass(frozen=True)
class Person:
    """A worker or family member as the projection holds them."""

    person_id: uuid.UUID
    person_kind: PersonKind
    worker_id: uuid.UUID
    village_code: str | None
    version: int = 1
    status: str | None = None
    minor: bool | None = None


@dataclass(frozen=True)
class WorkerSeen:
    """A worker as one of the registry's worker events states them."""

    type: str
    worker_id: uuid.UUID
    village_code: str
    status: str
    version: int
    at: dt.datetime

    @property
    def person(self) -> Person:
        return Person(self.worker_id, PersonKind.WORKER, self.worker_id, self.village_code, self.version, self.status)


@dataclass(frozen=True)
class FamilyMemberAdded:
    family_member_id: uuid.UUID
    worker_id: uuid.UUID
    village_code: str | None
    """None: the family lives with the worker."""
    minor: bool


@dataclass(frozen=True)
class MoveFamily:
    """The worker's family members living in `before` move to `after` with them."""

    worker_id: uuid.UUID
    before: str
    after: str


@dataclass(frozen=True)
class MoveQueue:
    """The worker's returns in the reintegration queue move to `village_code`."""

    worker_id: uuid.UUID
    village_code: str


@dataclass(frozen=True)
class EnterQueue:
    """A WAITING return, once per (worker, version)."""

    worker_id: uuid.UUID
    return_version: int
    village_code: str
    at: dt.datetime


@dataclass(frozen=True)
class DropWaitingReturns:
    """The worker's returns before `version` still WAITING leave the queue."""

    worker_id: uuid.UUID
    version: int


Change = MoveFamily | MoveQueue | EnterQueue | DropWaitingReturns


def worker_seen(event: CloudEvent) -> WorkerSeen:
    data = event.data
    return WorkerSeen(
        event.type,
        uuid.UUID(str(data["workerId"])),
        data["villageCode"],
        data["status"],
        int(data["version"]),
        event.time,
    )


def family_member_added(event: CloudEvent) -> FamilyMemberAdded:
    data = event.data
    return FamilyMemberAdded(
        uuid.UUID(str(data["familyMemberId"])),
        uuid.UUID(str(data["workerId"])),
        data.get("villageCode"),
        bool(data["minor"]),
    )


def family_member_person(added: FamilyMemberAdded, worker_village: str | None) -> Person:
    """The family member's row: in the village the event names, else in the worker's (None if not known yet)."""
    village = added.village_code if added.village_code is not None else worker_village
    return Person(added.family_member_id, PersonKind.FAMILY_MEMBER, added.worker_id, village, 1, minor=added.minor)


def after_worker_event(seen: WorkerSeen, *, newest: bool, village_before: str | None) -> list[Change]:
    """What else changes once the worker's row is written: nothing unless this event was the newest of the worker;
    `village_before` is the worker's village before this event (None when the projection did not know them)."""
    if not newest:
        return []
    changes: list[Change] = []
    if village_before is not None and village_before != seen.village_code:
        changes += [MoveFamily(seen.worker_id, village_before, seen.village_code),
                    MoveQueue(seen.worker_id, seen.village_code)]  # fmt: skip
    if seen.type == RETURNED:
        changes.append(EnterQueue(seen.worker_id, seen.version, seen.village_code, seen.at))
    elif seen.type == DEPARTED:
        changes.append(DropWaitingReturns(seen.worker_id, seen.version))
    return changes
