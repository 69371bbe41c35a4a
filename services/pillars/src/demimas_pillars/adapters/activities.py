"""Activities in PostgreSQL: written with their outputs, registered participants and anonymous counts in the
caller's transaction; read back whole, page by page per village (newest first)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import and_, func, insert, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import NotFound
from demimas_pillars.adapters.tables import (
    activities,
    activity_anonymous,
    activity_daily,
    activity_outputs,
    activity_participants,
    output_daily,
    participant_last,
)
from demimas_pillars.domain.activity import Activity, AnonymousCount
from demimas_pillars.domain.vocabulary import (
    OutputKind,
    ParticipantGroup,
    PersonKind,
    ServicePillar,
    Sex,
    ThematicProgramme,
)

__all__ = ["ActivityRepository"]


class ActivityRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, a: Activity) -> None:
        await self._conn.execute(
            insert(activities).values(
                id=a.id,
                village_code=a.village_code,
                pillar=a.pillar.value,
                title=a.title.strip(),
                description=a.description,
                occurred_on=a.occurred_on,
                agency=a.agency,
                programme=a.programme.value if a.programme else None,
                recorded_by=a.recorded_by,
                recorded_at=a.recorded_at,
                people_reached=a.people_reached,
                anonymous_reached=sum(c.count for c in a.anonymous),
            )
        )
        same = {"village_code": a.village_code, "pillar": a.pillar.value, "occurred_on": a.occurred_on}
        if a.outputs:
            rows = [{"activity_id": a.id, "kind": k.value, "value": v, **same} for k, v in a.outputs.items()]
            await self._conn.execute(insert(activity_outputs), rows)
        people = [(i, PersonKind.WORKER) for i in a.worker_ids] + [
            (i, PersonKind.FAMILY_MEMBER) for i in a.family_member_ids
        ]
        if people:
            rows = [{"activity_id": a.id, "person_id": i, "person_kind": k.value, **same} for i, k in people]
            await self._conn.execute(insert(activity_participants), rows)
        if a.anonymous:
            rows = [
                {"activity_id": a.id, "sex": c.sex.value, "grp": c.group.value, "count": c.count} for c in a.anonymous
            ]
            await self._conn.execute(insert(activity_anonymous), rows)
        await self._roll_up(a, [i for i, _ in people])

    async def _roll_up(self, a: Activity, people: list[uuid.UUID]) -> None:
        """The activity's share of its village's progress rollups, in the same transaction."""
        day = {"village_code": a.village_code, "pillar": a.pillar.value, "day": a.occurred_on}
        stmt = pg_insert(activity_daily).values(
            **day, activities=1, anonymous_reached=sum(c.count for c in a.anonymous)
        )
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[activity_daily.c.village_code, activity_daily.c.day, activity_daily.c.pillar],
                set_={
                    "activities": activity_daily.c.activities + 1,
                    "anonymous_reached": activity_daily.c.anonymous_reached + stmt.excluded.anonymous_reached,
                },
            )
        )
        for kind, value in sorted(a.outputs.items()):
            out = pg_insert(output_daily).values(**day, kind=kind.value, value=value)
            await self._conn.execute(
                out.on_conflict_do_update(
                    index_elements=[output_daily.c.village_code, output_daily.c.day, output_daily.c.pillar,
                                    output_daily.c.kind],
                    set_={"value": output_daily.c.value + out.excluded.value},
                )
            )  # fmt: skip
        if people:
            last = pg_insert(participant_last).values(
                [{"village_code": a.village_code, "pillar": a.pillar.value, "person_id": p, "last_on": a.occurred_on}
                 for p in sorted(people)]
            )  # fmt: skip
            await self._conn.execute(
                last.on_conflict_do_update(
                    index_elements=[participant_last.c.village_code, participant_last.c.pillar,
                                    participant_last.c.person_id],
                    set_={"last_on": func.greatest(participant_last.c.last_on, last.excluded.last_on)},
                )
            )  # fmt: skip

    async def get_many(self, ids: list[uuid.UUID]) -> list[Activity]:
        """The activities of `ids`, in that order (NotFound for an unknown id)."""
        if not ids:
            return []
        rows = {r.id: r for r in await self._conn.execute(select(activities).where(activities.c.id.in_(ids)))}
        outputs: dict[uuid.UUID, dict[OutputKind, int]] = defaultdict(dict)
        for r in await self._conn.execute(select(activity_outputs).where(activity_outputs.c.activity_id.in_(ids))):
            outputs[r.activity_id][OutputKind(r.kind)] = r.value
        workers: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        family: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for r in await self._conn.execute(
            select(
                activity_participants.c.activity_id,
                activity_participants.c.person_id,
                activity_participants.c.person_kind,
            ).where(activity_participants.c.activity_id.in_(ids))
        ):
            (workers if r.person_kind == PersonKind.WORKER.value else family)[r.activity_id].append(r.person_id)
        anonymous: dict[uuid.UUID, list[AnonymousCount]] = defaultdict(list)
        for r in await self._conn.execute(select(activity_anonymous).where(activity_anonymous.c.activity_id.in_(ids))):
            anonymous[r.activity_id].append(AnonymousCount(Sex(r.sex), ParticipantGroup(r.grp), r._mapping["count"]))
        found = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                raise NotFound(f"no activity {i}", field="id")
            found.append(
                Activity(
                    id=row.id,
                    village_code=row.village_code,
                    pillar=ServicePillar(row.pillar),
                    title=row.title,
                    occurred_on=row.occurred_on,
                    agency=row.agency,
                    recorded_by=row.recorded_by,
                    recorded_at=row.recorded_at,
                    programme=ThematicProgramme(row.programme) if row.programme else None,
                    description=row.description,
                    worker_ids=tuple(sorted(workers[i])),
                    family_member_ids=tuple(sorted(family[i])),
                    anonymous=tuple(sorted(anonymous[i], key=lambda c: (c.sex, c.group))),
                    outputs=outputs[i],
                )
            )
        return found

    async def village_count(self, village_code: str, *, pillar: ServicePillar | None) -> int:
        """How many activities a village has (with the pillar): one `count(*)`, run only for `totalCount`."""
        t = activities
        where = [t.c.village_code == village_code]
        if pillar is not None:
            where.append(t.c.pillar == pillar.value)
        return int((await self._conn.execute(select(func.count()).select_from(t).where(*where))).scalar_one())

    async def village_page(
        self,
        village_code: str,
        *,
        pillar: ServicePillar | None,
        first: int,
        after: tuple[dt.date, uuid.UUID] | None,
    ) -> tuple[list[uuid.UUID], bool]:
        """Ids of a village's activities, newest first (keyset on date and id), and whether more follow."""
        t = activities
        where = [t.c.village_code == village_code]
        if pillar is not None:
            where.append(t.c.pillar == pillar.value)
        if after is not None:
            day, last = after
            where.append(or_(t.c.occurred_on < day, and_(t.c.occurred_on == day, t.c.id < last)))
        stmt = (
            select(t.c.id).where(and_(true(), *where)).order_by(t.c.occurred_on.desc(), t.c.id.desc()).limit(first + 1)
        )
        ids = [r[0] for r in await self._conn.execute(stmt)]
        return ids[:first], len(ids) > first
