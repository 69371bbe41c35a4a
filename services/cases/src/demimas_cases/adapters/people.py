"""The `people` projection: the registry's workers and family members as the cases service needs them (where they
live, whether a family member is a minor), from the registry's events; a newer worker version wins."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.tables import people as t

__all__ = ["KnownPerson", "PeopleRepository"]


@dataclass(frozen=True)
class KnownPerson:
    person_id: uuid.UUID
    kind: str  # WORKER or FAMILY_MEMBER
    worker_id: uuid.UUID
    village_code: str | None
    minor: bool


class PeopleRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def save_worker(self, worker_id: uuid.UUID, village_code: str, version: int) -> None:
        stmt = pg_insert(t).values(person_id=worker_id, person_kind="WORKER", worker_id=worker_id,
                                   village_code=village_code, version=version, minor=False)  # fmt: skip
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.person_id],
                set_={"village_code": stmt.excluded.village_code, "version": stmt.excluded.version},
                where=t.c.version < stmt.excluded.version,
            )
        )
        # family members living with the worker follow the worker's village
        await self._conn.execute(
            t.update().where(t.c.worker_id == worker_id, t.c.person_kind == "FAMILY_MEMBER", t.c.version == 0)
            .values(village_code=village_code)
        )  # fmt: skip

    async def save_family_member(
        self, member_id: uuid.UUID, worker_id: uuid.UUID, village_code: str | None, minor: bool
    ) -> None:
        """`village_code` None: lives with the worker (version 0 marks that it follows the worker's moves)."""
        version = 0 if village_code is None else 1
        if village_code is None:
            village_code = await self._conn.scalar(select(t.c.village_code).where(t.c.person_id == worker_id))
        stmt = pg_insert(t).values(person_id=member_id, person_kind="FAMILY_MEMBER", worker_id=worker_id,
                                   village_code=village_code, version=version, minor=minor)  # fmt: skip
        await self._conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.c.person_id]))

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, KnownPerson]:
        if not ids:
            return {}
        rows = await self._conn.execute(select(t).where(t.c.person_id.in_(ids)))
        return {
            r.person_id: KnownPerson(r.person_id, r.person_kind, r.worker_id, r.village_code, r.minor) for r in rows
        }
