"""A worker's access log on real PostgreSQL and NATS: the reads the registry records and the reads of protection
cases the cases service records (`demimas.cases.personal_data.accessed` naming the worker in `workerIds`), newest
first, each saying which service recorded it; and the query can use the partial index of each type even on the
generic plan a reused prepared statement runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import asyncpg

from demimas_audit.adapters.queries import ACCESS_TYPES, access_log, access_log_query
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.app import SERVICE
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.schema import schema
from demimas_common.auth.principal import Agency, Principal
from demimas_common.events.envelope import Actor, CloudEvent, new_event
from demimas_common.events.schemas import validate_data

from .conftest import AuditStore
from .test_chain_store import ingest, publish

pytestmark = pytest.mark.integration

REGISTRY_READ, CASES_READ = ACCESS_TYPES
WORKER, OTHER_WORKER = str(uuid.uuid4()), str(uuid.uuid4())
FAMILY_MEMBER, CASE = str(uuid.uuid4()), str(uuid.uuid4())


def registry_read(worker_ids: list[str], fields: list[str], agency: str = "KP2MI") -> CloudEvent:
    data = {"agency": agency, "subject": f"{agency.lower()}-officer", "purpose": "PLACEMENT_SERVICE",
            "workerIds": worker_ids, "fields": fields, "operation": "ReadWorker"}  # fmt: skip
    validate_data(REGISTRY_READ, data)
    return new_event(REGISTRY_READ, worker_ids[0], data, actor=Actor(agency, f"{agency.lower()}-officer"))


def cases_read(*, worker_ids: list[str] | None = None, family_member_ids: list[str] | None = None) -> CloudEvent:
    """A read of case content as the cases service records it (domain/events.py there): workerIds and
    familyMemberIds only when the case names such people."""
    data: dict[str, Any] = {"agency": "BP3MI", "subject": "bp3mi-case-officer", "purpose": "PROTECTION_CASE",
                            "caseIds": [CASE], "fields": ["people", "description"],
                            "operation": "CaseFile"}  # fmt: skip
    if worker_ids:
        data["workerIds"] = worker_ids
    if family_member_ids:
        data["familyMemberIds"] = family_member_ids
    validate_data(CASES_READ, data)
    return new_event(CASES_READ, CASE, data, actor=Actor("BP3MI", "bp3mi-case-officer"))


@pytest.fixture
async def history(store: AuditStore) -> dict[str, str]:
    """In stream order: the registry reads WORKER, a case naming WORKER is read, events that must stay out of
    WORKER's log (another worker's case, a case naming only WORKER's family member, a registry event that is no
    read, a read of another worker), the registry reads WORKER again. Returns the event ids of WORKER's three reads."""
    first = registry_read([WORKER], ["nik"])
    case = cases_read(worker_ids=[WORKER, OTHER_WORKER], family_member_ids=[FAMILY_MEMBER])
    worker = {"workerId": WORKER, "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}
    registered = new_event("demimas.registry.worker.registered", WORKER, worker)
    last = registry_read([WORKER, OTHER_WORKER], ["phone"], agency="BP3MI")
    await publish(store, [first, case, cases_read(worker_ids=[OTHER_WORKER]),
                          cases_read(family_member_ids=[FAMILY_MEMBER]), registered,
                          registry_read([OTHER_WORKER], ["address"]), last])  # fmt: skip
    assert await ingest(store) == 7
    return {"first": first.id, "case": case.id, "last": last.id}


async def test_the_log_holds_registry_and_cases_reads_naming_the_worker_newest_first(
    store: AuditStore, history: dict[str, str]
) -> None:
    """Only `workerIds` puts a read in a worker's log: a case read that names just a family member of the worker
    stays out of it, as do other workers' reads and events that are no reads."""
    async with store.engine.connect() as conn:
        rows = await access_log(conn, WORKER)
        limited = await access_log(conn, WORKER, limit=2)
        other = await access_log(conn, OTHER_WORKER)
    assert [str(r["event_id"]) for r in rows] == [history["last"], history["case"], history["first"]]
    assert [r["type"] for r in rows] == [REGISTRY_READ, CASES_READ, REGISTRY_READ]
    assert [str(r["event_id"]) for r in limited] == [history["last"], history["case"]]  # the newest over both types
    assert len(other) == 4  # two case reads and two registry reads name the other worker


async def test_access_log_entries_say_which_service_recorded_them(store: AuditStore, history: dict[str, str]) -> None:
    context = AuditContext(
        Principal("dpo-1", Agency.KP2MI, frozenset({"subject:report"})),
        gateway_url="http://gateway.invalid",
        engine=store.engine,
        schema=SERVICE.schema,
        unit_of_work_class=AuditUnitOfWork,
    )
    query = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Worker {
        accessLog { service agency subject purpose fields operation eventId } } } }"""
    result = await schema.execute(query, {"r": [{"__typename": "Worker", "id": WORKER}]}, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    [worker] = result.data["_entities"]
    assert worker["accessLog"] == [
        {"service": "registry", "agency": "BP3MI", "subject": "bp3mi-officer", "purpose": "PLACEMENT_SERVICE",
         "fields": ["phone"], "operation": "ReadWorker", "eventId": history["last"]},
        {"service": "cases", "agency": "BP3MI", "subject": "bp3mi-case-officer", "purpose": "PROTECTION_CASE",
         "fields": ["people", "description"], "operation": "CaseFile", "eventId": history["case"]},
        {"service": "registry", "agency": "KP2MI", "subject": "kp2mi-officer", "purpose": "PLACEMENT_SERVICE",
         "fields": ["nik"], "operation": "ReadWorker", "eventId": history["first"]},
    ]  # fmt: skip


async def test_each_type_can_be_read_through_its_partial_index_even_on_a_generic_plan(
    store: AuditStore, history: dict[str, str]
) -> None:
    """asyncpg prepares the statement and PostgreSQL may switch it to a generic plan, which can use a partial index
    only when the query itself implies the index's predicate and names its expression: the types and the JSON path
    are literals in the SQL. Whether the planner prefers the index depends on the table's statistics, so to ask
    whether it *can* use it, the other ways are taken away in a transaction that is rolled back: the (type, seq)
    index and the other indexes covering the access types (migration 0004: agency, purpose) are dropped, sequential
    and plain index scans are off; what remains is a bitmap scan of the partial index, which must look the worker up
    in it (`Index Cond`). SQLAlchemy's `event["data"]["workerIds"]` fails this: the subscript is no expression of
    the index, which is then only read whole, as the list of the type's rows."""
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    compiled = access_log_query(WORKER).compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    nulls = ", ".join(["NULL"] * len(compiled.positiontup or ()))  # a generic plan does not look at the values
    async with store.owner.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        transaction = driver.transaction()
        await transaction.start()
        try:
            await driver.execute(
                "DROP INDEX audit.records_type, audit.records_access_agency, audit.records_access_purpose; "
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; "
                "SET LOCAL plan_cache_mode = force_generic_plan"
            )
            await driver.execute(f"PREPARE access_log AS {compiled}")
            rows = await driver.fetch(f"EXPLAIN EXECUTE access_log({nulls})")
            await driver.execute("DEALLOCATE access_log")
        finally:
            await transaction.rollback()  # records_type is back
    plan = [row[0].strip() for row in rows]
    assert not [line for line in plan if "Seq Scan" in line], plan
    for index in ("records_accessed_workers", "records_cases_accessed_workers"):
        [at] = [i for i, line in enumerate(plan) if line.startswith(f"->  Bitmap Index Scan on {index} ")]
        # looked up by the worker, not read whole as a list of the type's rows (which the subscript form did)
        assert plan[at + 1].startswith("Index Cond: (((event -> 'data'::text) -> 'workerIds'::text) @> $"), plan
