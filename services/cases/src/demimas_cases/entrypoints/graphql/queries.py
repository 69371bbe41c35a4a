"""The cases subgraph's queries. Lists read the rows of a page by keyset in (village code, id) order under the
caller's visibility, in one statement; a case's content, people and referrals are read (for the whole page at once)
only when a selected field needs them (graph.py `Case.full`); `totalCount` counts under the same conditions only
when selected."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import strawberry

from demimas_cases.adapters.cases import CaseFilter, CaseRepository
from demimas_cases.adapters.legal_aid import LegalAidRepository
from demimas_cases.domain.permissions import sees
from demimas_cases.domain.vocabulary import CaseKind, CasePhase, CaseStatus
from demimas_cases.entrypoints.graphql.common import AUDIT, READ, parse_id, village_cursor
from demimas_cases.entrypoints.graphql.context import CasesContext, Ctx
from demimas_cases.entrypoints.graphql.enums import AgencyEnum
from demimas_cases.entrypoints.graphql.graph import Case
from demimas_cases.entrypoints.graphql.inputs import CaseFilterInput
from demimas_cases.entrypoints.graphql.types import CaseStep, LegalAidOrganisation
from demimas_cases.labels import LABELS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput
from demimas_common.graphql.labels import labels_field
from demimas_common.graphql.pagination import encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import REGION_PREFIX

__all__ = ["CaseConnection", "Query"]


@strawberry.type
class CaseEdge:
    cursor: str
    node: Case


@strawberry.type(description="A page of cases; ask for the next with `first` and `after: pageInfo.endCursor`.")
class CaseConnection:
    edges: list[CaseEdge]
    page_info: PageInfo
    principal: strawberry.Private[Principal]
    filter: strawberry.Private[CaseFilter]
    now: strawberry.Private[dt.datetime]
    overdue_for: strawberry.Private[str | None]
    context: strawberry.Private[CasesContext]

    @strawberry.field(description="How many cases the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        async with self.context.engine.connect() as conn:
            return await CaseRepository(conn).count(
                self.principal, self.filter, now=self.now, overdue_for=self.overdue_for
            )


async def case_page(
    ctx: CasesContext, f: CaseFilter, first: int | None, after: str | None, overdue_for: str | None = None
) -> CaseConnection:
    principal = ctx.require_principal()
    limit = validate_first(first)
    cursor = village_cursor(after)
    now = ctx.rules.clock()
    async with ctx.engine.connect() as conn:
        repository = CaseRepository(conn)
        rows, more = await repository.page_rows(
            principal, f, now=now, first=limit, after=cursor, overdue_for=overdue_for
        )
    edges = [CaseEdge(cursor=encode_cursor((r.village_code, r.id)), node=Case.from_row(r, now)) for r in rows]
    return CaseConnection(
        edges=edges,
        page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after),
        principal=principal,
        filter=f,
        now=now,
        overdue_for=overdue_for,
        context=ctx,
    )


def _region_prefix(value: str | None, field: str = "regionPrefix") -> str | None:
    if value is not None and not REGION_PREFIX.match(value):
        raise BadUserInput(f"{field} must be a Kemendagri region code such as 16 or 16.06", field=field)
    return value


@strawberry.type
class Query:
    cases_labels = labels_field("cases", LABELS)

    @strawberry.federation.field(requires_scopes=READ, description="A case by id (null when none the caller may see).")
    async def case(self, info: Ctx, id: strawberry.ID) -> Case | None:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            found = await CaseRepository(conn).get(parse_id(id))
        if found is None or not sees(principal, found):
            return None
        return Case.from_domain(found, ctx.rules.clock())

    @strawberry.federation.field(requires_scopes=READ, description="Cases the caller may see, by village code.")
    async def cases(
        self,
        info: Ctx,
        filter: CaseFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> CaseConnection:
        f = filter or CaseFilterInput()
        case_filter = CaseFilter(
            status=CaseStatus(f.status) if f.status else None,
            kind=CaseKind(f.kind) if f.kind else None,
            phase=CasePhase(f.phase) if f.phase else None,
            region_prefix=_region_prefix(f.region_prefix, "filter.regionPrefix"),
            assigned_to=f.assigned_to.value if f.assigned_to else None,
            overdue=f.overdue,
        )
        return await case_page(info.context, case_filter, first, after)

    @strawberry.federation.field(
        requires_scopes=READ,
        description="Cases with an item past its service clock that `agency` holds (default: the caller's agency).",
    )
    async def overdue_cases(
        self,
        info: Ctx,
        agency: AgencyEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> CaseConnection:
        ctx = info.context
        principal = ctx.require_principal()
        holder = Agency(agency).value if agency else principal.agency.value
        return await case_page(ctx, CaseFilter(), first, after, overdue_for=holder)

    @strawberry.federation.field(
        requires_scopes=READ,
        description="KP2MI's register of legal aid organisations, those serving a region. A regional office sees "
        "those that serve (some of) its region, the only ones its cases can be referred to.",
    )
    async def legal_aid_organisations(
        self,
        info: Ctx,
        region_prefix: Annotated[
            str | None, strawberry.argument(description="Those that serve this region (or a part of it).")
        ] = None,
    ) -> list[LegalAidOrganisation]:
        ctx = info.context
        principal = ctx.require_principal()
        prefix = _region_prefix(region_prefix)
        async with ctx.engine.connect() as conn:
            found = await LegalAidRepository(conn).all()
        regions = [r for r in (prefix, principal.region) if r is not None]
        return [LegalAidOrganisation.from_domain(o) for o in found if all(o.works_in(r) for r in regions)]

    @strawberry.federation.field(
        requires_scopes=AUDIT,
        description="For auditors: who changed a case, when, and who held it after each step; no content.",
    )
    async def case_trail(self, info: Ctx, id: strawberry.ID) -> list[CaseStep] | None:
        ctx = info.context
        principal = ctx.require_principal()
        case_id: uuid.UUID = parse_id(id)
        async with ctx.engine.connect() as conn:
            repository = CaseRepository(conn)
            village = await repository.village_of(case_id)
            if village is None or not principal.covers(village):
                return None
            steps = await repository.steps(case_id)
        return [
            CaseStep(version=s.version, step=s.step, at=s.at, agency=s.agency, status=s.status,
                     held_by=list(s.holders), village_code=village)
            for s in steps
        ]  # fmt: skip
