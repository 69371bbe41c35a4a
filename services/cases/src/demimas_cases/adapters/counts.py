"""`totalCount` of a case list from `case_counts` (migration 0002: counts per region level, agency, status, kind
and phase, kept by a trigger on `cases`), instead of counting the rows the list's conditions match.

A count is read from the table when the list's conditions are all counted there: the caller's region and the
filter's `regionPrefix` (whole Kemendagri codes: a province, regency, district or village), status, kind and phase,
and the caller's visibility (every case of the region for KP2MI, BP3MI and DISNAKER, agency ''; the cases referred
to it for any other agency). `assignedTo`, `overdue` and the overdue lists depend on more than that (holders, the
time now): they are counted by rows (`CaseRepository.count_rows`), as are region codes of any other shape."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Column, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import BIGINT
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.tables import CODE, SCHEMA
from demimas_cases.domain.permissions import READ, WRITE, sees_all_in_region
from demimas_common.auth.principal import Principal, region_covers

__all__ = ["ALL_AGENCIES", "NOTHING", "CountKey", "case_counts", "count_key", "counted"]

case_counts = Table(
    "case_counts",
    MetaData(schema=SCHEMA),
    Column("region", CODE, primary_key=True),
    Column("agency", Text, primary_key=True),
    Column("status", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("phase", Text, primary_key=True),
    Column("n", BIGINT, nullable=False),
)
ALL_AGENCIES = ""
"""The `agency` of the rows that count every case (the other rows count the cases referred to that agency)."""
_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
NOTHING = "nothing"
"""`count_key`'s answer when the caller sees no case of the list (no scope, or regions that do not meet)."""


@dataclass(frozen=True)
class CountKey:
    region: str  # '' for the whole country
    agency: str
    status: str | None
    kind: str | None
    phase: str | None


def _narrower(a: str | None, b: str | None) -> str | bool | None:
    """The region inside both (None: the whole country), or False when they do not meet."""
    if a is None:
        return b
    if b is None:
        return a
    if region_covers(a, b):
        return b
    if region_covers(b, a):
        return a
    return False


def count_key(
    principal: Principal,
    *,
    region_prefix: str | None,
    status: str | None,
    kind: str | None,
    phase: str | None,
) -> CountKey | str | None:
    """Where the count of such a list is kept; NOTHING when it is 0 whatever the data; None when the table does
    not hold it (count the rows)."""
    if not (principal.has_scope(READ) or principal.has_scope(WRITE)):
        return NOTHING
    regions = [r or None for r in (principal.region, region_prefix)]
    if any(r is not None and not _CODE.match(r) for r in regions):
        return None
    region = _narrower(*regions)
    if region is False:
        return NOTHING
    agency = ALL_AGENCIES if sees_all_in_region(principal) else principal.agency.value
    return CountKey(region if isinstance(region, str) else "", agency, status, kind, phase)


async def counted(conn: AsyncConnection, key: CountKey) -> int:
    t = case_counts.c
    stmt = select(func.coalesce(func.sum(t.n), 0)).where(t.region == key.region, t.agency == key.agency)
    if key.status is not None:
        stmt = stmt.where(t.status == key.status)
    if key.kind is not None:
        stmt = stmt.where(t.kind == key.kind)
    if key.phase is not None:
        stmt = stmt.where(t.phase == key.phase)
    return int(await conn.scalar(stmt) or 0)
