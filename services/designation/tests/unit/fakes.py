"""In-memory stand-ins for the designation repositories and unit of work, for fast tests of the service layer.

They keep the rules the use cases rely on: NOT_FOUND for an unknown id, one open proposal and one current designation
per village (CONFLICT), and the optimistic version check on save. Records are copied in and out, as a database
would, so a use case's change counts only once it is saved. Unlike a database, a refused use case's earlier writes
are not rolled back: the tests check the events (which count only at commit) and what the use case returned."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Sequence

from demimas_common.db.fake_uow import FakeUnitOfWork
from demimas_common.errors import Conflict, NotFound
from demimas_designation.domain.assessment import Evidence, VillageCounts
from demimas_designation.domain.case_stats import CaseState
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Proposal
from demimas_designation.domain.snapshot import DecisionAssessment
from demimas_designation.domain.village_stats import WorkerState, village_counts_of
from demimas_designation.domain.vocabulary import DesignationStatus

__all__ = ["FakeDesignationUoW", "InMemoryCaseStats", "InMemoryDesignations", "InMemoryProposals",
           "InMemoryVillageStats"]  # fmt: skip


class InMemoryProposals:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Proposal] = {}
        self.evidence: dict[uuid.UUID, list[Evidence]] = {}
        self.frozen: dict[uuid.UUID, DecisionAssessment] = {}

    async def add(self, proposal: Proposal) -> None:
        if any(p.village_code == proposal.village_code and p.status.open for p in self.rows.values()):
            raise Conflict(f"village {proposal.village_code} already has an open proposal", field="villageCode",
                           reason="open_proposal_exists")  # fmt: skip
        self.rows[proposal.id] = copy.deepcopy(proposal)

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal:
        if proposal_id not in self.rows:
            raise NotFound(f"no proposal {proposal_id}", field="id")
        return copy.deepcopy(self.rows[proposal_id])

    async def save(self, proposal: Proposal, *, loaded_version: int, known: int) -> None:
        if self.rows[proposal.id].version != loaded_version:
            raise Conflict("the proposal changed meanwhile", reason="stale_version")
        self.rows[proposal.id] = copy.deepcopy(proposal)

    async def add_evidence(
        self, proposal_id: uuid.UUID, item: Evidence, *, agency: str, sub: str, at: dt.datetime
    ) -> None:
        self.evidence.setdefault(proposal_id, []).append(item)

    async def evidence_of(self, village_code: str) -> list[Evidence]:
        return [e for pid, items in self.evidence.items() if self.rows[pid].village_code == village_code for e in items]

    async def freeze_assessment(self, snapshot: DecisionAssessment) -> None:
        if snapshot.proposal_id in self.frozen:
            raise Conflict("a decision's assessment is frozen once", reason="already_frozen")
        self.frozen[snapshot.proposal_id] = snapshot


class InMemoryDesignations:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Designation] = {}

    async def add(self, d: Designation) -> None:
        if any(x.village_code == d.village_code and x.status is not DesignationStatus.REVOKED
               for x in self.rows.values()):  # fmt: skip
            raise Conflict(f"village {d.village_code} is designated already", reason="already_designated")
        self.rows[d.id] = copy.deepcopy(d)

    async def get(self, designation_id: uuid.UUID, *, for_update: bool = False) -> Designation:
        if designation_id not in self.rows:
            raise NotFound(f"no designation {designation_id}", field="id")
        return copy.deepcopy(self.rows[designation_id])

    async def save(self, d: Designation, *, loaded_version: int, known: int) -> None:
        if self.rows[d.id].version != loaded_version:
            raise Conflict("the designation changed meanwhile", reason="stale_version")
        self.rows[d.id] = copy.deepcopy(d)


class InMemoryVillageStats:
    def __init__(self) -> None:
        self.worker_states: dict[uuid.UUID, WorkerState] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.locked: list[list[uuid.UUID]] = []
        self.writes = 0

    async def lock_workers(self, ids: Sequence[uuid.UUID]) -> None:
        self.locked.append(list(ids))

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkerState]:
        return {i: self.worker_states[i] for i in ids if i in self.worker_states}

    async def write_states(self, states: Sequence[tuple[uuid.UUID, WorkerState]]) -> None:
        self.writes += 1
        self.worker_states.update(states)

    async def add_counts(self, counts: Sequence[tuple[str, str, int]]) -> None:
        for village, counter, n in counts:
            self.counts[(village, counter)] = self.counts.get((village, counter), 0) + n

    def counters(self, village_code: str) -> dict[str, int]:
        return {c: n for (v, c), n in self.counts.items() if v == village_code and n}

    async def counts_of(self, village_code: str) -> VillageCounts | None:
        return village_counts_of(self.counters(village_code))


class InMemoryCaseStats:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, CaseState] = {}
        self.locked: list[list[uuid.UUID]] = []

    async def lock_cases(self, ids: Sequence[uuid.UUID]) -> None:
        self.locked.append(list(ids))

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CaseState]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def write_states(self, states: Sequence[tuple[uuid.UUID, CaseState]]) -> None:
        self.rows.update(states)

    async def of_village(self, village_code: str) -> list[CaseState]:
        return [s for s in self.rows.values() if s.village_code == village_code]


class FakeDesignationUoW(FakeUnitOfWork):
    proposals: InMemoryProposals
    designations: InMemoryDesignations
    village_stats: InMemoryVillageStats
    case_stats: InMemoryCaseStats

    def __init__(self) -> None:
        super().__init__(proposals=InMemoryProposals(), designations=InMemoryDesignations(),
                         village_stats=InMemoryVillageStats(), case_stats=InMemoryCaseStats())  # fmt: skip
