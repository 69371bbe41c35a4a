"""What proposals and designations share in PostgreSQL: a row inserted unless a unique index refuses it (one open
proposal, one current designation per village), a save that only succeeds on the version that was read (optimistic
concurrency), and their history of transitions, appended and read in order."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Insert, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict
from demimas_designation.domain.proposal import Transition
from demimas_designation.domain.vocabulary import DesignationStatus, ProposalStatus

__all__ = ["append_transitions", "insert_unless_taken", "save_versioned", "transitions_of"]


async def insert_unless_taken(conn: AsyncConnection, statement: Insert, taken: Conflict) -> None:
    """Insert in a savepoint; a unique-index violation becomes `taken` and leaves the transaction usable."""
    try:
        async with conn.begin_nested():
            await conn.execute(statement)
    except IntegrityError as exc:
        raise taken from exc


async def save_versioned(
    conn: AsyncConnection, table: Table, id: uuid.UUID, loaded_version: int, values: dict[str, Any], what: str
) -> None:
    """Update the row if it is still at the version that was read; a concurrent change is a Conflict."""
    result = await conn.execute(update(table).where(table.c.id == id, table.c.version == loaded_version).values(values))
    if result.rowcount != 1:
        raise Conflict(f"the {what} changed meanwhile: reload it and try again", reason="stale_version")


async def append_transitions(
    conn: AsyncConnection, table: Table, key: str, owner: uuid.UUID, history: Sequence[Transition], *, start: int
) -> None:
    """Store the transitions from `start` on (those before it are stored already); `key` names the owner's column."""
    rows = [
        {key: owner, "seq": seq, "status": t.status.value, "at": t.at, "agency": t.agency, "sub": t.sub,
         "reason": t.reason}
        for seq, t in enumerate(history)
        if seq >= start
    ]  # fmt: skip
    if rows:
        await conn.execute(insert(table), rows)


async def transitions_of(
    conn: AsyncConnection,
    table: Table,
    key: str,
    owners: Iterable[uuid.UUID],
    status: Callable[[str], ProposalStatus | DesignationStatus],
) -> dict[uuid.UUID, list[Transition]]:
    """The history of each owner, in order."""
    owner = table.c[key]
    rows = await conn.execute(select(table).where(owner.in_(list(owners))).order_by(owner, table.c.seq))
    found: dict[uuid.UUID, list[Transition]] = {}
    for r in rows.mappings():
        found.setdefault(r[key], []).append(
            Transition(status(r["status"]), r["at"], r["agency"], r["sub"], r["reason"])
        )
    return found
