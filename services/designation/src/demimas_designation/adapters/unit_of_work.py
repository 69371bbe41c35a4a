"""The designation service's unit of work: one transaction with the proposals, designations, village-stats and
case-stats repositories attached to its connection (`uow.proposals`, ...) and the events it queues."""

from __future__ import annotations

from demimas_common.db.uow import UnitOfWork
from demimas_designation.adapters.case_stats import CaseStatsRepository
from demimas_designation.adapters.designations import DesignationRepository
from demimas_designation.adapters.proposals import ProposalRepository
from demimas_designation.adapters.village_stats import VillageStatsRepository

__all__ = ["DesignationUnitOfWork"]


class DesignationUnitOfWork(UnitOfWork):
    proposals: ProposalRepository
    designations: DesignationRepository
    village_stats: VillageStatsRepository
    case_stats: CaseStatsRepository

    def _begin(self) -> None:
        self.proposals = ProposalRepository(self.connection)
        self.designations = DesignationRepository(self.connection)
        self.village_stats = VillageStatsRepository(self.connection)
        self.case_stats = CaseStatsRepository(self.connection)
