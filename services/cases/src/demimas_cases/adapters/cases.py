"""Cases in PostgreSQL: a case is its row, its content, its people and its referrals; every change appends a step
(who held the case when). Lists read ids by keyset in (village code, id) order under the caller's visibility
(`visible_to`, the SQL side of domain/permissions.py `sees`), then load the cases by id."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Uuid, and_, any_, exists, false, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.counts import NOTHING, CountKey, count_key, counted
from demimas_cases.adapters.tables import case_content, case_people, case_steps, cases, referrals
from demimas_cases.domain.case import (
    ACTIVE,
    REFERABLE,
    Case,
    OverdueItem,
    Person,
    Referral,
    Reporter,
    holders,
    next_due,
)
from demimas_cases.domain.permissions import READ, WRITE, sees_all_in_region
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    OverdueKind,
    PersonRole,
    ReferralStatus,
    Sex,
)
from demimas_common.auth.principal import Principal
from demimas_common.db.keyset import in_region_range, village_page

__all__ = ["CaseFilter", "CaseRepository", "DueItem", "Step", "visible_to"]

_ACTIVE = [s.value for s in ACTIVE]


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    kind: CaseKind | None = None
    phase: CasePhase | None = None
    region_prefix: str | None = None
    assigned_to: str | None = None
    overdue: bool | None = None
    village_code: str | None = None


@dataclass(frozen=True)
class Step:
    version: int
    step: str
    at: dt.datetime
    agency: str
    status: CaseStatus
    holders: tuple[str, ...]


def visible_to(principal: Principal) -> list[ColumnElement[bool]]:
    """The cases `principal` may see (domain/permissions.py `sees`), as conditions on `cases`."""
    c = cases.c
    if not (principal.has_scope(READ) or principal.has_scope(WRITE)):
        return [false()]
    conditions = [in_region_range(c.village_code, principal.region)]
    if not sees_all_in_region(principal):
        conditions.append(c.referred_to.contains([principal.agency.value]))
    return conditions


def _filter(f: CaseFilter, now: dt.datetime) -> list[ColumnElement[bool]]:
    c = cases.c
    out: list[ColumnElement[bool]] = []
    if f.status is not None:
        out.append(c.status == f.status.value)
    if f.kind is not None:
        out.append(c.kind == f.kind.value)
    if f.phase is not None:
        out.append(c.phase == f.phase.value)
    if f.region_prefix:
        out.append(in_region_range(c.village_code, f.region_prefix))
    if f.village_code is not None:
        out.append(c.village_code == f.village_code)
    if f.assigned_to is not None:
        out.append(c.holders.contains([f.assigned_to]))
    if f.overdue is True:
        out.append(c.next_due_at < now)
    elif f.overdue is False:
        out.append(or_(c.next_due_at.is_(None), c.next_due_at >= now))
    return out


def overdue_held_by(agency: str, now: dt.datetime) -> ColumnElement[bool]:
    """Cases with an overdue item `agency` holds: the triage or the resolution of a case it owns, or the answer
    to a referral it receives (or, to a legal aid organisation, made)."""
    c, r = cases.c, referrals.c
    own = and_(
        c.owner_agency == agency,
        or_(and_(c.status == "OPEN", c.triage_due_at < now), and_(c.status.in_(_ACTIVE), c.resolution_due_at < now)),
    )
    answer = exists().where(
        r.case_id == c.id,
        r.status == "PENDING",
        r.due_at < now,
        func.coalesce(r.to_agency, r.referred_by) == agency,
    )
    return and_(c.next_due_at < now, or_(own, answer))


def _among(column: ColumnElement[uuid.UUID], ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """`column = ANY($1)` with the ids as one array parameter: one statement (prepared once) for any number of ids,
    where `IN` would render a parameter per id (a statement per page size, thousands of parameters per sweep)."""
    return column == any_(literal(list(ids), ARRAY(Uuid)))


@dataclass(frozen=True)
class DueItem:
    """An overdue item the sweep escalates, with the case's columns its event names (domain/events.py
    `CaseHead`). `running` is whether its clock still runs (domain/case.py `_clock_items`): a pending referral of
    a case that can no longer be referred (resolved, closed) has no running clock; it is marked, not escalated."""

    id: uuid.UUID
    village_code: str
    kind: CaseKind
    phase: CasePhase
    status: CaseStatus
    owner_agency: str
    confidentiality: Confidentiality
    version: int
    item: OverdueItem

    @property
    def running(self) -> bool:
        return self.item.kind is not OverdueKind.REFERRAL_RESPONSE or self.status in REFERABLE


def _due(
    row: Any, kind: OverdueKind, due_at: dt.datetime, held_by: str, referral_id: uuid.UUID | None = None
) -> DueItem:
    return DueItem(
        id=row.id, village_code=row.village_code, kind=CaseKind(row.kind), phase=CasePhase(row.phase),
        status=CaseStatus(row.status), owner_agency=row.owner_agency,
        confidentiality=Confidentiality(row.confidentiality), version=row.version,
        item=OverdueItem(kind, due_at, held_by, referral_id),
    )  # fmt: skip


def _row(case: Case) -> dict[str, Any]:
    return {
        "village_code": case.village_code,
        "kind": case.kind.value,
        "phase": case.phase.value,
        "channel": case.channel.value,
        "destination_country": case.destination_country,
        "owner_agency": case.owner_agency,
        "opened_by": case.opened_by,
        "confidentiality": case.confidentiality.value,
        "status": case.status.value,
        "version": case.version,
        "opened_at": case.opened_at,
        "triage_due_at": case.triage_due_at,
        "resolution_due_at": case.resolution_due_at,
        "triaged_at": case.triaged_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "triage_escalated_at": case.triage_escalated_at,
        "resolution_escalated_at": case.resolution_escalated_at,
        "next_due_at": next_due(case),
        "referred_to": list(case.referred_to),
        "holders": list(holders(case)),
    }


def _referral_row(case_id: uuid.UUID, seq: int, r: Referral) -> dict[str, Any]:
    return {
        "id": r.id,
        "case_id": case_id,
        "seq": seq,
        "to_agency": r.to_agency,
        "legal_aid_organisation_id": r.legal_aid_organisation_id,
        "reason": r.reason,
        "referred_by": r.referred_by,
        "referred_at": r.referred_at,
        "due_at": r.due_at,
        "status": r.status.value,
        "responded_at": r.responded_at,
        "responded_by": r.responded_by,
        "decline_reason": r.decline_reason,
        "outcome": r.outcome,
        "outcome_at": r.outcome_at,
        "escalated_at": r.escalated_at,
    }


def _reporter(r: Reporter) -> dict[str, Any]:
    return {"anonymous": r.anonymous, "name": r.name, "contact": r.contact, "relation": r.relation}


class CaseRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, case: Case, *, step: str, agency: str) -> None:
        await self._conn.execute(cases.insert().values(id=case.id, **_row(case)))
        await self._conn.execute(
            case_content.insert().values(
                case_id=case.id, description=case.description, reporter=_reporter(case.reporter), resolution=None
            )
        )
        if case.people:
            await self._conn.execute(
                case_people.insert(),
                [
                    {"case_id": case.id, "seq": i, "role": p.role.value, "person_id": p.id, "name": p.name,
                     "sex": p.sex.value if p.sex else None, "birth_year": p.birth_year, "minor": p.minor}
                    for i, p in enumerate(case.people)
                ],
            )  # fmt: skip
        await self._step(case, step, agency, case.opened_at)

    async def save(self, case: Case, *, step: str, agency: str, at: dt.datetime) -> None:
        """The case as a change left it (row, resolution, referrals), and the step that records the change."""
        await self._conn.execute(update(cases).where(cases.c.id == case.id).values(**_row(case)))
        await self._conn.execute(
            update(case_content).where(case_content.c.case_id == case.id).values(resolution=case.resolution)
        )
        rows = [_referral_row(case.id, i, r) for i, r in enumerate(case.referrals)]
        if rows:
            stmt = pg_insert(referrals).values(rows)
            keep = {k: stmt.excluded[k] for k in rows[0] if k not in ("id", "case_id", "seq")}
            await self._conn.execute(stmt.on_conflict_do_update(index_elements=[referrals.c.id], set_=keep))
        await self._step(case, step, agency, at)

    async def _step(self, case: Case, step: str, agency: str, at: dt.datetime) -> None:
        await self._conn.execute(
            case_steps.insert().values(
                case_id=case.id, version=case.version, step=step, at=at, agency=agency, status=case.status.value,
                holders=list(holders(case)),
            )
        )  # fmt: skip

    async def case_of_referral(self, referral_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._conn.scalar(
            select(referrals.c.case_id).where(referrals.c.id == referral_id)
        )
        return found

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> Case | None:
        found = await self.get_many([case_id], for_update=for_update)
        return found[0] if found else None

    async def get_many(self, ids: Sequence[uuid.UUID], *, for_update: bool = False) -> list[Case]:
        """The cases of `ids` that exist, in the order of `ids`."""
        if not ids:
            return []
        stmt = select(cases).where(_among(cases.c.id, ids))
        if for_update:
            stmt = stmt.with_for_update()
        rows = {r.id: r for r in await self._conn.execute(stmt)}
        return await self.complete([rows[i] for i in ids if i in rows])

    async def complete(self, rows: Sequence[Row[Any]]) -> list[Case]:
        """The cases of these rows of `cases` (a page's, say), in their order, with their content, people and
        referrals: three statements for all of them."""
        if not rows:
            return []
        wanted = [r.id for r in rows]
        content = {r.case_id: r for r in await self._conn.execute(
            select(case_content).where(_among(case_content.c.case_id, wanted)))}  # fmt: skip
        people: dict[uuid.UUID, list[Person]] = {}
        for p in await self._conn.execute(
            select(case_people).where(_among(case_people.c.case_id, wanted)).order_by(case_people.c.seq)
        ):
            people.setdefault(p.case_id, []).append(
                Person(
                    role=PersonRole(p.role),
                    id=p.person_id,
                    name=p.name,
                    sex=Sex(p.sex) if p.sex else None,
                    birth_year=p.birth_year,
                    minor=p.minor,
                )
            )
        refs: dict[uuid.UUID, list[Referral]] = {}
        for r in await self._conn.execute(
            select(referrals).where(_among(referrals.c.case_id, wanted)).order_by(referrals.c.seq)
        ):
            refs.setdefault(r.case_id, []).append(
                Referral(
                    id=r.id, to_agency=r.to_agency, legal_aid_organisation_id=r.legal_aid_organisation_id,
                    reason=r.reason, referred_by=r.referred_by, referred_at=r.referred_at, due_at=r.due_at,
                    status=ReferralStatus(r.status), responded_at=r.responded_at, responded_by=r.responded_by,
                    decline_reason=r.decline_reason, outcome=r.outcome, outcome_at=r.outcome_at,
                    escalated_at=r.escalated_at,
                )
            )  # fmt: skip
        out = []
        for row in rows:
            case_id = row.id
            text = content[case_id]
            out.append(
                Case(
                    id=row.id, kind=CaseKind(row.kind), phase=CasePhase(row.phase), channel=CaseChannel(row.channel),
                    village_code=row.village_code, destination_country=row.destination_country,
                    owner_agency=row.owner_agency, opened_by=row.opened_by,
                    confidentiality=Confidentiality(row.confidentiality), status=CaseStatus(row.status),
                    version=row.version, people=tuple(people.get(case_id, ())),
                    reporter=Reporter(**text.reporter), description=text.description, opened_at=row.opened_at,
                    triage_due_at=row.triage_due_at, resolution_due_at=row.resolution_due_at,
                    triaged_at=row.triaged_at, resolved_at=row.resolved_at, resolution=text.resolution,
                    closed_at=row.closed_at, referrals=tuple(refs.get(case_id, ())),
                    triage_escalated_at=row.triage_escalated_at, resolution_escalated_at=row.resolution_escalated_at,
                )
            )  # fmt: skip
        return out

    async def page(
        self,
        principal: Principal,
        f: CaseFilter,
        *,
        now: dt.datetime,
        first: int,
        after: tuple[str, uuid.UUID] | None,
        overdue_for: str | None = None,
    ) -> tuple[list[uuid.UUID], bool]:
        """The ids of a page of the list (`page_rows` gives the rows)."""
        rows, more = await self.page_rows(principal, f, now=now, first=first, after=after, overdue_for=overdue_for)
        return [r.id for r in rows], more

    async def page_rows(
        self,
        principal: Principal,
        f: CaseFilter,
        *,
        now: dt.datetime,
        first: int,
        after: tuple[str, uuid.UUID] | None,
        overdue_for: str | None = None,
    ) -> tuple[list[Row[Any]], bool]:
        """A page of the list as rows of `cases`, in one statement: what a list shows of a case is there (its
        holders and next due time are columns); `complete` adds content, people and referrals when needed."""
        where = [*visible_to(principal), *_filter(f, now)]
        if overdue_for is not None:
            where.append(overdue_held_by(overdue_for, now))
        return await village_page(self._conn, cases, where, first=first, after=after)

    async def count(
        self, principal: Principal, f: CaseFilter, *, now: dt.datetime, overdue_for: str | None = None
    ) -> int:
        """How many cases the list has: from `case_counts` when its conditions are counted there
        (adapters/counts.py), else by counting the rows (`count_rows`)."""
        if overdue_for is None and f.assigned_to is None and f.overdue is None and f.village_code is None:
            key = count_key(
                principal,
                region_prefix=f.region_prefix,
                status=f.status.value if f.status else None,
                kind=f.kind.value if f.kind else None,
                phase=f.phase.value if f.phase else None,
            )
            if key == NOTHING:
                return 0
            if isinstance(key, CountKey):
                return await counted(self._conn, key)
        return await self.count_rows(principal, f, now=now, overdue_for=overdue_for)

    async def count_rows(
        self, principal: Principal, f: CaseFilter, *, now: dt.datetime, overdue_for: str | None = None
    ) -> int:
        """The count by the rows the list's conditions match."""
        where = [*visible_to(principal), *_filter(f, now)]
        if overdue_for is not None:
            where.append(overdue_held_by(overdue_for, now))
        return int(await self._conn.scalar(select(func.count()).select_from(cases).where(and_(true(), *where))) or 0)

    async def of_people(
        self, principal: Principal, person_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Per person, the ids of the cases that concern them and that `principal` may see (oldest first)."""
        stmt = (
            select(case_people.c.person_id, cases.c.id)
            .join(cases, cases.c.id == case_people.c.case_id)
            .where(case_people.c.person_id.in_(person_ids), *visible_to(principal))
            .order_by(cases.c.opened_at, cases.c.id)
        )
        out: dict[uuid.UUID, list[uuid.UUID]] = {}
        for person_id, case_id in await self._conn.execute(stmt):
            out.setdefault(person_id, []).append(case_id)
        return out

    async def steps(self, case_id: uuid.UUID) -> list[Step]:
        rows = await self._conn.execute(
            select(case_steps).where(case_steps.c.case_id == case_id).order_by(case_steps.c.version)
        )
        return [Step(r.version, r.step, r.at, r.agency, CaseStatus(r.status), tuple(r.holders)) for r in rows]

    async def village_of(self, case_id: uuid.UUID) -> str | None:
        found: str | None = await self._conn.scalar(select(cases.c.village_code).where(cases.c.id == case_id))
        return found

    async def escalate(self, now: dt.datetime, limit: int) -> list[DueItem]:
        """Up to `limit` overdue items not yet escalated, marked escalated at `now`, with what their escalation
        event says of the case and no more (not its content, people or referrals). One statement per item kind
        finds, locks and marks its items (`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`:
        two replicas share the work, never escalate one item twice); the caller writes the events in the same
        transaction, so a crash before the commit leaves the items to the next run."""
        c, r = cases.c, referrals.c
        head = (c.id, c.village_code, c.kind, c.phase, c.status, c.owner_agency, c.confidentiality, c.version)

        def pick(column: Any, *where: ColumnElement[bool], n: int) -> Any:
            return select(column).where(*where).limit(n).with_for_update(skip_locked=True)

        triage = (
            update(cases)
            .where(c.id.in_(pick(c.id, c.status == "OPEN", c.triage_escalated_at.is_(None), c.triage_due_at < now,
                                 n=limit)))
            .values(triage_escalated_at=now)
            .returning(*head, c.triage_due_at)
        )  # fmt: skip
        found = [_due(row, OverdueKind.TRIAGE, row.triage_due_at, row.owner_agency) for row in
                 await self._conn.execute(triage)]  # fmt: skip
        if len(found) < limit:
            resolution = (
                update(cases)
                .where(c.id.in_(pick(c.id, c.status.in_(_ACTIVE), c.resolution_escalated_at.is_(None),
                                     c.resolution_due_at < now, n=limit - len(found))))
                .values(resolution_escalated_at=now)
                .returning(*head, c.resolution_due_at)
            )  # fmt: skip
            found += [_due(row, OverdueKind.RESOLUTION, row.resolution_due_at, row.owner_agency) for row in
                      await self._conn.execute(resolution)]  # fmt: skip
        if len(found) < limit:
            answer = (
                update(referrals)
                .where(r.id.in_(pick(r.id, r.status == "PENDING", r.escalated_at.is_(None), r.due_at < now,
                                     n=limit - len(found))), r.case_id == c.id)
                .values(escalated_at=now)
                .returning(*head, r.id.label("referral_id"), r.due_at,
                           func.coalesce(r.to_agency, r.referred_by).label("answering"))
            )  # fmt: skip
            found += [_due(row, OverdueKind.REFERRAL_RESPONSE, row.due_at, row.answering, row.referral_id) for row in
                      await self._conn.execute(answer)]  # fmt: skip
        return found
