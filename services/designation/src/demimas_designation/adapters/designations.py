"""Designations in PostgreSQL: insert, load (by id or the village's current one), save with optimistic concurrency."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_designation.adapters.tables import designation_transitions, designations
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Decree, Transition
from demimas_designation.domain.vocabulary import DesignationStatus, Programme

__all__ = ["current_designation", "current_designations", "insert_designation", "load_designation", "save_designation"]


async def insert_designation(conn: AsyncConnection, d: Designation) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(designations).values(
                    id=d.id,
                    village_code=d.village_code,
                    decree_number=d.decree.number,
                    decree_date=d.decree.date,
                    programme=d.programme.value,
                    proposal_id=d.proposal_id,
                    status=d.status.value,
                    version=d.version,
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"village {d.village_code} is designated already", field="villageCode",
                       reason="already_designated") from exc  # fmt: skip
    await _append(conn, d, start=0)


async def _append(conn: AsyncConnection, d: Designation, *, start: int) -> None:
    rows = [
        {
            "designation_id": d.id,
            "seq": seq,
            "status": t.status.value,
            "at": t.at,
            "agency": t.agency,
            "sub": t.sub,
            "reason": t.reason,
        }
        for seq, t in enumerate(d.history)
        if seq >= start
    ]
    if rows:
        await conn.execute(insert(designation_transitions), rows)


async def _load(conn: AsyncConnection, where: object, *, for_update: bool = False) -> Designation | None:
    query = select(designations).where(where)  # type: ignore[arg-type]
    row = (await conn.execute(query.with_for_update() if for_update else query)).mappings().first()
    if row is None:
        return None
    history = await conn.execute(
        select(designation_transitions)
        .where(designation_transitions.c.designation_id == row["id"])
        .order_by(designation_transitions.c.seq)
    )
    return Designation(
        id=row["id"],
        village_code=row["village_code"],
        decree=Decree(row["decree_number"], row["decree_date"]),
        programme=Programme(row["programme"]),
        proposal_id=row["proposal_id"],
        status=DesignationStatus(row["status"]),
        history=[
            Transition(DesignationStatus(r["status"]), r["at"], r["agency"], r["sub"], r["reason"])
            for r in history.mappings().all()
        ],
        version=row["version"],
    )


async def load_designation(
    conn: AsyncConnection, designation_id: uuid.UUID, *, for_update: bool = False
) -> Designation:
    found = await _load(conn, designations.c.id == designation_id, for_update=for_update)
    if found is None:
        raise NotFound(f"no designation {designation_id}", field="id")
    return found


async def current_designation(conn: AsyncConnection, village_code: str) -> Designation | None:
    return await _load(conn, (designations.c.village_code == village_code) & (designations.c.status != "REVOKED"))


async def current_designations(conn: AsyncConnection, village_codes: list[str]) -> dict[str, Designation]:
    """The current designation of each of many villages, in two statements (for a page of villages at once)."""
    rows = (
        (
            await conn.execute(
                select(designations).where(
                    designations.c.village_code.in_(village_codes), designations.c.status != "REVOKED"
                )
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return {}
    steps = await conn.execute(
        select(designation_transitions)
        .where(designation_transitions.c.designation_id.in_([r["id"] for r in rows]))
        .order_by(designation_transitions.c.designation_id, designation_transitions.c.seq)
    )
    history: dict[uuid.UUID, list[Transition]] = {}
    for r in steps.mappings():
        history.setdefault(r["designation_id"], []).append(
            Transition(DesignationStatus(r["status"]), r["at"], r["agency"], r["sub"], r["reason"])
        )
    return {
        row["village_code"]: Designation(
            id=row["id"],
            village_code=row["village_code"],
            decree=Decree(row["decree_number"], row["decree_date"]),
            programme=Programme(row["programme"]),
            proposal_id=row["proposal_id"],
            status=DesignationStatus(row["status"]),
            history=history.get(row["id"], []),
            version=row["version"],
        )
        for row in rows
    }


async def save_designation(conn: AsyncConnection, d: Designation, *, loaded_version: int, known: int) -> None:
    result = await conn.execute(
        update(designations)
        .where(designations.c.id == d.id, designations.c.version == loaded_version)
        .values(status=d.status.value, version=d.version)
    )
    if result.rowcount != 1:
        raise Conflict("the designation changed meanwhile: reload it and try again", reason="stale_version")
    await _append(conn, d, start=known)
