"""In-memory repositories and unit of work of the pillars service, for fast tests of the service-layer rules. They
keep what the PostgreSQL ones promise (service_layer/ports.py): NotFound for an unknown id, CONFLICT for a second
open enrolment or a reused idempotency key, a worker's row replaced only by a newer version."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, region_covers
from demimas_common.db.fake_uow import FakeUnitOfWork
from demimas_common.errors import Conflict, NotFound
from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.cases import CaseRecord
from demimas_pillars.domain.enrolment import Enrolment, QueueEntry
from demimas_pillars.domain.people import EnterQueue, MoveFamily, Person
from demimas_pillars.domain.pilot import Milestone, Pilot
from demimas_pillars.domain.portfolio import Portfolio
from demimas_pillars.domain.thematic import ThematicStatus
from demimas_pillars.domain.vocabulary import (
    EnrolmentStatus,
    PersonKind,
    ReintegrationStatus,
    ThematicProgramme,
    ThematicStatusState,
)
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.ports import PillarsUoW

C = TypeVar("C")
R = TypeVar("R")
NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SETTINGS = DeliverySettings(clock=lambda: NOW)


class InMemoryActivities:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Activity] = {}

    async def add(self, a: Activity) -> None:
        self.rows[a.id] = a

    async def get_many(self, ids: list[uuid.UUID]) -> list[Activity]:
        if missing := [i for i in ids if i not in self.rows]:
            raise NotFound(f"no activity {missing[0]}", field="id")
        return [self.rows[i] for i in ids]


class InMemoryEnrolments:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Enrolment] = {}

    async def add(self, e: Enrolment) -> None:
        open_ = (EnrolmentStatus.ENROLLED, EnrolmentStatus.ACTIVE)
        if any(x.person_id == e.person_id and x.programme == e.programme and x.status in open_
               for x in self.rows.values()):  # fmt: skip
            raise Conflict(
                f"this person already has an open enrolment in {e.programme}", reason="open_enrolment_exists"
            )
        self.rows[e.id] = e

    async def get(self, enrolment_id: uuid.UUID, *, for_update: bool = False) -> Enrolment:
        if enrolment_id not in self.rows:
            raise NotFound(f"no enrolment {enrolment_id}", field="id")
        return self.rows[enrolment_id]

    async def save(self, e: Enrolment) -> None:
        self.rows[e.id] = e


class InMemoryQueue:
    def __init__(self) -> None:
        self.rows: dict[tuple[uuid.UUID, int], QueueEntry] = {}

    def of(self, worker_id: uuid.UUID) -> list[tuple[int, ReintegrationStatus, str]]:
        return sorted((v, e.status, e.village_code) for (w, v), e in self.rows.items() if w == worker_id)

    async def latest(self, worker_id: uuid.UUID) -> QueueEntry:
        mine = [e for (w, _), e in self.rows.items() if w == worker_id]
        if not mine:
            raise NotFound("this worker is not in the reintegration queue", field="workerId")
        return max(mine, key=lambda e: e.return_version)

    async def save(self, e: QueueEntry, by: str) -> None:
        self.rows[(e.worker_id, e.return_version)] = e

    async def start(self, worker_ids: list[uuid.UUID], at: dt.datetime, by: str) -> int:
        moved = 0
        for key, e in list(self.rows.items()):
            if e.worker_id in worker_ids and e.status is ReintegrationStatus.WAITING:
                self.rows[key] = replace(e, status=ReintegrationStatus.IN_PROGRESS, updated_at=at)
                moved += 1
        return moved

    async def enter(self, e: EnterQueue) -> None:
        entry = QueueEntry(e.worker_id, e.return_version, e.village_code, e.at, ReintegrationStatus.WAITING, e.at)
        self.rows.setdefault((e.worker_id, e.return_version), entry)

    async def drop_waiting_before(self, worker_id: uuid.UUID, version: int) -> None:
        for (w, v), e in list(self.rows.items()):
            if w == worker_id and v < version and e.status is ReintegrationStatus.WAITING:
                del self.rows[(w, v)]

    async def move(self, worker_id: uuid.UUID, village_code: str) -> None:
        for key, e in list(self.rows.items()):
            if e.worker_id == worker_id:
                self.rows[key] = replace(e, village_code=village_code)


class InMemoryPeople:
    def __init__(self, *people: Person) -> None:
        self.rows: dict[uuid.UUID, Person] = {p.person_id: p for p in people}

    async def get(self, person_id: uuid.UUID) -> Person | None:
        return self.rows.get(person_id)

    async def village_of(self, person_id: uuid.UUID) -> str | None:
        found = self.rows.get(person_id)
        return found.village_code if found else None

    async def save_worker_if_newer(self, worker: Person) -> bool:
        stored = self.rows.get(worker.person_id)
        if stored is not None and stored.version >= worker.version:
            return False
        self.rows[worker.person_id] = worker if stored is None else replace(
            stored, village_code=worker.village_code, status=worker.status, version=worker.version
        )  # fmt: skip
        return True

    async def add_family_member(self, member: Person) -> None:
        self.rows.setdefault(member.person_id, member)

    async def move_family(self, move: MoveFamily) -> None:
        for i, p in list(self.rows.items()):
            if (
                p.worker_id == move.worker_id
                and p.person_kind is PersonKind.FAMILY_MEMBER
                and p.village_code == move.before
            ):
                self.rows[i] = replace(p, village_code=move.after)

    async def unknown(self, ids: list[uuid.UUID], kind: PersonKind, *, region: str | None = None) -> list[uuid.UUID]:
        def known(i: uuid.UUID) -> bool:
            p = self.rows.get(i)
            return p is not None and p.person_kind is kind and (
                region is None or (p.village_code is not None and region_covers(region, p.village_code))
            )  # fmt: skip

        return [i for i in ids if not known(i)]


class InMemoryPilots:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Pilot] = {}
        self.links: set[tuple[uuid.UUID, uuid.UUID]] = set()

    async def add(self, p: Pilot, created_by: str) -> None:
        self.rows[p.id] = p

    async def add_milestone(self, pilot_id: uuid.UUID, seq: int, m: Milestone) -> None:
        p = self.rows[pilot_id]
        assert seq == len(p.milestones) + 1
        self.rows[pilot_id] = replace(p, milestones=(*p.milestones, m))

    async def next_milestone_seq(self, pilot_id: uuid.UUID) -> int:
        return len(self.rows[pilot_id].milestones) + 1

    async def save_milestone(self, m: Milestone) -> None:
        for i, p in self.rows.items():
            if any(x.id == m.id for x in p.milestones):
                self.rows[i] = replace(p, milestones=tuple(m if x.id == m.id else x for x in p.milestones))

    async def save_status(self, p: Pilot) -> None:
        self.rows[p.id] = replace(self.rows[p.id], status=p.status, status_reason=p.status_reason)

    async def link_activity(self, pilot_id: uuid.UUID, activity_id: uuid.UUID) -> bool:
        new = (pilot_id, activity_id) not in self.links
        self.links.add((pilot_id, activity_id))
        return new

    async def get_many(self, ids: list[uuid.UUID], *, for_update: bool = False) -> list[Pilot]:
        if missing := [i for i in ids if i not in self.rows]:
            raise NotFound(f"no pilot project {missing[0]}", field="id")
        return [self.rows[i] for i in ids]


class InMemoryPortfolios:
    def __init__(self) -> None:
        self.rows: dict[str, Portfolio] = {}

    async def get_for_update(self, village_code: str) -> Portfolio | None:
        return self.rows.get(village_code)

    async def add(self, p: Portfolio) -> None:
        assert p.village_code not in self.rows
        self.rows[p.village_code] = p

    async def save(self, p: Portfolio) -> None:
        assert p.village_code in self.rows
        self.rows[p.village_code] = p


class InMemoryCases:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, CaseRecord] = {}
        self.saves = 0

    async def get_for_update(self, case_id: uuid.UUID) -> CaseRecord | None:
        return self.rows.get(case_id)

    async def save(self, case_id: uuid.UUID, record: CaseRecord) -> None:
        self.saves += 1
        self.rows[case_id] = record


class InMemoryThematic:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ThematicStatus] = {}

    async def add(self, s: ThematicStatus, by: str) -> None:
        if any(x.village_code == s.village_code and x.programme is s.programme
               and x.status is ThematicStatusState.ACTIVE for x in self.rows.values()):  # fmt: skip
            raise Conflict("another request at the same time", reason="concurrent_change")
        self.rows[s.id] = s

    async def save(self, s: ThematicStatus, by: str) -> None:
        assert s.id in self.rows
        self.rows[s.id] = s

    async def get(self, status_id: uuid.UUID, *, for_update: bool = False) -> ThematicStatus:
        if status_id not in self.rows:
            raise NotFound(f"no thematic status {status_id}", field="id")
        return self.rows[status_id]

    async def active(self, village_code: str, programme: ThematicProgramme) -> ThematicStatus | None:
        return next((x for x in self.rows.values() if x.village_code == village_code and x.programme is programme
                     and x.status is ThematicStatusState.ACTIVE), None)  # fmt: skip


class InMemoryKeys:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[str, str, uuid.UUID]] = {}

    async def claim(
        self, *, agency: str, key: str, operation: str, fingerprint: str, resource_id: uuid.UUID, at: dt.datetime
    ) -> uuid.UUID | None:
        found = self.rows.get((agency, key))
        if found is None:
            self.rows[(agency, key)] = (operation, fingerprint, resource_id)
            return None
        if found[:2] != (operation, fingerprint):
            raise Conflict(f"idempotencyKey {key!r} was already used", field="idempotencyKey",
                           reason="idempotency_key_reused")  # fmt: skip
        return found[2]


class FakePillarsUoW(FakeUnitOfWork):
    """`FakeUnitOfWork` with the pillars repositories in memory (each replaceable by keyword)."""

    activities: InMemoryActivities
    cases: InMemoryCases
    enrolments: InMemoryEnrolments
    idempotency_keys: InMemoryKeys
    people: InMemoryPeople
    pilots: InMemoryPilots
    portfolios: InMemoryPortfolios
    queue: InMemoryQueue
    thematic: InMemoryThematic

    def __init__(self, **repositories: Any) -> None:
        defaults: dict[str, Any] = {
            "activities": InMemoryActivities(),
            "cases": InMemoryCases(),
            "enrolments": InMemoryEnrolments(),
            "idempotency_keys": InMemoryKeys(),
            "people": InMemoryPeople(),
            "pilots": InMemoryPilots(),
            "portfolios": InMemoryPortfolios(),
            "queue": InMemoryQueue(),
            "thematic": InMemoryThematic(),
        }
        super().__init__(schema="pillars", **(defaults | repositories))


def principal(agency: str, region: str | None = None) -> Principal:
    a = Agency(agency)
    return Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region)


async def act(
    uow: FakePillarsUoW,
    who: Principal,
    handler: Callable[[C, PillarsUoW, Principal, DeliverySettings], Awaitable[R]],
    cmd: C,
) -> R:
    """A use case as a resolver runs it: inside the unit of work, which the use case commits (or not)."""
    async with uow:
        return await handler(cmd, uow, who, SETTINGS)


def worker(village: str, *, version: int = 1, status: str = "CANDIDATE") -> Person:
    i = uuid.uuid4()
    return Person(i, PersonKind.WORKER, i, village, version, status)


def family_member(of: Person, village: str | None = None) -> Person:
    return Person(uuid.uuid4(), PersonKind.FAMILY_MEMBER, of.worker_id, village or of.village_code, 1, minor=True)
