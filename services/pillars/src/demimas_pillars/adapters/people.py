"""The `people` projection in PostgreSQL: which workers and family members exist, each one's last known village and
a worker's status and version. The rules of what an event changes are in domain/people.py; a worker's row is
written only if the event's version is newer than the stored one, in one statement (so two replicas applying
events of the same worker converge), and the write says whether it was."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_pillars.adapters.tables import people
from demimas_pillars.domain.people import MoveFamily, Person
from demimas_pillars.domain.vocabulary import PersonKind

__all__ = ["PeopleRepository"]


class PeopleRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get(self, person_id: uuid.UUID) -> Person | None:
        row = (await self._conn.execute(select(people).where(people.c.person_id == person_id))).first()
        if row is None:
            return None
        return Person(row.person_id, PersonKind(row.person_kind), row.worker_id, row.village_code, row.version,
                      row.status, row.minor)  # fmt: skip

    async def village_of(self, person_id: uuid.UUID) -> str | None:
        found: str | None = await self._conn.scalar(
            select(people.c.village_code).where(people.c.person_id == person_id)
        )
        return found

    async def save_worker_if_newer(self, worker: Person) -> bool:
        """Store the worker's village, status and version unless the stored version is as new; True if stored."""
        stmt = insert(people).values(
            person_id=worker.person_id,
            person_kind=worker.person_kind.value,
            worker_id=worker.worker_id,
            village_code=worker.village_code,
            status=worker.status,
            version=worker.version,
        )
        applied = await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[people.c.person_id],
                set_={k: stmt.excluded[k] for k in ("village_code", "status", "version")},
                where=people.c.version < stmt.excluded.version,
            ).returning(people.c.person_id)
        )
        return applied.first() is not None

    async def add_family_member(self, member: Person) -> None:
        """Nothing if the family member is known already."""
        await self._conn.execute(
            insert(people)
            .values(person_id=member.person_id, person_kind=member.person_kind.value, worker_id=member.worker_id,
                    village_code=member.village_code, version=member.version, minor=member.minor)
            .on_conflict_do_nothing()
        )  # fmt: skip

    async def move_family(self, move: MoveFamily) -> None:
        await self._conn.execute(
            update(people)
            .where(and_(people.c.worker_id == move.worker_id, people.c.person_kind == PersonKind.FAMILY_MEMBER.value,
                        people.c.village_code == move.before))
            .values(village_code=move.after)
        )  # fmt: skip

    async def unknown(self, ids: list[uuid.UUID], kind: PersonKind, *, region: str | None = None) -> list[uuid.UUID]:
        """The ids among `ids` that the projection does not know as `kind` (within `region`, a caller's: a person
        elsewhere is unknown to it, so that the answer cannot confirm that the person exists)."""
        if not ids:
            return []
        found = and_(people.c.person_id.in_(ids), people.c.person_kind == kind.value)
        if region is not None:
            found = and_(found, or_(people.c.village_code == region, people.c.village_code.startswith(region + ".")))
        rows = await self._conn.execute(select(people.c.person_id).where(found))
        known = {r[0] for r in rows}
        return [i for i in ids if i not in known]

    async def villages_of(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The last known village of each person the projection holds (the region rule of `Worker` stubs)."""
        rows = await self._conn.execute(
            select(people.c.person_id, people.c.village_code).where(
                people.c.person_id.in_(ids), people.c.village_code.is_not(None)
            )
        )
        return {r.person_id: r.village_code for r in rows}
