"""The people the pillars subgraph speaks of: `Worker` (owned by the registry) extended with the enrolments of the
worker and the family, `Enrolment`, and `Returnee` of a village's reintegration queue. Who a person is needs
`registry:read` (a family member's id `family:read` too), as everywhere else."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import strawberry
from strawberry.dataloader import DataLoader

from demimas_common.graphql.access import ANYWHERE
from demimas_common.graphql.types import PageInfo
from demimas_pillars.adapters.enrolments import EnrolmentRepository
from demimas_pillars.adapters.people import PeopleRepository
from demimas_pillars.domain import enrolment as domain_enrolment
from demimas_pillars.domain.vocabulary import PersonKind
from demimas_pillars.entrypoints.graphql.common import PERSON, READ, Ctx, parse_id
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EnrolmentProgrammeEnum,
    EnrolmentStatusEnum,
    PersonKindEnum,
    ReintegrationStatusEnum,
)

__all__ = ["Enrolment", "Returnee", "ReturneeConnection", "ReturneeEdge", "Worker", "person_villages"]


@strawberry.federation.type(
    keys=["id"], requires_scopes=PERSON, description="A migrant worker (owned by the registry)."
)
class Worker:
    id: strawberry.ID
    asked_for: strawberry.Private[bool] = False
    """Made from an id the caller sent (`_entities`), not from pillars data."""

    def region_code(self, info: Ctx) -> str | Awaitable[str | None]:
        """The worker's village as the `people` projection knows it; a person it does not know (not yet, or never)
        has no pillars data to show: ANYWHERE. A worker the caller named by id is ANYWHERE too, so that a person of
        another region answers exactly as an unknown id does (`enrolments` then leaves out, as the region rule
        does, every enrolment outside the caller's region): echoing the caller's own id tells it nothing."""
        if self.asked_for:
            return ANYWHERE
        return person_villages(info.context).load(parse_id(self.id))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Worker:
        return cls(id=id, asked_for=True)

    @strawberry.federation.field(requires_scopes=READ, description="Programmes this worker and the family joined.")
    async def enrolments(self, info: Ctx) -> list[Enrolment] | None:
        ctx = info.context
        ctx.require_principal()
        loader = ctx.loader("enrolments", lambda: DataLoader(load_fn=lambda keys: _enrolments(ctx, keys)))
        found: list[domain_enrolment.Enrolment] = await loader.load(parse_id(self.id))
        return [Enrolment.from_domain(e) for e in found]


def person_villages(ctx: PillarsContext) -> DataLoader[uuid.UUID, str]:
    """The request's loader of people's villages (ANYWHERE for a person the projection does not know)."""

    async def load(ids: list[uuid.UUID]) -> list[str]:
        async with ctx.engine.connect() as conn:
            found = await PeopleRepository(conn).villages_of(list(ids))
        return [found.get(i, ANYWHERE) for i in ids]

    loader: DataLoader[uuid.UUID, str] = ctx.loader("person_villages", lambda: DataLoader(load_fn=load))
    return loader


async def _enrolments(ctx: PillarsContext, keys: list[uuid.UUID]) -> list[list[domain_enrolment.Enrolment]]:
    async with ctx.engine.connect() as conn:
        found = await EnrolmentRepository(conn).of_workers(list(keys))
    return [found.get(k, []) for k in keys]


@strawberry.type(
    description="A worker's or family member's enrolment in a programme. Who it is (the person's id, the worker, "
    "the note about them) needs registry:read, a family member's id family:read too, as everywhere else; the "
    "programme and status are open to every pillars:read caller."
)
class Enrolment:
    id: strawberry.ID
    person_kind: PersonKindEnum  # type: ignore[valid-type]
    programme: EnrolmentProgrammeEnum  # type: ignore[valid-type]
    status: EnrolmentStatusEnum  # type: ignore[valid-type]
    village_code: str
    enrolled_on: dt.date
    agency: AgencyEnum  # type: ignore[valid-type]
    updated_at: dt.datetime
    person: strawberry.Private[uuid.UUID]
    note_: strawberry.Private[str | None]
    worker_id: strawberry.Private[uuid.UUID]

    @strawberry.federation.field(requires_scopes=PERSON, description="The worker's or family member's id.")
    def person_id(self, info: Ctx) -> strawberry.ID | None:
        if self.person_kind == PersonKind.FAMILY_MEMBER:
            info.context.require_principal().require_scope("family:read")
        return strawberry.ID(str(self.person))

    @strawberry.federation.field(requires_scopes=PERSON, description="Free text about the person's enrolment.")
    def note(self) -> str | None:
        return self.note_

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.federation.field(
        requires_scopes=PERSON, description="The worker (for a family member, the worker of the family)."
    )
    def worker(self) -> Worker | None:
        return Worker(id=strawberry.ID(str(self.worker_id)))

    @classmethod
    def from_domain(cls, e: domain_enrolment.Enrolment) -> Enrolment:
        return cls(
            id=strawberry.ID(str(e.id)),
            person=e.person_id,
            person_kind=e.person_kind,
            programme=e.programme,
            status=e.status,
            village_code=e.village_code,
            enrolled_on=e.enrolled_on,
            agency=e.agency,
            updated_at=e.updated_at,
            note_=e.note,
            worker_id=e.worker_id,
        )


@strawberry.type(description="A returnee (purna PMI) in the village's reintegration queue.")
class Returnee:
    returned_at: dt.datetime
    status: ReintegrationStatusEnum  # type: ignore[valid-type]
    updated_at: dt.datetime
    note_: strawberry.Private[str | None]
    worker_id: strawberry.Private[uuid.UUID]

    @strawberry.federation.field(requires_scopes=PERSON, description="Free text about the returnee's reintegration.")
    def note(self) -> str | None:
        return self.note_

    @strawberry.federation.field(requires_scopes=PERSON, description="Who returned (registry:read).")
    def worker(self) -> Worker | None:
        return Worker(id=strawberry.ID(str(self.worker_id)))

    @classmethod
    def from_entry(cls, e: domain_enrolment.QueueEntry) -> Returnee:
        return cls(
            returned_at=e.returned_at, status=e.status, updated_at=e.updated_at, note_=e.note, worker_id=e.worker_id
        )


@strawberry.type
class ReturneeEdge:
    cursor: str
    node: Returnee


@strawberry.type
class ReturneeConnection:
    edges: list[ReturneeEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many returnees the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()
