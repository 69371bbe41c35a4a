"""The `people` projection: which workers and family members exist (participant ids are checked against it), each
worker's last known village and status (by per-worker version, so redelivered and out-of-order events converge), and
the reintegration queue fed by `demimas.registry.worker.returned`.

A return enters the queue once (keyed by the worker and the event's version). A later departure of the same worker
takes the returns before it that are still WAITING off the queue: the person left again."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.events.envelope import CloudEvent
from demimas_pillars.adapters.tables import people, reintegration_queue
from demimas_pillars.domain.vocabulary import PersonKind, ReintegrationStatus

__all__ = ["apply_people_event", "unknown_people", "villages_of_people"]


async def apply_people_event(conn: AsyncConnection, event: CloudEvent) -> None:
    data = event.data
    if event.type == "demimas.registry.family.added":
        await _family_added(conn, event)
        return
    worker_id = uuid.UUID(str(data["workerId"]))
    version = int(data["version"])
    values = {
        "person_id": worker_id,
        "person_kind": PersonKind.WORKER.value,
        "worker_id": worker_id,
        "village_code": data["villageCode"],
        "status": data["status"],
        "version": version,
    }
    before = await conn.scalar(select(people.c.village_code).where(people.c.person_id == worker_id))
    stmt = insert(people).values(values)
    applied = await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[people.c.person_id],
            set_={k: stmt.excluded[k] for k in ("village_code", "status", "version")},
            where=people.c.version < stmt.excluded.version,
        ).returning(people.c.person_id)
    )
    newest = applied.first() is not None
    if newest and before is not None and before != data["villageCode"]:
        await _moved(conn, worker_id, before, data["villageCode"])
    if event.type == "demimas.registry.worker.returned" and newest:
        await conn.execute(
            insert(reintegration_queue)
            .values(
                worker_id=worker_id,
                return_version=version,
                village_code=data["villageCode"],
                returned_at=event.time,
                status=ReintegrationStatus.WAITING.value,
                updated_at=event.time,
            )
            .on_conflict_do_nothing()
        )
    elif event.type == "demimas.registry.worker.departed" and newest:
        q = reintegration_queue.c
        await conn.execute(
            delete(reintegration_queue).where(
                and_(q.worker_id == worker_id, q.return_version < version, q.status == ReintegrationStatus.WAITING)
            )
        )


async def _moved(conn: AsyncConnection, worker_id: uuid.UUID, before: str, after: str) -> None:
    """A worker who moves takes along the family living with them and their place in the reintegration queue: what
    belongs to a person's village follows the person, so the office they left no longer sees or changes it."""
    await conn.execute(
        update(people)
        .where(and_(people.c.worker_id == worker_id, people.c.person_kind == PersonKind.FAMILY_MEMBER.value,
                    people.c.village_code == before))
        .values(village_code=after)
    )  # fmt: skip
    await conn.execute(
        update(reintegration_queue).where(reintegration_queue.c.worker_id == worker_id).values(village_code=after)
    )


async def _family_added(conn: AsyncConnection, event: CloudEvent) -> None:
    data = event.data
    worker_id = uuid.UUID(str(data["workerId"]))
    village = data.get("villageCode")
    if village is None:  # the family lives with the worker unless the event says otherwise
        village = await conn.scalar(select(people.c.village_code).where(people.c.person_id == worker_id))
    await conn.execute(
        insert(people)
        .values(
            person_id=uuid.UUID(str(data["familyMemberId"])),
            person_kind=PersonKind.FAMILY_MEMBER.value,
            worker_id=worker_id,
            village_code=village,
            version=1,
            minor=bool(data["minor"]),
        )
        .on_conflict_do_nothing()
    )


async def unknown_people(
    conn: AsyncConnection, ids: list[uuid.UUID], kind: PersonKind, *, region: str | None = None
) -> list[uuid.UUID]:
    """The ids among `ids` that the projection does not know as `kind` (within `region`, a caller's: a person
    elsewhere is unknown to it, so that the answer cannot confirm that the person exists)."""
    if not ids:
        return []
    found = and_(people.c.person_id.in_(ids), people.c.person_kind == kind.value)
    if region is not None:
        found = and_(found, or_(people.c.village_code == region, people.c.village_code.startswith(region + ".")))
    rows = await conn.execute(select(people.c.person_id).where(found))
    known = {r[0] for r in rows}
    return [i for i in ids if i not in known]


async def villages_of_people(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The last known village of each person the projection holds (the region rule of `Worker` stubs)."""
    rows = await conn.execute(
        select(people.c.person_id, people.c.village_code).where(
            people.c.person_id.in_(ids), people.c.village_code.is_not(None)
        )
    )
    return {r.person_id: r.village_code for r in rows}
