"""Joint pilot projects in PostgreSQL: written whole, read back whole (villages, partners, milestones, linked
activities; one statement per part for a whole page of pilots), and paged for the tracker by region (any of a
pilot's villages), partner agency, thematic programme and status."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db.keyset import in_region, village_id_page
from demimas_common.errors import NotFound
from demimas_pillars.adapters.tables import milestones, pilot_activities, pilot_partners, pilot_villages, pilots
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.vocabulary import PilotStatus, ThematicProgramme

__all__ = ["OverdueDue", "PilotRepository"]

RUNNING = (PilotStatus.PLANNED.value, PilotStatus.ACTIVE.value)


def _in_pilot_region(pilot_id: ColumnElement[uuid.UUID], *prefixes: str | None) -> ColumnElement[bool]:
    """One of the pilot's villages lies inside every prefix given (a region filter and the caller's region)."""
    pv = pilot_villages
    return exists().where(and_(pv.c.pilot_id == pilot_id, *(in_region(pv.c.village_code, p) for p in prefixes)))


class OverdueDue(NamedTuple):
    """A milestone the overdue job announces."""

    pilot_id: uuid.UUID
    milestone_id: uuid.UUID
    village_code: str
    """The milestone's village, else the pilot's lead village."""
    responsible_agency: str
    due_date: dt.date


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
        await self._conn.execute(
            insert(pilot_villages),
            [
                {"pilot_id": p.id, "village_code": code, "lead": code == p.village_code, "added_at": p.created_at}
                for code in p.village_codes
            ],
        )
        for seq, m in enumerate(p.milestones, start=1):
            await self.add_milestone(p.id, seq, m)

    async def add_village(self, pilot_id: uuid.UUID, village_code: str, at: dt.datetime) -> None:
        await self._conn.execute(
            insert(pilot_villages).values(pilot_id=pilot_id, village_code=village_code, lead=False, added_at=at)
        )

    async def remove_village(self, pilot_id: uuid.UUID, village_code: str) -> None:
        await self._conn.execute(
            pilot_villages.delete().where(
                pilot_villages.c.pilot_id == pilot_id,
                pilot_villages.c.village_code == village_code,
                pilot_villages.c.lead.is_(False),
            )
        )

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
                village_code=m.village_code,
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
                Milestone(
                    r.id, r.title, r.due_date, r.responsible_agency, r.completed_on, r.completed_by, r.village_code
                )
            )
        others: dict[uuid.UUID, list[str]] = defaultdict(list)
        for pilot_id, code in await self._conn.execute(
            select(pilot_villages.c.pilot_id, pilot_villages.c.village_code)
            .where(pilot_villages.c.pilot_id.in_(ids), pilot_villages.c.lead.is_(False))
            .order_by(pilot_villages.c.pilot_id, pilot_villages.c.village_code)
        ):
            others[pilot_id].append(code)
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
                    tuple(others[i]),
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

    async def lead_of(self, pilot_id: uuid.UUID, *, caller_region: str | None) -> str | None:
        """The lead village of a pilot the caller sees (the position a page's cursor names), else None."""
        stmt = select(pilots.c.village_code).where(pilots.c.id == pilot_id)
        if caller_region:
            stmt = stmt.where(_in_pilot_region(pilots.c.id, caller_region))
        found: str | None = await self._conn.scalar(stmt)
        return found

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
        where: list[ColumnElement[bool]] = []
        if region or caller_region:  # any of the pilot's villages, inside both
            where.append(_in_pilot_region(t.c.id, region, caller_region))
        if village:
            pv = pilot_villages
            where.append(exists().where(and_(pv.c.pilot_id == t.c.id, pv.c.village_code == village)))
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
        where = [m.c.completed_on.is_(None), m.c.due_date < today, p.c.status.in_(RUNNING)]
        if caller_region:  # a milestone's own village, else any of the pilot's (as the GraphQL types show them)
            where.append(
                or_(
                    and_(m.c.village_code.is_not(None), in_region(m.c.village_code, caller_region)),
                    and_(m.c.village_code.is_(None), _in_pilot_region(p.c.id, caller_region)),
                )
            )
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

    async def claim_overdue(self, *, today: dt.date, limit: int) -> list[OverdueDue]:
        """Mark up to `limit` milestones that became overdue and were never announced, and return them: the caller
        writes their events in this transaction. A concurrent claim waits for this one's row locks and then finds
        them marked, so each milestone is claimed once (whatever the number of replicas running the job)."""
        m, p = milestones, pilots
        pending = (
            select(m.c.id)
            .join(p, p.c.id == m.c.pilot_id)
            .where(
                m.c.completed_on.is_(None),
                m.c.overdue_notified_on.is_(None),
                m.c.due_date < today,
                p.c.status.in_(RUNNING),
            )
            .order_by(m.c.due_date, m.c.id)
            .limit(limit)
            .with_for_update(of=m, skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(m)
            .where(m.c.id.in_(pending), m.c.overdue_notified_on.is_(None), m.c.completed_on.is_(None))
            .values(overdue_notified_on=today)
            .returning(m.c.pilot_id, m.c.id, m.c.village_code, m.c.responsible_agency, m.c.due_date)
        )
        claimed = list(await self._conn.execute(stmt))
        leads: dict[uuid.UUID, str] = {}
        if claimed:
            ids = list({r.pilot_id for r in claimed})
            leads = {r.id: r.village_code for r in await self._conn.execute(select(p.c.id, p.c.village_code)
                                                                            .where(p.c.id.in_(ids)))}  # fmt: skip
        found = [
            OverdueDue(r.pilot_id, r.id, r.village_code or leads[r.pilot_id], r.responsible_agency, r.due_date)
            for r in claimed
        ]
        found.sort(key=lambda o: (o.due_date, o.milestone_id))
        return found
