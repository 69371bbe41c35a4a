"""Designations in PostgreSQL: insert, load (by id or the villages' current ones), save with optimistic concurrency."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, RowMapping, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_designation.adapters.records import append_transitions, insert_unless_taken, save_versioned, transitions_of
from demimas_designation.adapters.tables import designation_transitions, designations
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Decree, Transition
from demimas_designation.domain.vocabulary import DesignationStatus, Programme

__all__ = ["DesignationRepository"]

OWNER = "designation_id"


def _designation(row: RowMapping, history: list[Transition]) -> Designation:
    return Designation(
        id=row["id"],
        village_code=row["village_code"],
        decree=Decree(row["decree_number"], row["decree_date"]),
        programme=Programme(row["programme"]),
        proposal_id=row["proposal_id"],
        status=DesignationStatus(row["status"]),
        history=history,
        version=row["version"],
    )


class DesignationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, d: Designation) -> None:
        """A new designation; CONFLICT when the village has a current one (a unique index says so)."""
        row = insert(designations).values(
            id=d.id,
            village_code=d.village_code,
            decree_number=d.decree.number,
            decree_date=d.decree.date,
            programme=d.programme.value,
            proposal_id=d.proposal_id,
            status=d.status.value,
            version=d.version,
        )
        taken = Conflict(f"village {d.village_code} is designated already", field="villageCode",
                         reason="already_designated")  # fmt: skip
        await insert_unless_taken(self.conn, row, taken)
        await append_transitions(self.conn, designation_transitions, OWNER, d.id, d.history, start=0)

    async def _find(self, where: ColumnElement[bool], *, for_update: bool = False) -> list[Designation]:
        query = select(designations).where(where)
        rows = (await self.conn.execute(query.with_for_update() if for_update else query)).mappings().all()
        if not rows:
            return []
        history = await transitions_of(
            self.conn, designation_transitions, OWNER, [r["id"] for r in rows], DesignationStatus
        )
        return [_designation(r, history.get(r["id"], [])) for r in rows]

    async def get(self, designation_id: uuid.UUID, *, for_update: bool = False) -> Designation:
        found = await self._find(designations.c.id == designation_id, for_update=for_update)
        if not found:
            raise NotFound(f"no designation {designation_id}", field="id")
        return found[0]

    async def current(self, village_code: str) -> Designation | None:
        found = await self.current_of([village_code])
        return found.get(village_code)

    async def current_of(self, village_codes: list[str]) -> dict[str, Designation]:
        """The current designation of each of many villages, in two statements (for a page of villages at once)."""
        current = designations.c.village_code.in_(village_codes) & (designations.c.status != "REVOKED")
        return {d.village_code: d for d in await self._find(current)}

    async def save(self, d: Designation, *, loaded_version: int, known: int) -> None:
        values = {"status": d.status.value, "version": d.version}
        await save_versioned(self.conn, designations, d.id, loaded_version, values, "designation")
        await append_transitions(self.conn, designation_transitions, OWNER, d.id, d.history, start=known)
