"""Protection cases in PostgreSQL, as the pillar progress counts them (what an event changes: domain/cases.py).

A transaction-scoped advisory lock on the case serialises concurrent events of one case (its first event has no
row to lock yet), so two replicas applying events of the same case converge."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_pillars.adapters.tables import protection_cases
from demimas_pillars.domain.cases import CaseRecord

__all__ = ["CaseRepository"]

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_FIELDS = ("village_code", "kind", "status", "version", "from_overdue", "opened_on", "resolved_on", "resolved_version")


class CaseRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get_for_update(self, case_id: uuid.UUID) -> CaseRecord | None:
        """The case's record, nobody else changing it until the end of the transaction."""
        await self._conn.execute(_LOCK, {"key": f"case:{case_id}"})
        row = (await self._conn.execute(select(protection_cases).where(protection_cases.c.case_id == case_id))).first()
        return None if row is None else CaseRecord(**{f: getattr(row, f) for f in _FIELDS})

    async def save(self, case_id: uuid.UUID, record: CaseRecord) -> None:
        stmt = insert(protection_cases).values(case_id=case_id, **{f: getattr(record, f) for f in _FIELDS})
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[protection_cases.c.case_id], set_={f: stmt.excluded[f] for f in _FIELDS}
            )
        )
