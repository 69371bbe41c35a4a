"""The legal aid register in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.tables import legal_aid_organisations as t
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_common.errors import Conflict

__all__ = ["LegalAidRepository"]


def _of(r: object) -> LegalAidOrganisation:
    return LegalAidOrganisation(
        id=r.id,  # type: ignore[attr-defined]
        name=r.name,  # type: ignore[attr-defined]
        accreditation_number=r.accreditation_number,  # type: ignore[attr-defined]
        regions_served=tuple(r.regions_served),  # type: ignore[attr-defined]
        contact=r.contact,  # type: ignore[attr-defined]
        active=r.active,  # type: ignore[attr-defined]
        registered_at=r.registered_at,  # type: ignore[attr-defined]
    )


class LegalAidRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, org: LegalAidOrganisation, by: str) -> None:
        inserted = await self._conn.scalar(
            pg_insert(t)
            .values(id=org.id, name=org.name, accreditation_number=org.accreditation_number,
                    regions_served=list(org.regions_served), contact=org.contact, active=org.active,
                    registered_at=org.registered_at, registered_by=by)
            .on_conflict_do_nothing(index_elements=[t.c.accreditation_number])
            .returning(t.c.id)
        )  # fmt: skip
        if inserted is None:
            raise Conflict(
                f"accreditation number {org.accreditation_number} is already registered",
                field="accreditationNumber",
                reason="already_registered",
            )

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LegalAidOrganisation]:
        if not ids:
            return {}
        return {r.id: _of(r) for r in await self._conn.execute(select(t).where(t.c.id.in_(ids)))}

    async def all(self) -> list[LegalAidOrganisation]:
        return [_of(r) for r in await self._conn.execute(select(t).order_by(t.c.name, t.c.id))]
