"""Read queries: designations and proposals page by page (keyset on village code and id), and the summary the
ministry quotes ("70 villages in 16 provinces")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db.keyset import in_region, village_id_page
from demimas_designation.adapters.tables import designations, proposals

__all__ = ["Summary", "designation_count", "designation_page", "proposal_count", "proposal_page", "summary"]


async def _page(
    conn: AsyncConnection,
    table: Table,
    where: list[ColumnElement[bool]],
    *,
    region: str | None,
    caller_region: str | None,
    first: int,
    after: tuple[str, uuid.UUID] | None,
) -> tuple[list[uuid.UUID], bool]:
    """One page of ids ordered by (village code, id), keyset after the cursor's pair; and whether more follow."""
    where = [*where, in_region(table.c.village_code, region), in_region(table.c.village_code, caller_region)]
    return await village_id_page(conn, table, where, first=first, after=after)


async def _count(
    conn: AsyncConnection,
    table: Table,
    where: list[ColumnElement[bool]],
    *,
    region: str | None,
    caller_region: str | None,
) -> int:
    """How many rows the whole list has under the same conditions as its pages (one `count(*)` on the index of
    village codes: `totalCount` costs a count, so it runs only when selected)."""
    where = [*where, in_region(table.c.village_code, region), in_region(table.c.village_code, caller_region)]
    return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


def _designation_where(status: str | None, programme: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(designations.c.status == status)
    if programme:
        where.append(designations.c.programme == programme)
    return where


async def designation_count(
    conn: AsyncConnection, *, status: str | None, region: str | None, caller_region: str | None, programme: str | None
) -> int:
    return await _count(conn, designations, _designation_where(status, programme), region=region,
                        caller_region=caller_region)  # fmt: skip


async def proposal_count(
    conn: AsyncConnection, *, status: str | None, region: str | None, caller_region: str | None
) -> int:
    where = [proposals.c.status == status] if status else []
    return await _count(conn, proposals, where, region=region, caller_region=caller_region)


async def designation_page(
    conn: AsyncConnection,
    *,
    status: str | None,
    region: str | None,
    caller_region: str | None,
    programme: str | None,
    first: int,
    after: tuple[str, uuid.UUID] | None,
) -> tuple[list[uuid.UUID], bool]:
    where = _designation_where(status, programme)
    return await _page(conn, designations, where, region=region, caller_region=caller_region, first=first,
                       after=after)  # fmt: skip


async def proposal_page(
    conn: AsyncConnection,
    *,
    status: str | None,
    region: str | None,
    caller_region: str | None,
    first: int,
    after: tuple[str, uuid.UUID] | None,
) -> tuple[list[uuid.UUID], bool]:
    where = [proposals.c.status == status] if status else []
    return await _page(conn, proposals, where, region=region, caller_region=caller_region, first=first, after=after)


@dataclass(frozen=True)
class Summary:
    villages: int
    provinces: int
    regencies: int
    by_status: dict[str, int]


async def summary(conn: AsyncConnection, region: str | None, caller_region: str | None) -> Summary:
    t = designations
    scope = and_(in_region(t.c.village_code, region), in_region(t.c.village_code, caller_region))
    current = and_(scope, t.c.status != "REVOKED")
    row = (
        await conn.execute(
            select(
                func.count(),
                func.count(func.distinct(func.substr(t.c.village_code, 1, 2))),
                func.count(func.distinct(func.substr(t.c.village_code, 1, 5))),
            ).where(current)
        )
    ).one()
    grouped = await conn.execute(select(t.c.status, func.count()).where(scope).group_by(t.c.status))
    by_status: dict[str, int] = {str(status): int(n) for status, n in grouped.all()}
    return Summary(villages=row[0], provinces=row[1], regencies=row[2], by_status=by_status)
