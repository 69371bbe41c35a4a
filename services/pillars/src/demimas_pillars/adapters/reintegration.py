"""The reintegration queue in PostgreSQL: returnees in the order they came back, moved on by offices and by
REINTEGRATION activities, and fed by the `people` projection (domain/people.py says when)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, delete, func, select, true, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import NotFound
from demimas_pillars.adapters.tables import reintegration_queue
from demimas_pillars.domain.enrolment import QueueEntry
from demimas_pillars.domain.people import EnterQueue
from demimas_pillars.domain.vocabulary import ReintegrationStatus

__all__ = ["ReintegrationQueueRepository"]


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


class ReintegrationQueueRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def count(self, village_code: str, *, status: ReintegrationStatus | None) -> int:
        """How many returnees a village's queue has (with the status): one `count(*)`, run only for `totalCount`."""
        q = reintegration_queue
        where = [q.c.village_code == village_code]
        if status:
            where.append(q.c.status == status.value)
        return int((await self._conn.execute(select(func.count()).select_from(q).where(*where))).scalar_one())

    async def page(
        self,
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
        entries = [_entry(r) for r in await self._conn.execute(stmt)]
        return entries[:first], len(entries) > first

    async def latest(self, worker_id: uuid.UUID) -> QueueEntry:
        """The worker's latest return in the queue, locked."""
        q = reintegration_queue
        row = (
            await self._conn.execute(
                select(q)
                .where(q.c.worker_id == worker_id)
                .order_by(q.c.return_version.desc())
                .limit(1)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("this worker is not in the reintegration queue", field="workerId")
        return _entry(row)

    async def save(self, e: QueueEntry, by: str) -> None:
        q = reintegration_queue
        await self._conn.execute(
            update(q)
            .where(and_(q.c.worker_id == e.worker_id, q.c.return_version == e.return_version))
            .values(status=e.status.value, updated_at=e.updated_at, updated_by=by, note=e.note)
        )

    async def start(self, worker_ids: list[uuid.UUID], at: dt.datetime, by: str) -> int:
        """A REINTEGRATION activity with waiting returnees moves them to IN_PROGRESS; returns how many moved."""
        if not worker_ids:
            return 0
        q = reintegration_queue
        done = await self._conn.execute(
            update(q)
            .where(and_(q.c.worker_id.in_(worker_ids), q.c.status == ReintegrationStatus.WAITING.value))
            .values(status=ReintegrationStatus.IN_PROGRESS.value, updated_at=at, updated_by=by)
        )
        return int(done.rowcount)

    async def enter(self, e: EnterQueue) -> None:
        """A WAITING return; nothing if this return (worker, version) is in the queue already."""
        await self._conn.execute(
            insert(reintegration_queue)
            .values(worker_id=e.worker_id, return_version=e.return_version, village_code=e.village_code,
                    returned_at=e.at, status=ReintegrationStatus.WAITING.value, updated_at=e.at)
            .on_conflict_do_nothing()
        )  # fmt: skip

    async def drop_waiting_before(self, worker_id: uuid.UUID, version: int) -> None:
        q = reintegration_queue.c
        await self._conn.execute(
            delete(reintegration_queue).where(
                and_(q.worker_id == worker_id, q.return_version < version, q.status == ReintegrationStatus.WAITING)
            )
        )

    async def move(self, worker_id: uuid.UUID, village_code: str) -> None:
        await self._conn.execute(
            update(reintegration_queue)
            .where(reintegration_queue.c.worker_id == worker_id)
            .values(village_code=village_code)
        )
