"""Case notes in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.tables import case_notes as t
from demimas_cases.domain.case import Note

__all__ = ["NoteRepository"]


class NoteRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, note: Note) -> None:
        await self._conn.execute(
            t.insert().values(id=note.id, case_id=note.case_id, agency=note.agency, author=note.author,
                              text=note.text, created_at=note.created_at)
        )  # fmt: skip

    async def of_cases(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Note]]:
        out: dict[uuid.UUID, list[Note]] = {}
        stmt = select(t).where(t.c.case_id.in_(case_ids)).order_by(t.c.created_at, t.c.id)
        for r in await self._conn.execute(stmt):
            out.setdefault(r.case_id, []).append(Note(r.id, r.case_id, r.agency, r.author, r.text, r.created_at))
        return out
