"""Joint pilot projects in PostgreSQL: written whole, read back whole (partners, milestones, linked activities), and
paged for the tracker by region, partner agency, thematic programme and status."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db.keyset import in_region, village_id_page
from demimas_common.errors import NotFound
from demimas_pillars.adapters.tables import milestones, pilot_activities, pilot_partners, pilots
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.vocabulary import PilotStatus, ThematicProgramme

__all__ = ["PilotRepository"]


class PilotRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, p: Pilot, created_by: str) -> None:
        await self._conn.execute(
            insert(pilots).values(
                id=p.id,
                village_code=p.village_code,
                title=p.title.strip(),
                coordinator=p.coordinator,
                status=p.status.value,
                status_reason=p.status_reason,
                start_date=p.start_date,
                created_at=p.created_at,
                created_by=created_by,
            )
        )
        await self._conn.execute(
            insert(pilot_partners),
            [
                {
                    "pilot_id": p.id,
                    "agency": x.agency,
                    "programme": x.programme.value if x.programme else None,
                    "commitment": x.commitment.strip(),
                }
                for x in p.partners
            ],
        )
        for seq, m in enumerate(p.milestones, start=1):
            await self.add_milestone(p.id, seq, m)

    async def add_milestone(self, pilot_id: uuid.UUID, seq: int, m: Milestone) -> None:
        await self._conn.execute(
            insert(milestones).values(
                id=m.id,
                pilot_id=pilot_id,
                seq=seq,
                title=m.title.strip(),
                due_date=m.due_date,
                responsible_agency=m.responsible_agency,
                completed_on=m.completed_on,
                completed_by=m.completed_by,
            )
        )

    async def next_milestone_seq(self, pilot_id: uuid.UUID) -> int:
        """The sequence number of a milestone added now (the pilot is locked by the caller)."""
        seq = await self._conn.scalar(
            select(func.coalesce(func.max(milestones.c.seq), 0) + 1).where(milestones.c.pilot_id == pilot_id)
        )
        return int(seq or 1)

    async def save_milestone(self, m: Milestone) -> None:
        await self._conn.execute(
            update(milestones)
            .where(milestones.c.id == m.id)
            .values(completed_on=m.completed_on, completed_by=m.completed_by)
        )

    async def save_status(self, p: Pilot) -> None:
        await self._conn.execute(
            update(pilots).where(pilots.c.id == p.id).values(status=p.status.value, status_reason=p.status_reason)
        )

    async def link_activity(self, pilot_id: uuid.UUID, activity_id: uuid.UUID) -> bool:
        """False when the activity was linked already."""
        done = await self._conn.execute(
            pg_insert(pilot_activities).values(pilot_id=pilot_id, activity_id=activity_id).on_conflict_do_nothing()
        )
        return bool(done.rowcount)

    async def get_many(self, ids: list[uuid.UUID], *, for_update: bool = False) -> list[Pilot]:
        if not ids:
            return []
        stmt = select(pilots).where(pilots.c.id.in_(ids))
        rows = {r.id: r for r in await self._conn.execute(stmt.with_for_update() if for_update else stmt)}
        partners: dict[uuid.UUID, list[Partner]] = defaultdict(list)
        for r in await self._conn.execute(
            select(pilot_partners).where(pilot_partners.c.pilot_id.in_(ids)).order_by(pilot_partners.c.agency)
        ):
            programme = ThematicProgramme(r.programme) if r.programme else None
            partners[r.pilot_id].append(Partner(r.agency, programme, r.commitment))
        steps: dict[uuid.UUID, list[Milestone]] = defaultdict(list)
        for r in await self._conn.execute(
            select(milestones).where(milestones.c.pilot_id.in_(ids)).order_by(milestones.c.pilot_id, milestones.c.seq)
        ):
            steps[r.pilot_id].append(
                Milestone(r.id, r.title, r.due_date, r.responsible_agency, r.completed_on, r.completed_by)
            )
        found = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                raise NotFound(f"no pilot project {i}", field="id")
            found.append(
                Pilot(
                    row.id,
                    row.village_code,
                    row.title,
                    row.coordinator,
                    PilotStatus(row.status),
                    row.start_date,
                    tuple(partners[i]),
                    tuple(steps[i]),
                    row.created_at,
                    row.status_reason,
                )
            )
        return found

    async def activity_ids_of(self, pilot_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        rows = await self._conn.execute(
            select(pilot_activities.c.pilot_id, pilot_activities.c.activity_id).where(
                pilot_activities.c.pilot_id.in_(pilot_ids)
            )
        )
        linked: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for pilot_id, activity_id in rows:
            linked[pilot_id].append(activity_id)
        return linked

    async def count(
        self,
        *,
        region: str | None,
        caller_region: str | None,
        agency: str | None,
        programme: ThematicProgramme | None,
        status: PilotStatus | None,
    ) -> int:
        """How many pilots the list has under the same conditions as `page`: one `count(*)`, run only for
        `totalCount`."""
        where = self._where(
            region=region, caller_region=caller_region, agency=agency, programme=programme, status=status, village=None
        )
        return int((await self._conn.execute(select(func.count()).select_from(pilots).where(*where))).scalar_one())

    async def page(
        self,
        *,
        region: str | None,
        caller_region: str | None,
        agency: str | None,
        programme: ThematicProgramme | None,
        status: PilotStatus | None,
        village: str | None,
        first: int,
        after: tuple[str, uuid.UUID] | None,
    ) -> tuple[list[uuid.UUID], bool]:
        """A page of pilot ids ordered by (village code, id); `agency` matches the coordinator or a partner."""
        where = self._where(
            region=region,
            caller_region=caller_region,
            agency=agency,
            programme=programme,
            status=status,
            village=village,
        )
        return await village_id_page(self._conn, pilots, where, first=first, after=after)

    @staticmethod
    def _where(
        *,
        region: str | None,
        caller_region: str | None,
        agency: str | None,
        programme: ThematicProgramme | None,
        status: PilotStatus | None,
        village: str | None,
    ) -> list[ColumnElement[bool]]:
        t = pilots
        where = [in_region(t.c.village_code, region), in_region(t.c.village_code, caller_region)]
        if village:
            where.append(t.c.village_code == village)
        if status:
            where.append(t.c.status == status.value)
        if agency:
            partner = exists().where(and_(pilot_partners.c.pilot_id == t.c.id, pilot_partners.c.agency == agency))
            where.append(or_(t.c.coordinator == agency, partner))
        if programme:
            where.append(
                exists().where(and_(pilot_partners.c.pilot_id == t.c.id, pilot_partners.c.programme == programme.value))
            )
        return where

    async def overdue(
        self, *, agency: str | None, today: dt.date, caller_region: str | None, limit: int
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(pilot id, milestone id) of milestones past due and not completed, of pilots still running, oldest due
        first."""
        m, p = milestones, pilots
        where = [
            m.c.completed_on.is_(None),
            m.c.due_date < today,
            in_region(p.c.village_code, caller_region),
            p.c.status.in_([PilotStatus.PLANNED.value, PilotStatus.ACTIVE.value]),
        ]
        if agency:
            where.append(m.c.responsible_agency == agency)
        stmt = (
            select(m.c.pilot_id, m.c.id)
            .join(p, p.c.id == m.c.pilot_id)
            .where(and_(true(), *where))
            .order_by(m.c.due_date, m.c.id)
            .limit(limit)
        )
        return [(r[0], r[1]) for r in await self._conn.execute(stmt)]
