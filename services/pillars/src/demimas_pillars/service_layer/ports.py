"""What the use cases and consumers need of storage, as Protocols: the PostgreSQL repositories (adapters/) and the
unit of work that carries them (adapters/unit_of_work.py) fit, and so do the in-memory fakes of the unit tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Protocol

from demimas_common.events.envelope import CloudEvent
from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.cases import CaseRecord
from demimas_pillars.domain.enrolment import Enrolment, QueueEntry
from demimas_pillars.domain.people import EnterQueue, MoveFamily, Person
from demimas_pillars.domain.pilot import Milestone, Pilot
from demimas_pillars.domain.portfolio import Portfolio
from demimas_pillars.domain.thematic import ThematicStatus
from demimas_pillars.domain.vocabulary import PersonKind, ThematicProgramme

__all__ = [
    "Activities",
    "Cases",
    "Enrolments",
    "IdempotencyKeys",
    "People",
    "PillarsUoW",
    "Pilots",
    "Portfolios",
    "ReintegrationQueue",
    "ThematicStatuses",
]


class Activities(Protocol):
    async def add(self, a: Activity) -> None: ...

    async def get_many(self, ids: list[uuid.UUID]) -> list[Activity]:
        """In the order of `ids`; NotFound for an unknown id."""
        ...


class Enrolments(Protocol):
    async def add(self, e: Enrolment) -> None:
        """CONFLICT (open_enrolment_exists) when the person has an open enrolment in the programme."""
        ...

    async def get(self, enrolment_id: uuid.UUID, *, for_update: bool = False) -> Enrolment:
        """NotFound for an unknown id."""
        ...

    async def save(self, e: Enrolment) -> None: ...


class ReintegrationQueue(Protocol):
    async def latest(self, worker_id: uuid.UUID) -> QueueEntry:
        """The worker's latest return, locked; NotFound when the worker is not in the queue."""
        ...

    async def save(self, e: QueueEntry, by: str) -> None: ...

    async def start(self, worker_ids: list[uuid.UUID], at: dt.datetime, by: str) -> int:
        """The WAITING returns of these workers move to IN_PROGRESS; how many moved."""
        ...

    async def enter(self, e: EnterQueue) -> None: ...

    async def drop_waiting_before(self, worker_id: uuid.UUID, version: int) -> None: ...

    async def move(self, worker_id: uuid.UUID, village_code: str) -> None: ...


class People(Protocol):
    async def get(self, person_id: uuid.UUID) -> Person | None: ...

    async def village_of(self, person_id: uuid.UUID) -> str | None: ...

    async def save_worker_if_newer(self, worker: Person) -> bool:
        """True when stored (the stored version, if any, was older)."""
        ...

    async def add_family_member(self, member: Person) -> None:
        """Nothing if the family member is known already."""
        ...

    async def move_family(self, move: MoveFamily) -> None: ...

    async def unknown(self, ids: list[uuid.UUID], kind: PersonKind, *, region: str | None = None) -> list[uuid.UUID]:
        """The ids among `ids` not known as `kind` (within `region`), in their order."""
        ...


class Pilots(Protocol):
    async def add(self, p: Pilot, created_by: str) -> None: ...

    async def add_milestone(self, pilot_id: uuid.UUID, seq: int, m: Milestone) -> None: ...

    async def next_milestone_seq(self, pilot_id: uuid.UUID) -> int: ...

    async def save_milestone(self, m: Milestone) -> None: ...

    async def save_status(self, p: Pilot) -> None: ...

    async def link_activity(self, pilot_id: uuid.UUID, activity_id: uuid.UUID) -> bool: ...

    async def get_many(self, ids: list[uuid.UUID], *, for_update: bool = False) -> list[Pilot]:
        """In the order of `ids`; NotFound for an unknown id."""
        ...


class Portfolios(Protocol):
    async def get_for_update(self, village_code: str) -> Portfolio | None: ...

    async def add(self, p: Portfolio) -> None: ...

    async def save(self, p: Portfolio) -> None: ...


class Cases(Protocol):
    async def get_for_update(self, case_id: uuid.UUID) -> CaseRecord | None:
        """The case's record, locked (also when there is none yet) until the end of the transaction."""
        ...

    async def save(self, case_id: uuid.UUID, record: CaseRecord) -> None: ...


class ThematicStatuses(Protocol):
    async def add(self, s: ThematicStatus, by: str) -> None:
        """CONFLICT (concurrent_change) when the village has an ACTIVE status in the programme already."""
        ...

    async def save(self, s: ThematicStatus, by: str) -> None: ...

    async def get(self, status_id: uuid.UUID, *, for_update: bool = False) -> ThematicStatus:
        """NotFound for an unknown id."""
        ...

    async def active(self, village_code: str, programme: ThematicProgramme) -> ThematicStatus | None:
        """The village's ACTIVE status in the programme, locked."""
        ...


class IdempotencyKeys(Protocol):
    async def claim(
        self, *, agency: str, key: str, operation: str, fingerprint: str, resource_id: uuid.UUID, at: dt.datetime
    ) -> uuid.UUID | None:
        """None when this attempt holds the key now; the id an earlier attempt with the key and the same input made;
        CONFLICT (idempotency_key_reused) for another input or operation."""
        ...


class PillarsUoW(Protocol):
    """A unit of work of the pillars service, entered by the caller (`async with`); the use case commits."""

    @property
    def activities(self) -> Activities: ...

    @property
    def cases(self) -> Cases: ...

    @property
    def enrolments(self) -> Enrolments: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys: ...

    @property
    def people(self) -> People: ...

    @property
    def pilots(self) -> Pilots: ...

    @property
    def portfolios(self) -> Portfolios: ...

    @property
    def queue(self) -> ReintegrationQueue: ...

    @property
    def thematic(self) -> ThematicStatuses: ...

    def publish(self, event: CloudEvent) -> None: ...

    async def commit(self) -> None: ...
