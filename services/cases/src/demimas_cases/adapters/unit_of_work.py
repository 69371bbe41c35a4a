"""The cases service's unit of work: the common one (one transaction, its events in the outbox) with the cases
repositories on its connection."""

from __future__ import annotations

from demimas_cases.adapters.cases import CaseRepository
from demimas_cases.adapters.legal_aid import LegalAidRepository
from demimas_cases.adapters.notes import NoteRepository
from demimas_cases.adapters.people import PeopleRepository
from demimas_cases.adapters.tables import idempotency_keys
from demimas_common.db.idempotency import IdempotencyKeyRepository
from demimas_common.db.uow import UnitOfWork

__all__ = ["CasesUnitOfWork"]


class CasesUnitOfWork(UnitOfWork):
    cases: CaseRepository
    notes: NoteRepository
    legal_aid: LegalAidRepository
    people: PeopleRepository
    idempotency_keys: IdempotencyKeyRepository

    def _begin(self) -> None:
        conn = self.connection
        self.cases = CaseRepository(conn)
        self.notes = NoteRepository(conn)
        self.legal_aid = LegalAidRepository(conn)
        self.people = PeopleRepository(conn)
        self.idempotency_keys = IdempotencyKeyRepository(conn, idempotency_keys)
