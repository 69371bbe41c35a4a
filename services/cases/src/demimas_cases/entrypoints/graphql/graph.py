"""The types of the cases graph that refer to each other: `Case`, the people it concerns (`CasePerson`, naming the
registry's `Worker` and `FamilyMember`, which this subgraph extends with their `cases`), and `Village` (owned by the
registry, extended with its `caseStats`). They live in one module so that imports flow one way.

Every way to a case goes through the caller's visibility (domain/permissions.py `sees`, adapters/cases.py
`visible_to`): `_entities` answers null for the others. Who a case concerns is content: `Worker.cases` (and
`FamilyMember.cases`) lists only the cases whose content the caller may read, through the content gate (purpose,
confidentiality, recorded), and asks what finding the person through the registry asks (registry:read; family:read
for a family member). The people of a case name a registered person only to a caller with those scopes, and only
when the person lives within the caller's region (the region rule of demimas_common.graphql.access, as for every
object): a case heard here may concern a person registered elsewhere."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable
from typing import Any

import strawberry
from sqlalchemy import Row
from strawberry.dataloader import DataLoader

from demimas_cases.adapters.cases import CaseRepository
from demimas_cases.adapters.notes import NoteRepository
from demimas_cases.adapters.people import PeopleRepository
from demimas_cases.adapters.stats import VillageCaseStats, village_stats
from demimas_cases.domain import case as model
from demimas_cases.domain.case import overdue_items
from demimas_cases.domain.permissions import can_read_content, require_content_purpose, sees
from demimas_cases.domain.vocabulary import CaseChannel, CaseKind, CasePhase, CaseStatus, Confidentiality, PersonRole
from demimas_cases.entrypoints.graphql.common import FAMILY, PERSON, READ, STATS, parse_id
from demimas_cases.entrypoints.graphql.context import Ctx
from demimas_cases.entrypoints.graphql.enums import (
    AgencyEnum,
    CaseChannelEnum,
    CaseKindEnum,
    CasePhaseEnum,
    CaseStatusEnum,
    ConfidentialityEnum,
    PersonRoleEnum,
    SexEnum,
)
from demimas_cases.entrypoints.graphql.types import CONTENT, CaseNote, OverdueItem, Referral, Reporter
from demimas_common.auth.principal import Purpose
from demimas_common.graphql.access import ANYWHERE
from demimas_common.graphql.village import VillageKey

__all__ = ["Case", "CasePerson", "CaseStats", "FamilyMember", "Village", "Worker", "cases_of_people"]


async def cases_of_people(info: Ctx, person_id: uuid.UUID, role: PersonRole, field: str) -> list[Case]:
    """The cases concerning a person whose content the caller may read, the read recorded (one query for every
    person of the request)."""
    ctx = info.context
    principal = ctx.require_principal()
    require_content_purpose(principal)  # before anything is looked up: the answer without it is the same for all
    now = ctx.rules.clock()

    async def load(ids: list[uuid.UUID]) -> list[list[Case]]:
        async with ctx.engine.connect() as conn:
            repository = CaseRepository(conn)
            by_person = await repository.of_people(principal, ids)
            found = {c.id: c for c in await repository.get_many([i for v in by_person.values() for i in v])}
        return [[Case.from_domain(found[i], now) for i in by_person.get(p, []) if i in found] for p in ids]

    loader: DataLoader[uuid.UUID, list[Case]] = ctx.loader("cases-of-people", lambda: DataLoader(load))
    visible = await loader.load(person_id)
    whole = [await c.full(info) for c in visible]
    readable = {c.id for c in await ctx.content.cases_of_person(whole, field, person_id, role)}
    return [c for c in visible if parse_id(c.id) in readable]


def person_village(info: Ctx, person_id: uuid.UUID) -> Awaitable[str | None]:
    """Where a registered person lives, as the registry's events made it known here (None: not known, which the
    region rule treats as outside every region)."""
    ctx = info.context

    async def load(ids: list[uuid.UUID]) -> list[str | None]:
        async with ctx.engine.connect() as conn:
            found = await PeopleRepository(conn).get_many(ids)
        return [found[i].village_code if i in found else None for i in ids]

    loader: DataLoader[uuid.UUID, str | None] = ctx.loader("person-villages", lambda: DataLoader(load))
    return loader.load(person_id)


@strawberry.federation.type(keys=["id"], description="A migrant worker (owned by the registry).")
class Worker:
    id: strawberry.ID
    asked_for: strawberry.Private[bool] = False
    """Made from an id the caller sent (`_entities`): echoing it tells the caller nothing, wherever it lives."""

    def region_code(self, info: Ctx) -> str | Awaitable[str | None]:
        return ANYWHERE if self.asked_for else person_village(info, parse_id(self.id))

    @strawberry.federation.field(
        requires_scopes=[PERSON[0] + READ[0]],
        description="Protection cases concerning this worker whose content the caller may read. " + CONTENT,
    )
    async def cases(self, info: Ctx) -> list[Case] | None:
        return await cases_of_people(info, parse_id(self.id), PersonRole.WORKER, "Worker.cases")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Worker:
        return cls(id=id, asked_for=True)


@strawberry.federation.type(keys=["id"], description="A family member of a migrant worker (owned by the registry).")
class FamilyMember:
    id: strawberry.ID
    asked_for: strawberry.Private[bool] = False
    """As `Worker.asked_for`."""

    def region_code(self, info: Ctx) -> str | Awaitable[str | None]:
        return ANYWHERE if self.asked_for else person_village(info, parse_id(self.id))

    @strawberry.federation.field(
        requires_scopes=[FAMILY[0] + READ[0]],
        description="Protection cases concerning this family member whose content the caller may read. " + CONTENT,
    )
    async def cases(self, info: Ctx) -> list[Case] | None:
        return await cases_of_people(info, parse_id(self.id), PersonRole.FAMILY_MEMBER, "FamilyMember.cases")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> FamilyMember:
        return cls(id=id, asked_for=True)


@strawberry.type(description="One person a case concerns: registered (worker or family member) or not.")
class CasePerson:
    role: PersonRoleEnum  # type: ignore[valid-type]
    name: str | None = strawberry.field(description="An unregistered person's name as reported.")
    sex: SexEnum | None  # type: ignore[valid-type]
    birth_year: int | None
    minor: bool
    person_id: strawberry.Private[uuid.UUID | None]

    @strawberry.federation.field(
        requires_scopes=PERSON, description="The registered worker (who it is needs registry:read, as everywhere)."
    )
    def worker(self) -> Worker | None:
        found = self.person_id if self.role is PersonRole.WORKER else None
        return Worker(id=strawberry.ID(str(found))) if found else None

    @strawberry.federation.field(
        requires_scopes=FAMILY,
        description="The registered family member (who it is needs registry:read and family:read, as everywhere).",
    )
    def family_member(self) -> FamilyMember | None:
        found = self.person_id if self.role is PersonRole.FAMILY_MEMBER else None
        return FamilyMember(id=strawberry.ID(str(found))) if found else None

    @classmethod
    def from_domain(cls, p: model.Person) -> CasePerson:
        return cls(role=p.role, name=p.name, sex=p.sex, birth_year=p.birth_year, minor=p.minor, person_id=p.id)


@strawberry.type(description="How many cases of one kind.")
class CaseKindCount:
    kind: CaseKindEnum  # type: ignore[valid-type]
    count: int


@strawberry.type(description="A village's protection cases in numbers (no case is named).")
class CaseStats:
    open: int
    closed: int = strawberry.field(description="Resolved or closed.")
    open_by_kind: list[CaseKindCount]
    closed_by_kind: list[CaseKindCount]
    median_days_to_resolution: float | None
    overdue: int

    @classmethod
    def of(cls, s: VillageCaseStats) -> CaseStats:
        return cls(
            open=sum(s.open_by_kind.values()),
            closed=sum(s.closed_by_kind.values()),
            open_by_kind=[CaseKindCount(kind=k, count=n) for k, n in sorted(s.open_by_kind.items())],
            closed_by_kind=[CaseKindCount(kind=k, count=n) for k, n in sorted(s.closed_by_kind.items())],
            median_days_to_resolution=s.median_days_to_resolution,
            overdue=s.overdue,
        )


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (owned by the registry).")
class Village(VillageKey):
    code: str

    @strawberry.federation.field(requires_scopes=STATS, description="The village's protection cases in numbers.")
    async def case_stats(self, info: Ctx) -> CaseStats | None:
        ctx = info.context
        ctx.require_principal()
        now = ctx.rules.clock()

        async def load(codes: list[str]) -> list[CaseStats]:
            async with ctx.engine.connect() as conn:
                found = await village_stats(conn, codes, now)
            return [CaseStats.of(found[c]) for c in codes]

        loader: DataLoader[str, CaseStats] = ctx.loader("case-stats", lambda: DataLoader(load))
        return await loader.load(self.code)


async def case_details(info: Ctx, row: Row[Any]) -> model.Case:
    """The whole case of a list's row: content, people and referrals read once for all the rows of the request
    that need them (three statements, adapters/cases.py `complete`), only when a field asks."""
    ctx = info.context

    async def load(rows: list[Row[Any]]) -> list[model.Case]:
        async with ctx.engine.connect() as conn:
            return await CaseRepository(conn).complete(rows)

    loader: DataLoader[Row[Any], model.Case] = ctx.loader(
        "case-details", lambda: DataLoader(load, cache_key_fn=lambda r: r.id)
    )
    return await loader.load(row)


async def _notes(info: Ctx, case_id: uuid.UUID) -> list[model.Note]:
    ctx = info.context

    async def load(ids: list[uuid.UUID]) -> list[list[model.Note]]:
        async with ctx.engine.connect() as conn:
            found = await NoteRepository(conn).of_cases(ids)
        return [found.get(i, []) for i in ids]

    loader: DataLoader[uuid.UUID, list[model.Note]] = ctx.loader("notes", lambda: DataLoader(load))
    return await loader.load(case_id)


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=READ,
    description="A protection case: a complaint, legal aid, suspected trafficking, a non-procedural departure, abuse "
    "abroad, a repatriation or the welfare of a family, heard in a village and handled between agencies on service "
    "clocks.",
)
class Case:
    id: strawberry.ID
    kind: CaseKindEnum  # type: ignore[valid-type]
    phase: CasePhaseEnum  # type: ignore[valid-type]
    channel: CaseChannelEnum  # type: ignore[valid-type]
    village_code: str
    destination_country: str | None = strawberry.field(description="ISO 3166 alpha-2 code, e.g. MY.")
    owner_agency: AgencyEnum  # type: ignore[valid-type]
    confidentiality: ConfidentialityEnum  # type: ignore[valid-type]
    status: CaseStatusEnum  # type: ignore[valid-type]
    version: int = strawberry.field(description="Send it back with every change (optimistic concurrency).")
    opened_at: dt.datetime
    triage_due_at: dt.datetime
    resolution_due_at: dt.datetime
    triaged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    held_by: list[AgencyEnum]  # type: ignore[valid-type]
    overdue: bool

    @strawberry.field
    async def overdue_items(self, info: Ctx) -> list[OverdueItem]:
        return [
            OverdueItem(
                kind=i.kind,
                due_at=i.due_at,
                held_by=i.held_by,
                referral_id=strawberry.ID(str(i.referral_id)) if i.referral_id else None,
            )
            for i in overdue_items(await self.full(info), self.now)
        ]

    @strawberry.field
    async def referrals(self, info: Ctx) -> list[Referral]:
        c = await self.full(info)
        return [Referral.from_domain(r, c, self.now) for r in c.referrals]

    now: strawberry.Private[dt.datetime]
    row: strawberry.Private[Row[Any] | None]
    """The case's row of `cases` when the case came from a list (`from_row`): the rest is read when a field needs it."""
    loaded: strawberry.Private[model.Case | None]

    async def full(self, info: Ctx) -> model.Case:
        """The whole case (content, people, referrals): as given, or read for every case of the request's lists that
        needs it at once (`case_details`)."""
        if self.loaded is None:
            assert self.row is not None
            self.loaded = await case_details(info, self.row)
        return self.loaded

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(
        description="Whether this request may read the case's content (people, description, notes): the caller's "
        "agency may, and the request names the purpose PROTECTION_CASE."
    )
    async def content_visible(self, info: Ctx) -> bool:
        principal = info.context.principal
        if principal is None or principal.purpose is not Purpose.PROTECTION_CASE:
            return False
        return can_read_content(principal, await self.full(info))

    @strawberry.federation.field(requires_scopes=READ, description="The people the case concerns. " + CONTENT)
    async def people(self, info: Ctx) -> list[CasePerson] | None:
        c = await self.full(info)
        await info.context.content.gate(c, "people")
        return [CasePerson.from_domain(p) for p in c.people]

    @strawberry.federation.field(requires_scopes=READ, description="Who reported it. " + CONTENT)
    async def reporter(self, info: Ctx) -> Reporter | None:
        c = await self.full(info)
        await info.context.content.gate(c, "reporter")
        r = c.reporter
        return Reporter(anonymous=r.anonymous, name=r.name, contact=r.contact, relation=r.relation)

    @strawberry.federation.field(requires_scopes=READ, description="What happened. " + CONTENT)
    async def description(self, info: Ctx) -> str | None:
        c = await self.full(info)
        await info.context.content.gate(c, "description")
        return c.description

    @strawberry.federation.field(requires_scopes=READ, description="How it was resolved. " + CONTENT)
    async def resolution(self, info: Ctx) -> str | None:
        c = await self.full(info)
        await info.context.content.gate(c, "resolution")
        return c.resolution

    @strawberry.federation.field(requires_scopes=READ, description="Notes of the agencies, oldest first. " + CONTENT)
    async def notes(self, info: Ctx) -> list[CaseNote] | None:
        c = await self.full(info)
        await info.context.content.gate(c, "notes")
        found = await _notes(info, c.id)
        return [CaseNote(id=strawberry.ID(str(n.id)), agency=n.agency, created_at=n.created_at, text=n.text)
                for n in found]  # fmt: skip

    @classmethod
    def from_domain(cls, c: model.Case, now: dt.datetime) -> Case:
        return cls(
            id=strawberry.ID(str(c.id)),
            kind=c.kind,
            phase=c.phase,
            channel=c.channel,
            village_code=c.village_code,
            destination_country=c.destination_country,
            owner_agency=c.owner_agency,
            confidentiality=c.confidentiality,
            status=c.status,
            version=c.version,
            opened_at=c.opened_at,
            triage_due_at=c.triage_due_at,
            resolution_due_at=c.resolution_due_at,
            triaged_at=c.triaged_at,
            resolved_at=c.resolved_at,
            closed_at=c.closed_at,
            held_by=list(model.holders(c)),
            overdue=bool(overdue_items(c, now)),
            now=now,
            row=None,
            loaded=c,
        )

    @classmethod
    def from_row(cls, r: Row[Any], now: dt.datetime) -> Case:
        """A case of a list from its row of `cases` alone (adapters/cases.py `page_rows`): who holds it and when
        its next clock falls due are columns, kept by every change (`holders`, `next_due`), so `heldBy` and
        `overdue` are the domain's answers without its referrals."""
        return cls(
            id=strawberry.ID(str(r.id)),
            kind=CaseKind(r.kind),
            phase=CasePhase(r.phase),
            channel=CaseChannel(r.channel),
            village_code=r.village_code,
            destination_country=r.destination_country,
            owner_agency=r.owner_agency,
            confidentiality=Confidentiality(r.confidentiality),
            status=CaseStatus(r.status),
            version=r.version,
            opened_at=r.opened_at,
            triage_due_at=r.triage_due_at,
            resolution_due_at=r.resolution_due_at,
            triaged_at=r.triaged_at,
            resolved_at=r.resolved_at,
            closed_at=r.closed_at,
            held_by=list(r.holders),
            overdue=r.next_due_at is not None and r.next_due_at < now,
            now=now,
            row=r,
            loaded=None,
        )

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Case | None:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            found = await CaseRepository(conn).get(parse_id(id))
        if found is None or not sees(principal, found):
            return None  # as for a case the caller may not see: null, nothing tells the two apart
        return cls.from_domain(found, ctx.rules.clock())
