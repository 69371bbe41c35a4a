"""The registry subgraph's schema: root queries and mutations (contract names of the registry issue)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Conflict, DemimasError, NotFound
from demimas_common.graphql.labels import labels_field
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import parse_region_prefix
from demimas_registry.adapters.queries import WorkerFilterValues
from demimas_registry.adapters.villages import region_name
from demimas_registry.domain import validation as v
from demimas_registry.domain.model import Worker as DomainWorker
from demimas_registry.domain.vocabulary import WorkerStatus
from demimas_registry.entrypoints.graphql.context import Ctx
from demimas_registry.entrypoints.graphql.imports import ImportJob, import_job_of
from demimas_registry.entrypoints.graphql.inputs import (
    DepartureInput,
    FamilyMemberInput,
    RegisterWorkerInput,
    ReturnInput,
    UpdateWorkerInput,
    WorkerFilter,
    parse_id,
)
from demimas_registry.entrypoints.graphql.regions import Region
from demimas_registry.entrypoints.graphql.subscriptions import Subscription
from demimas_registry.entrypoints.graphql.types import (
    FamilyMember,
    Village,
    VillageConnection,
    VillageEdge,
    Worker,
    WorkerConnection,
    village_or_none,
    visible_worker,
    worker_by_nik,
    worker_connection,
)
from demimas_registry.importer.jobs import load_job
from demimas_registry.labels import LABELS
from demimas_registry.service_layer import handlers
from demimas_registry.service_layer.ports import RegistryUoW

__all__ = ["Mutation", "Query", "schema"]

_REGION_CODE = re.compile(r"^\d{2}(\.\d{2}){0,2}$")
READ = [["registry:read"]]
WRITE = [["registry:write"]]


@strawberry.type
class Query:
    registry_labels = labels_field("registry", LABELS)

    @strawberry.federation.field(authenticated=True, description="A village by its Kemendagri code.")
    async def village(self, info: Ctx, code: str) -> Village | None:
        principal = info.context.require_principal()
        del principal
        return await village_or_none(info.context, v.check_village_code(code, field="code"))

    @strawberry.federation.field(
        authenticated=True, description="A province, regency or district by its Kemendagri code (35, 35.07, 35.07.01)."
    )
    async def region(self, info: Ctx, code: str) -> Region | None:
        info.context.require_principal()
        code = code.strip()
        if not _REGION_CODE.match(code):
            raise BadUserInput(f"{code[:40]!r} is not a province, regency or district code (35, 35.07, 35.07.01)",
                               field="code")  # fmt: skip
        name = region_name(code)
        return Region(code=code, name=name) if name is not None else None

    @strawberry.federation.field(
        authenticated=True,
        description="Villages of a region (`regionPrefix`: 16, 16.06, 16.06.13), or matching a name.",
    )
    async def villages(
        self,
        info: Ctx,
        regency_code: Annotated[str | None, strawberry.argument(deprecation_reason="Use regionPrefix")] = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
        region_prefix: str | None = None,
    ) -> VillageConnection | None:
        principal = info.context.require_principal()
        if region_prefix is not None and regency_code is not None:
            raise BadUserInput("give regionPrefix alone: regencyCode is a deprecated form of it", field="regionPrefix")
        prefix = parse_region_prefix(region_prefix) or regency_code  # the deprecated form, as it always worked
        size = validate_first(first)
        after_code = str(decode_cursor(after, length=1)[0]) if after is not None else None
        if search is not None:
            search = v.check_text(search, field="search", max_length=100)
        queries = info.context.queries
        rows, has_next, base = await queries.village_page(
            regency_code=prefix, search=search, caller_region=principal.region, first=size, after=after_code
        )
        edges = [VillageEdge(cursor=encode_cursor((r.code,)), node=Village.from_row(r)) for r in rows]
        return VillageConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], has_next=has_next, after=after),
            count_query=lambda: queries.count(base),
        )

    @strawberry.federation.field(requires_scopes=READ)
    async def worker(self, info: Ctx, id: strawberry.ID) -> Worker | None:
        return await visible_worker(info.context, id)

    @strawberry.federation.field(
        requires_scopes=[["registry:read", "pii:read"]],
        description="The worker holding a NIK (16 digits), inside the caller's region. Needs `pii:read` and a purpose, "
        "and is recorded as a read of the worker's NIK (`personal_data.accessed`); a malformed NIK is BAD_USER_INPUT, "
        "one nobody in the caller's region holds NOT_FOUND (the field is then null; nullable, so that the rest of an "
        "answer survives it).",
    )
    async def worker_by_nik(self, info: Ctx, nik: str) -> Worker | None:
        return await worker_by_nik(info.context, nik)

    @strawberry.federation.field(
        requires_scopes=WRITE,
        description="An upload of workers and its per-row report (registry:write; the uploader's agency, within the"
        " token's region; any other job answers null).",
    )
    async def import_job(self, info: Ctx, id: strawberry.ID) -> ImportJob | None:
        principal = info.context.require_principal()
        principal.require_scope("registry:write")
        job = await load_job(info.context.queries.engine, parse_id(id, "id"))
        if job is None or not job.visible_to(principal):
            return None
        return import_job_of(job)

    @strawberry.federation.field(requires_scopes=READ)
    async def workers(
        self, info: Ctx, filter: WorkerFilter | None = None, first: int | None = None, after: str | None = None
    ) -> WorkerConnection | None:
        principal = info.context.require_principal()
        principal.require_scope("registry:read")
        f = filter or WorkerFilter()
        flt = WorkerFilterValues(
            village_code=v.check_village_code(f.village_code) if f.village_code else None,
            region_prefix=f.region_prefix.strip() if f.region_prefix else None,
            status=WorkerStatus(f.status) if f.status else None,
            destination_country=v.check_country(f.destination_country) if f.destination_country else None,
        )
        return await worker_connection(info, flt, first=first, after=after)


Command = TypeVar("Command")


async def _change_worker(
    info: Ctx, handler: Callable[[Command, RegistryUoW, Principal], Awaitable[DomainWorker]], command: Command
) -> Worker:
    """Every worker mutation: the caller, one unit of work around the use case, the changed worker as answer."""
    principal = info.context.require_principal()
    async with info.context.unit_of_work() as uow:
        worker = await handler(command, uow, principal)
    return Worker.from_domain(worker)


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=WRITE, description="Register a prospective migrant worker (CPMI).")
    async def register_worker(self, info: Ctx, input: RegisterWorkerInput) -> Worker | None:
        try:
            return await _change_worker(info, handlers.register_worker, input.to_command())
        except Conflict as exc:
            existing = exc.details.get("existingWorkerId")
            if existing is None:
                raise
            # The CONFLICT names who holds the NIK: a read of that worker's NIK, recorded as workerByNik's is,
            # before the id leaves; if the record cannot be written, the CONFLICT names nobody (fail closed).
            try:
                await info.context.personal_data.gate(uuid.UUID(existing), "nik", "pii:read")
            except DemimasError:
                raise Conflict("a worker with this NIK is already registered", field="nik") from None
            raise

    @strawberry.federation.field(requires_scopes=WRITE)
    async def update_worker(self, info: Ctx, id: strawberry.ID, input: UpdateWorkerInput) -> Worker | None:
        return await _change_worker(info, handlers.update_worker, input.to_command(parse_id(id, "id")))

    @strawberry.federation.field(requires_scopes=WRITE)
    async def record_departure(self, info: Ctx, worker_id: strawberry.ID, input: DepartureInput) -> Worker | None:
        return await _change_worker(info, handlers.record_departure, input.to_command(parse_id(worker_id, "workerId")))

    @strawberry.federation.field(requires_scopes=WRITE)
    async def record_return(self, info: Ctx, worker_id: strawberry.ID, input: ReturnInput) -> Worker | None:
        return await _change_worker(info, handlers.record_return, input.to_command(parse_id(worker_id, "workerId")))

    @strawberry.federation.field(requires_scopes=[["registry:write", "family:read"]])
    async def add_family_member(
        self,
        info: Ctx,
        worker_id: strawberry.ID,
        input: FamilyMemberInput,
    ) -> FamilyMember | None:
        principal = info.context.require_principal()
        async with info.context.unit_of_work() as uow:
            member = await handlers.add_family_member(input.to_command(parse_id(worker_id, "workerId")), uow, principal)
        # The answer holds the member's personal data: its read is recorded like any other.
        await info.context.personal_data.gate(
            member.worker_id, "family", "family:read", family_member_ids=[str(member.id)]
        )
        # Its worker's village (where the member belongs, for the region rule), read back with the member.
        found = await info.context.registry_loaders.family_member.load(member.id)
        if found is None:  # never deleted, so only if the write did not land: say so rather than guess a region
            raise NotFound(f"no family member {member.id}")
        return FamilyMember.from_domain(member, village_code=found[1])


schema = build_schema(query=Query, mutation=Mutation, subscription=Subscription, types=[Worker, Village, FamilyMember])
