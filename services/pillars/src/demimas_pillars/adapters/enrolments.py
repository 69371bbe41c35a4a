"""Enrolments and the reintegration queue in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import and_, insert, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_pillars.adapters.tables import enrolments, reintegration_queue
from demimas_pillars.domain.enrolment import Enrolment
from demimas_pillars.domain.vocabulary import EnrolmentProgramme, EnrolmentStatus, PersonKind, ReintegrationStatus

__all__ = [
    "QueueEntry",
    "enrolments_of_workers",
    "insert_enrolment",
    "load_enrolment",
    "queue_entry",
    "queue_page",
    "save_enrolment",
    "save_queue_entry",
    "start_reintegration",
]


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


async def insert_enrolment(conn: AsyncConnection, e: Enrolment) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(
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


async def load_enrolment(conn: AsyncConnection, enrolment_id: uuid.UUID, *, for_update: bool = False) -> Enrolment:
    stmt = select(enrolments).where(enrolments.c.id == enrolment_id)
    row = (await conn.execute(stmt.with_for_update() if for_update else stmt)).first()
    if row is None:
        raise NotFound(f"no enrolment {enrolment_id}", field="id")
    return _enrolment(row)


async def save_enrolment(conn: AsyncConnection, e: Enrolment) -> None:
    await conn.execute(
        update(enrolments)
        .where(enrolments.c.id == e.id)
        .values(status=e.status.value, updated_at=e.updated_at, note=e.note)
    )


async def enrolments_of_workers(conn: AsyncConnection, worker_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Enrolment]]:
    """Enrolments of the workers and of their family members, per worker, oldest first."""
    rows = await conn.execute(
        select(enrolments)
        .where(enrolments.c.worker_id.in_(worker_ids))
        .order_by(enrolments.c.enrolled_on, enrolments.c.id)
    )
    found: dict[uuid.UUID, list[Enrolment]] = defaultdict(list)
    for r in rows:
        e = _enrolment(r)
        found[e.worker_id].append(e)
    return found


class QueueEntry:
    def __init__(
        self,
        worker_id: uuid.UUID,
        return_version: int,
        village_code: str,
        returned_at: dt.datetime,
        status: ReintegrationStatus,
        updated_at: dt.datetime,
        note: str | None,
    ) -> None:
        self.worker_id, self.return_version, self.village_code = worker_id, return_version, village_code
        self.returned_at, self.status, self.updated_at, self.note = returned_at, status, updated_at, note


def _entry(r: object) -> QueueEntry:
    g = r._mapping  # type: ignore[attr-defined]
    return QueueEntry(
        g["worker_id"],
        g["return_version"],
        g["village_code"],
        g["returned_at"],
        ReintegrationStatus(g["status"]),
        g["updated_at"],
        g["note"],
    )


async def queue_page(
    conn: AsyncConnection,
    village_code: str,
    *,
    status: ReintegrationStatus | None,
    first: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> tuple[list[QueueEntry], bool]:
    """A village's returnees in the order they came back."""
    q = reintegration_queue
    where = [q.c.village_code == village_code]
    if status:
        where.append(q.c.status == status.value)
    if after:
        where.append(tuple_(q.c.returned_at, q.c.worker_id) > tuple_(after[0], after[1]))
    stmt = select(q).where(and_(true(), *where)).order_by(q.c.returned_at, q.c.worker_id).limit(first + 1)
    entries = [_entry(r) for r in await conn.execute(stmt)]
    return entries[:first], len(entries) > first


async def queue_entry(conn: AsyncConnection, worker_id: uuid.UUID) -> QueueEntry:
    """The worker's latest return in the queue, locked."""
    q = reintegration_queue
    row = (
        await conn.execute(
            select(q).where(q.c.worker_id == worker_id).order_by(q.c.return_version.desc()).limit(1).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("this worker is not in the reintegration queue", field="workerId")
    return _entry(row)


async def save_queue_entry(conn: AsyncConnection, e: QueueEntry, by: str) -> None:
    q = reintegration_queue
    await conn.execute(
        update(q)
        .where(and_(q.c.worker_id == e.worker_id, q.c.return_version == e.return_version))
        .values(status=e.status.value, updated_at=e.updated_at, updated_by=by, note=e.note)
    )


async def start_reintegration(conn: AsyncConnection, worker_ids: list[uuid.UUID], at: dt.datetime, by: str) -> int:
    """A REINTEGRATION activity with waiting returnees moves them to IN_PROGRESS; returns how many moved."""
    if not worker_ids:
        return 0
    q = reintegration_queue
    done = await conn.execute(
        update(q)
        .where(and_(q.c.worker_id.in_(worker_ids), q.c.status == ReintegrationStatus.WAITING.value))
        .values(status=ReintegrationStatus.IN_PROGRESS.value, updated_at=at, updated_by=by)
    )
    return int(done.rowcount)
