"""GraphQL object types of the registry subgraph: workers with their movements and families, villages, and the
pages of both; and the look-ups that turn a code or an id into one of them for the caller.

Personal fields (`nik`, `birthDate`, `phone`, `address`, `passportNumber`, `family`) carry `@requiresScopes` and
are nullable, so that withholding one nulls that field only. They go through the personal-data gate, which
records the read (`personal_data.accessed`) before any value leaves: if the record cannot be written, the field
is null with an error (fail closed).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import strawberry
from lokal.samaran.core import partial_mask

from demimas_common.errors import BadUserInput, NotFound
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_registry.adapters.queries import WorkerFilterValues
from demimas_registry.domain import model
from demimas_registry.domain import validation as v
from demimas_registry.domain.vocabulary import VillageKind
from demimas_registry.entrypoints.graphql.context import Ctx, RegistryContext
from demimas_registry.entrypoints.graphql.enums import (
    ConsentGiverEnum,
    EducationEnum,
    RelationEnum,
    ReturnReasonEnum,
    SchemeEnum,
    SectorEnum,
    SexEnum,
    VillageKindEnum,
    WorkerStatusEnum,
)
from demimas_registry.entrypoints.graphql.regions import MigrantStats, Region

__all__ = [
    "Departure",
    "FamilyMember",
    "Return",
    "Village",
    "VillageConnection",
    "VillageEdge",
    "Worker",
    "WorkerConnection",
    "village_by_code",
    "village_or_none",
    "visible_family_member",
    "visible_worker",
    "worker_connection",
]

PII = [["pii:read"]]


def mask_nik(nik: str) -> str:
    return partial_mask("NIK", nik)


@strawberry.type
class Departure:
    id: strawberry.ID
    destination_country: str
    sector: SectorEnum  # type: ignore[valid-type]
    occupation: str
    scheme: SchemeEnum  # type: ignore[valid-type]
    procedural: bool
    employer: str | None
    departure_date: dt.date
    contract_end: dt.date | None
    occupation_code: str | None = strawberry.field(description="KBJI 2014 code, when one was given.")

    @classmethod
    def from_domain(cls, d: model.Departure) -> Departure:
        return cls(
            id=strawberry.ID(str(d.id)),
            destination_country=d.destination_country,
            sector=d.sector,
            occupation=d.occupation,
            scheme=d.scheme,
            procedural=d.procedural,
            employer=d.employer,
            departure_date=d.departure_date,
            contract_end=d.contract_end,
            occupation_code=d.occupation_code,
        )


@strawberry.type
class Return:
    id: strawberry.ID
    return_date: dt.date
    reason: ReturnReasonEnum  # type: ignore[valid-type]
    note: str | None

    @classmethod
    def from_domain(cls, r: model.Return) -> Return:
        return cls(id=strawberry.ID(str(r.id)), return_date=r.return_date, reason=r.reason, note=r.note)


@strawberry.type
class Consent:
    given_by: ConsentGiverEnum  # type: ignore[valid-type]
    date: dt.date
    basis: str


@strawberry.federation.type(
    keys=["id"], description="A member of a migrant worker's family (keluarga PMI). Children's data needs consent."
)
class FamilyMember:
    """An entity so that other subgraphs (cases) can name a family member; reached by reference it is guarded as
    through its worker's `family` (see `visible_family_member`)."""

    id: strawberry.ID
    relation: RelationEnum  # type: ignore[valid-type]
    full_name: str
    birth_date: dt.date
    minor: bool
    consent: Consent | None
    village_code: strawberry.Private[str]

    def region_code(self, info: Ctx) -> str:
        """Its worker's village: a family member goes where its worker goes (docs/contracts.md, the region rule)."""
        return self.village_code

    @classmethod
    def from_domain(cls, m: model.FamilyMember, *, village_code: str) -> FamilyMember:
        consent = (
            Consent(given_by=m.consent.given_by, date=m.consent.date, basis=m.consent.basis) if m.consent else None
        )
        return cls(
            id=strawberry.ID(str(m.id)),
            relation=m.relation,
            full_name=m.full_name,
            birth_date=m.birth_date,
            minor=m.minor,
            consent=consent,
            village_code=village_code,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> FamilyMember | None:
        return await visible_family_member(info.context, id)


@strawberry.federation.type(keys=["id"], description="A migrant worker: CPMI, PMI abroad, or returnee (purna PMI).")
class Worker:
    id: strawberry.ID
    full_name: str
    sex: SexEnum  # type: ignore[valid-type]
    education_level: EducationEnum  # type: ignore[valid-type]
    status: WorkerStatusEnum  # type: ignore[valid-type]
    version: int = strawberry.field(description="Raised by every change; pass it as expectedVersion to update.")
    nik_warnings: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    village_code: strawberry.Private[str]
    latest: strawberry.Private[model.Departure | None]
    domain: strawberry.Private[model.Worker]
    latest_id: strawberry.Private[uuid.UUID | None] = None
    village_node: strawberry.Private[Village | None] = None

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @classmethod
    def from_domain(
        cls, w: model.Worker, *, latest_id: uuid.UUID | None = None, village: Village | None = None
    ) -> Worker:
        now = dt.datetime.now(dt.UTC)
        return cls(
            id=strawberry.ID(str(w.id)),
            full_name=w.full_name,
            sex=w.sex,
            education_level=w.education,
            status=w.status,
            version=w.version,
            nik_warnings=list(w.nik_warnings),
            created_at=w.created_at or now,
            updated_at=w.updated_at or now,
            village_code=w.village_code,
            latest=w.latest_departure,
            domain=w,
            latest_id=latest_id or (w.latest_departure.id if w.latest_departure else None),
            village_node=village,
        )

    # The next two resolvers answer at once when the page already holds the data, and otherwise return an
    # awaitable that graphql-core awaits: a list page pays no per-row async cost for what it fetched in bulk.
    @strawberry.field
    def village(self, info: Ctx) -> Village:
        if self.village_node is not None:
            return self.village_node
        return cast(Village, village_by_code(info.context, self.village_code))

    @strawberry.field
    def latest_departure(self, info: Ctx) -> Departure | None:
        if self.latest is not None:
            return Departure.from_domain(self.latest)
        if self.latest_id is None:
            return None
        return cast(Departure, departure_by_id(info.context, self.latest_id))

    @strawberry.field(description="The NIK with its middle digits hidden; always available.")
    def nik_masked(self) -> str:
        return mask_nik(self.domain.nik)

    @strawberry.field
    async def departures(self, info: Ctx) -> list[Departure]:
        items = await info.context.registry_loaders.departures.load(self.domain.id)
        return [Departure.from_domain(d) for d in items]

    @strawberry.field
    async def returns(self, info: Ctx) -> list[Return]:
        items = await info.context.registry_loaders.returns.load(self.domain.id)
        return [Return.from_domain(r) for r in items]

    # -- personal data: scope, purpose, and a recorded read ------------------------------------------------------
    @strawberry.federation.field(requires_scopes=PII, description="NIK in clear. Needs pii:read and a purpose.")
    async def nik(self, info: Ctx) -> str | None:
        await info.context.personal_data.gate(self.domain.id, "nik", "pii:read")
        return self.domain.nik

    @strawberry.federation.field(requires_scopes=PII)
    async def birth_date(self, info: Ctx) -> dt.date | None:
        await info.context.personal_data.gate(self.domain.id, "birthDate", "pii:read")
        return self.domain.birth_date

    @strawberry.federation.field(requires_scopes=PII)
    async def phone(self, info: Ctx) -> str | None:
        await info.context.personal_data.gate(self.domain.id, "phone", "pii:read")
        return self.domain.phone

    @strawberry.federation.field(requires_scopes=PII)
    async def address(self, info: Ctx) -> str | None:
        await info.context.personal_data.gate(self.domain.id, "address", "pii:read")
        return self.domain.address

    @strawberry.federation.field(requires_scopes=PII)
    async def passport_number(self, info: Ctx) -> str | None:
        await info.context.personal_data.gate(self.domain.id, "passportNumber", "pii:read")
        return self.domain.passport_number

    @strawberry.federation.field(
        requires_scopes=[["family:read"]], description="Spouse, children, parents. Needs family:read and a purpose."
    )
    async def family(self, info: Ctx) -> list[FamilyMember] | None:
        info.context.personal_data.check(self.domain.id, "family:read")
        members = await info.context.registry_loaders.family.load(self.domain.id)
        await info.context.personal_data.gate(
            self.domain.id, "family", "family:read", family_member_ids=[str(m.id) for m in members]
        )
        return [FamilyMember.from_domain(m, village_code=self.village_code) for m in members]

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Worker | None:
        return await visible_worker(info.context, id)


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (Kemendagri code such as 16.06.13.2001).")
class Village:
    code: str
    name: str
    kind: VillageKindEnum  # type: ignore[valid-type]
    district: Region
    regency: Region
    province: Region
    postal_code: str | None

    def region_code(self, info: Ctx) -> str:
        return self.code

    @classmethod
    def from_row(cls, row: object) -> Village:
        r = row  # a Row of registry.villages
        return cls(
            code=r.code,  # type: ignore[attr-defined]
            name=r.name,  # type: ignore[attr-defined]
            kind=VillageKind(r.kind),  # type: ignore[attr-defined]
            district=Region(code=r.district_code, name=r.district_name),  # type: ignore[attr-defined]
            regency=Region(code=r.regency_code, name=r.regency_name),  # type: ignore[attr-defined]
            province=Region(code=r.province_code, name=r.province_name),  # type: ignore[attr-defined]
            postal_code=r.postal_code,  # type: ignore[attr-defined]
        )

    @strawberry.federation.field(requires_scopes=[["stats:read"]])
    async def migrant_stats(self, info: Ctx) -> MigrantStats | None:
        principal = info.context.require_principal()
        principal.require_scope("stats:read")
        principal.require_region(self.code)
        return MigrantStats.from_value(await info.context.registry_loaders.stats.load(self.code), principal)

    @strawberry.federation.field(requires_scopes=[["registry:read"]])
    async def workers(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        status: WorkerStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> WorkerConnection | None:
        principal = info.context.require_principal()
        principal.require_scope("registry:read")
        principal.require_region(self.code)
        flt = WorkerFilterValues(village_code=self.code, status=status)
        return await worker_connection(info, flt, first=first, after=after)

    @classmethod
    async def resolve_reference(cls, info: Ctx, code: str) -> Village | None:
        info.context.require_principal()
        return await village_or_none(info.context, code)


@strawberry.type
class WorkerEdge:
    cursor: str
    node: Worker


@strawberry.type
class WorkerConnection:
    edges: list[WorkerEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many workers match the filter (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


@strawberry.type
class VillageEdge:
    cursor: str
    node: Village


@strawberry.type
class VillageConnection:
    edges: list[VillageEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many villages the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


async def worker_connection(
    info: Ctx, flt: WorkerFilterValues, *, first: int | None, after: str | None
) -> WorkerConnection:
    size = validate_first(first)
    after_id = None
    if after is not None:
        (raw,) = decode_cursor(after, length=1)
        try:
            after_id = uuid.UUID(str(raw))
        except ValueError:
            raise BadUserInput("after is not a cursor of this list", field="after") from None
    flt.caller_region = info.context.require_principal().region
    queries = info.context.queries
    page, has_next = await queries.worker_page(flt, first=size, after=after_id)
    villages: dict[str, Village] = {}
    edges = []
    for worker, latest_id, village_row in page:
        village = villages.get(village_row.code)
        if village is None:
            village = villages[village_row.code] = Village.from_row(village_row)
        node = Worker.from_domain(worker, latest_id=latest_id, village=village)
        edges.append(WorkerEdge(cursor=encode_cursor((str(worker.id),)), node=node))
    return WorkerConnection(
        edges=edges,
        page_info=PageInfo.of([e.cursor for e in edges], has_next=has_next, after=after),
        count_query=lambda: queries.worker_count(flt),
    )


# -- look-ups by code or id, batched through the request's DataLoaders ------------------------------------------
async def village_or_none(context: RegistryContext, code: str) -> Village | None:
    row = await context.registry_loaders.villages.load(code)
    return Village.from_row(row) if row is not None else None


async def village_by_code(context: RegistryContext, code: str) -> Village:
    found = await village_or_none(context, code)
    if found is None:
        raise NotFound(f"no village {code}")
    return found


async def departure_by_id(context: RegistryContext, departure_id: uuid.UUID) -> Departure | None:
    found = await context.registry_loaders.departure.load(departure_id)
    return Departure.from_domain(found) if found is not None else None


async def visible_worker(context: RegistryContext, raw_id: str) -> Worker | None:
    """A worker the caller may see (scope registry:read, inside its region), else None."""
    principal = context.require_principal()
    principal.require_scope("registry:read")
    try:
        worker_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise BadUserInput(f"{str(raw_id)[:60]!r} is not a worker id (a UUID)", field="id") from None
    found = (await context.queries.workers_by_id([worker_id])).get(worker_id)
    if found is None or not principal.covers(found.village_code):
        return None
    return Worker.from_domain(found)


async def worker_by_nik(context: RegistryContext, raw_nik: str) -> Worker:
    """The worker holding a NIK, for a caller with `registry:read`, `pii:read` and a purpose: the NIK is personal
    data, so finding a person by it is a read of it and is recorded like one (`personal_data.accessed`, field `nik`)
    before the worker is returned. A malformed NIK is BAD_USER_INPUT saying what to fix; a NIK nobody holds and one
    held outside the caller's region are the same NOT_FOUND, without a record (nothing was disclosed)."""
    principal = context.require_principal()
    principal.require_scope("registry:read")
    principal.require_scope("pii:read")
    principal.require_purpose()
    nik = v.check_lookup_nik(raw_nik)
    worker_id = await context.queries.worker_id_by_nik(nik)
    found = (await context.queries.workers_by_id([worker_id])).get(worker_id) if worker_id is not None else None
    if found is None or not principal.covers(found.village_code):
        raise NotFound("no worker with this NIK is visible to you", field="nik")
    await context.personal_data.gate(found.id, "nik", "pii:read")
    return Worker.from_domain(found)


async def visible_family_member(context: RegistryContext, raw_id: str) -> FamilyMember | None:
    """A family member named by id, under exactly the rules of reaching it through its worker's `family`: the
    worker's scope (registry:read), family:read and a purpose, its worker inside the caller's region; and its read
    recorded by the personal-data gate (as field `family`, like the worker's list) before it is returned. Unknown
    and outside the region both answer None, without a record. (The access rules check the region again, through
    `FamilyMember.region_code`; checking it here too keeps a record from being written for what is then hidden.)"""
    principal = context.require_principal()
    principal.require_scope("registry:read")
    principal.require_scope("family:read")
    principal.require_purpose()
    try:
        member_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise BadUserInput(f"{str(raw_id)[:60]!r} is not a family member id (a UUID)", field="id") from None
    found = await context.registry_loaders.family_member.load(member_id)
    if found is None:
        return None
    member, village_code = found
    if not principal.covers(village_code):
        return None
    await context.personal_data.gate(member.worker_id, "family", "family:read", family_member_ids=[str(member.id)])
    return FamilyMember.from_domain(member, village_code=village_code)
