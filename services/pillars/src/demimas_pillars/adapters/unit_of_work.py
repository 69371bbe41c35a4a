"""The pillars service's unit of work: the common one (one transaction, its events in the outbox) with the
service's repositories on its connection, as the use cases reach them (`uow.activities`, `uow.people`, ...)."""

from __future__ import annotations

from demimas_common.db.uow import UnitOfWork
from demimas_pillars.adapters.activities import ActivityRepository
from demimas_pillars.adapters.cases import CaseRepository
from demimas_pillars.adapters.enrolments import EnrolmentRepository
from demimas_pillars.adapters.idempotency import IdempotencyKeyRepository
from demimas_pillars.adapters.people import PeopleRepository
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.adapters.portfolios import PortfolioRepository
from demimas_pillars.adapters.reintegration import ReintegrationQueueRepository
from demimas_pillars.adapters.thematic import ThematicStatusRepository

__all__ = ["PillarsUnitOfWork"]


class PillarsUnitOfWork(UnitOfWork):
    activities: ActivityRepository
    cases: CaseRepository
    enrolments: EnrolmentRepository
    idempotency_keys: IdempotencyKeyRepository
    people: PeopleRepository
    pilots: PilotRepository
    portfolios: PortfolioRepository
    queue: ReintegrationQueueRepository
    thematic: ThematicStatusRepository

    def _begin(self) -> None:
        conn = self.connection
        self.activities = ActivityRepository(conn)
        self.cases = CaseRepository(conn)
        self.enrolments = EnrolmentRepository(conn)
        self.idempotency_keys = IdempotencyKeyRepository(conn)
        self.people = PeopleRepository(conn)
        self.pilots = PilotRepository(conn)
        self.portfolios = PortfolioRepository(conn)
        self.queue = ReintegrationQueueRepository(conn)
        self.thematic = ThematicStatusRepository(conn)
