"""What the use cases need of the store, as Protocols: the PostgreSQL repositories (adapters) and the in-memory
fakes of the unit tests both fit them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Protocol

from demimas_common.events.envelope import CloudEvent
from demimas_designation.domain.assessment import Evidence, VillageCounts
from demimas_designation.domain.case_stats import CaseState
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Proposal
from demimas_designation.domain.snapshot import DecisionAssessment
from demimas_designation.domain.village_stats import WorkerState

__all__ = ["CaseStats", "DesignationUoW", "Designations", "Proposals", "VillageStats"]


class Proposals(Protocol):
    async def add(self, proposal: Proposal) -> None:
        """CONFLICT (`open_proposal_exists`) when the village has an open proposal."""

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal:
        """NOT_FOUND when there is no such proposal."""

    async def save(self, proposal: Proposal, *, loaded_version: int, known: int) -> None:
        """CONFLICT when it changed since it was read at `loaded_version`; `known` transitions are stored already."""

    async def add_evidence(
        self, proposal_id: uuid.UUID, item: Evidence, *, agency: str, sub: str, at: dt.datetime
    ) -> None: ...

    async def evidence_of(self, village_code: str) -> list[Evidence]:
        """Evidence of every proposal of the village."""

    async def freeze_assessment(self, snapshot: DecisionAssessment) -> None:
        """Keep the assessment that justified a decision with the proposal."""


class Designations(Protocol):
    async def add(self, d: Designation) -> None:
        """CONFLICT (`already_designated`) when the village has a current designation."""

    async def get(self, designation_id: uuid.UUID, *, for_update: bool = False) -> Designation:
        """NOT_FOUND when there is no such designation."""

    async def save(self, d: Designation, *, loaded_version: int, known: int) -> None: ...


class VillageStats(Protocol):
    async def lock_workers(self, ids: Sequence[uuid.UUID]) -> None: ...

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkerState]: ...

    async def write_states(self, states: Sequence[tuple[uuid.UUID, WorkerState]]) -> None: ...

    async def add_counts(self, counts: Sequence[tuple[str, str, int]]) -> None: ...

    async def counts_of(self, village_code: str) -> VillageCounts | None: ...


class CaseStats(Protocol):
    async def lock_cases(self, ids: Sequence[uuid.UUID]) -> None: ...

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CaseState]: ...

    async def write_states(self, states: Sequence[tuple[uuid.UUID, CaseState]]) -> None: ...

    async def of_village(self, village_code: str) -> list[CaseState]: ...


class DesignationUoW(Protocol):
    """The unit of work a use case gets, open: its repositories, `publish` to queue an event, `commit` to keep the
    changes and the events together."""

    @property
    def proposals(self) -> Proposals: ...

    @property
    def designations(self) -> Designations: ...

    @property
    def village_stats(self) -> VillageStats: ...

    @property
    def case_stats(self) -> CaseStats: ...

    def publish(self, event: CloudEvent) -> None: ...

    async def commit(self) -> None: ...
