"""Enrolments in PostgreSQL (one open enrolment per person and programme: the unique index says CONFLICT)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_pillars.adapters.tables import enrolments
from demimas_pillars.domain.enrolment import Enrolment
from demimas_pillars.domain.vocabulary import EnrolmentProgramme, EnrolmentStatus, PersonKind

__all__ = ["EnrolmentRepository"]


def _enrolment(r: object) -> Enrolment:
    g = r._mapping  # type: ignore[attr-defined]
    return Enrolment(
        g["id"],
        g["person_id"],
        PersonKind(g["person_kind"]),
        g["worker_id"],
        g["village_code"],
        EnrolmentProgramme(g["programme"]),
        EnrolmentStatus(g["status"]),
        g["enrolled_on"],
        g["agency"],
        g["updated_at"],
        g["note"],
    )


class EnrolmentRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, e: Enrolment) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(enrolments).values(
                        id=e.id,
                        person_id=e.person_id,
                        person_kind=e.person_kind.value,
                        worker_id=e.worker_id,
                        village_code=e.village_code,
                        programme=e.programme.value,
                        status=e.status.value,
                        enrolled_on=e.enrolled_on,
                        agency=e.agency,
                        updated_at=e.updated_at,
                        note=e.note,
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"this person already has an open enrolment in {e.programme}", reason="open_enrolment_exists"
            ) from None

    async def get(self, enrolment_id: uuid.UUID, *, for_update: bool = False) -> Enrolment:
        stmt = select(enrolments).where(enrolments.c.id == enrolment_id)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        if row is None:
            raise NotFound(f"no enrolment {enrolment_id}", field="id")
        return _enrolment(row)

    async def save(self, e: Enrolment) -> None:
        await self._conn.execute(
            update(enrolments)
            .where(enrolments.c.id == e.id)
            .values(status=e.status.value, updated_at=e.updated_at, note=e.note)
        )

    async def of_workers(self, worker_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Enrolment]]:
        """Enrolments of the workers and of their family members, per worker, oldest first."""
        rows = await self._conn.execute(
            select(enrolments)
            .where(enrolments.c.worker_id.in_(worker_ids))
            .order_by(enrolments.c.enrolled_on, enrolments.c.id)
        )
        found: dict[uuid.UUID, list[Enrolment]] = defaultdict(list)
        for r in rows:
            e = _enrolment(r)
            found[e.worker_id].append(e)
        return found
