"""Read helpers the services' adapters share: "inside a region" as SQL, and a page of ids in (village code, id)
order read by keyset (`WHERE (village_code, id) > cursor`, never an OFFSET; see `graphql/pagination.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, and_, literal, or_, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["in_region", "in_region_range", "village_id_page", "village_page"]


def in_region(column: ColumnElement[str], prefix: str | None) -> ColumnElement[bool]:
    """Kemendagri codes equal to `prefix` or inside it ("16.06" holds "16.06.13.2001", not "16.061"); no prefix
    (None or empty): every row. The SQL side of `Principal.require_region`'s rule."""
    if not prefix:
        return literal(True)
    return or_(column == prefix, column.startswith(prefix + "."))


def in_region_range(column: ColumnElement[str], prefix: str | None) -> ColumnElement[bool]:
    """`in_region` as a range, `prefix <= code < prefix + "/"` ("/" follows "." in ASCII), for a `COLLATE "C"`
    column of Kemendagri codes (digits and dots only: then the range holds exactly the prefix and the codes under
    it), so that a B-tree index on the column (or led by equality columns, then the column) scans the region alone.

    The bounds are written into the statement (`literal_execute`), not sent as parameters: a prepared statement's
    generic plan cannot turn `LIKE $1 || '%'` into a range at all (it reads every row before the region in the
    index order), and with the bounds as parameters it cannot tell a village from the whole country, so it may
    collect and sort a whole province to return a page. The prefix must be a validated region code."""
    if not prefix:
        return literal(True)
    return and_(column >= literal(prefix, literal_execute=True), column < literal(prefix + "/", literal_execute=True))


async def village_page(
    conn: AsyncConnection,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    *,
    first: int,
    after: tuple[str, uuid.UUID] | None,
    columns: Sequence[Any] | None = None,
) -> tuple[list[Row[Any]], bool]:
    """Up to `first` of `table`'s rows matching `where` (the `columns` given, else every column), ordered by
    (village_code, id) after the cursor's pair, in one statement; and whether more follow (one row more is read
    to know)."""
    t = table
    conditions = list(where)
    if after:
        conditions.append(tuple_(t.c.village_code, t.c.id) > tuple_(literal(after[0]), literal(after[1])))
    stmt = (
        select(*(columns if columns is not None else [t]))
        .where(and_(true(), *conditions))
        .order_by(t.c.village_code, t.c.id)
        .limit(first + 1)
    )
    rows = list(await conn.execute(stmt))
    return rows[:first], len(rows) > first


async def village_id_page(
    conn: AsyncConnection,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    *,
    first: int,
    after: tuple[str, uuid.UUID] | None,
) -> tuple[list[uuid.UUID], bool]:
    """`village_page` of the ids alone."""
    rows, more = await village_page(conn, table, where, first=first, after=after, columns=[table.c.id])
    return [r[0] for r in rows], more
