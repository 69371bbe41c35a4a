"""The auditors' queries on real PostgreSQL and NATS (issue 20): reads of personal data by worker (alone or in a
read of several workers), agency, purpose and time, paged newest first with a total; events by correlation id and by
village; an event's consequences. Each needs `audit:read` in the audit service's own code, and a regional token
gets nothing. The filters can use migration 0004's partial indexes even on a generic plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import asyncpg

from demimas_audit.adapters.queries import ACCESS_TYPES, AccessFilter, access_page_query
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
WORKER, NEIGHBOUR, STRANGER = (str(uuid.uuid4()) for _ in range(3))
CASE = str(uuid.uuid4())
VILLAGE, OTHER_VILLAGE = "16.06.13.2001", "16.06.13.2002"
AUDITOR = Principal("bpk-1", Agency.AUDITOR, frozenset({"audit:read", "stats:read"}))


def registry_read(worker_ids: list[str], *, agency: str, purpose: str, fields: list[str]) -> CloudEvent:
    """As the registry records a read (its domain/events.py): one event for every worker a request's field
    returned, under the subject `batch:N` when there are several."""
    data = {"agency": agency, "subject": f"{agency.lower()}-officer", "purpose": purpose, "workerIds": worker_ids,
            "fields": fields, "operation": "Page"}  # fmt: skip
    validate_data(REGISTRY_READ, data)
    subject = worker_ids[0] if len(worker_ids) == 1 else f"batch:{len(worker_ids)}"
    return new_event(REGISTRY_READ, subject, data, actor=Actor(agency, f"{agency.lower()}-officer"))


def cases_read(worker_ids: list[str]) -> CloudEvent:
    data: dict[str, Any] = {"agency": "BP3MI", "subject": "bp3mi-case-officer", "purpose": "PROTECTION_CASE",
                            "caseIds": [CASE], "fields": ["people"], "workerIds": worker_ids}  # fmt: skip
    validate_data(CASES_READ, data)
    return new_event(CASES_READ, CASE, data, actor=Actor("BP3MI", "bp3mi-case-officer"))


def context(store: AuditStore, principal: Principal) -> AuditContext:
    return AuditContext(principal, gateway_url="http://gateway.invalid", engine=store.engine, schema=SERVICE.schema,
                        unit_of_work_class=AuditUnitOfWork)  # fmt: skip


async def run(store: AuditStore, query: str, variables: dict[str, Any], principal: Principal = AUDITOR) -> Any:
    return await schema.execute(query, variables, context_value=context(store, principal))


async def answer(store: AuditStore, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await run(store, query, variables)
    assert result.errors is None, result.errors
    data: dict[str, Any] | None = result.data
    assert data is not None
    return data


ACCESSES = """query A($f: PersonalDataAccessFilter, $first: Int, $after: String) {
  personalDataAccesses(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id agency purpose fields service workerCount familyMemberCount caseIds subject
                   event { id subject data } } } } }"""


@pytest.fixture
async def reads(store: AuditStore) -> dict[str, CloudEvent]:
    """In stream order: a page of three workers read by DISNAKER (one event, subject batch:3), WORKER read alone by
    KP2MI, a case naming WORKER read by BP3MI, a read of STRANGER alone, an event that is no read."""
    page = registry_read([NEIGHBOUR, WORKER, STRANGER], agency="DISNAKER", purpose="PLACEMENT_SERVICE",
                         fields=["nik", "phone"])  # fmt: skip
    made = {
        "page": dataclasses.replace(page, time=page.time - dt.timedelta(hours=1)),  # an hour before the others
        "alone": registry_read([WORKER], agency="KP2MI", purpose="PROTECTION_CASE", fields=["address"]),
        "case": cases_read([WORKER]),
        "stranger": registry_read([STRANGER], agency="DISNAKER", purpose="STATISTICS", fields=["birthDate"]),
        "other": new_event("demimas.registry.worker.registered", WORKER,
                           {"workerId": WORKER, "villageCode": VILLAGE, "status": "CANDIDATE", "version": 1}),
    }  # fmt: skip
    await publish(store, list(made.values()))
    assert await ingest(store) == len(made)
    return made


async def test_a_worker_read_with_others_is_found_by_the_worker_newest_first(
    store: AuditStore, reads: dict[str, CloudEvent]
) -> None:
    data = await answer(store, ACCESSES, {"f": {"workerId": WORKER}})
    connection = data["personalDataAccesses"]
    nodes = [e["node"] for e in connection["edges"]]
    assert [n["id"] for n in nodes] == [reads["case"].id, reads["alone"].id, reads["page"].id]
    assert connection["totalCount"] == 3
    assert connection["pageInfo"]["hasNextPage"] is False
    page = nodes[2]
    event = page.pop("event")
    assert event["subject"] == "batch:3"  # the subject names no worker: the ids in the record do
    assert (event["id"], event["data"]["workerIds"]) == (reads["page"].id, [NEIGHBOUR, WORKER, STRANGER])
    assert page == {"id": reads["page"].id, "agency": "DISNAKER", "purpose": "PLACEMENT_SERVICE",
                    "fields": ["nik", "phone"], "service": "registry", "workerCount": 3, "familyMemberCount": 0,
                    "caseIds": [], "subject": "disnaker-officer"}  # fmt: skip
    assert (nodes[0]["service"], nodes[0]["caseIds"]) == ("cases", [CASE])
    # the neighbour was only in the page
    neighbour = await answer(store, ACCESSES, {"f": {"workerId": NEIGHBOUR}})
    assert [e["node"]["id"] for e in neighbour["personalDataAccesses"]["edges"]] == [reads["page"].id]


async def test_pages_follow_the_cursor_and_the_total_counts_the_whole_list(
    store: AuditStore, reads: dict[str, CloudEvent]
) -> None:
    seen: list[str] = []
    after = None
    while True:
        data = await answer(store, ACCESSES, {"f": {"workerId": WORKER}, "first": 2, "after": after})
        connection = data["personalDataAccesses"]
        assert connection["totalCount"] == 3
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [reads["case"].id, reads["alone"].id, reads["page"].id]


async def test_agency_purpose_and_time_narrow_the_reads(store: AuditStore, reads: dict[str, CloudEvent]) -> None:
    async def ids(f: dict[str, Any]) -> list[str]:
        data = await answer(store, ACCESSES, {"f": f})
        found = [e["node"]["id"] for e in data["personalDataAccesses"]["edges"]]
        assert data["personalDataAccesses"]["totalCount"] == len(found)
        return found

    assert await ids({"agency": "DISNAKER"}) == [reads["stranger"].id, reads["page"].id]
    assert await ids({"agency": "DISNAKER", "workerId": WORKER}) == [reads["page"].id]
    assert await ids({"purpose": "PROTECTION_CASE"}) == [reads["case"].id, reads["alone"].id]
    assert await ids({"purpose": "STATISTICS", "workerId": WORKER}) == []
    assert await ids({}) == [reads[k].id for k in ("stranger", "case", "alone", "page")]
    alone = reads["alone"].time.isoformat()  # `from` is inclusive, `to` exclusive
    assert await ids({"workerId": WORKER, "from": alone}) == [reads["case"].id, reads["alone"].id]
    assert await ids({"workerId": WORKER, "to": alone}) == [reads["page"].id]
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert await ids({"workerId": WORKER, "from": tomorrow}) == []
    assert len(await ids({"workerId": WORKER, "to": tomorrow})) == 3


async def test_bad_filters_are_refused_with_their_field(store: AuditStore, reads: dict[str, CloudEvent]) -> None:
    for variables, field in (({"f": {"workerId": "batch:3"}}, "filter.workerId"), ({"after": "nonsense"}, "after"),
                             ({"first": 0}, "first")):  # fmt: skip
        result = await run(store, ACCESSES, variables)
        assert result.errors, variables
        assert result.errors[0].extensions is not None
        assert result.errors[0].extensions.get("code") == "BAD_USER_INPUT", result.errors
        assert field in str(result.errors[0].extensions.get("field", "")) or field in result.errors[0].message


async def test_without_audit_read_nothing_is_answered_and_a_regional_auditor_sees_none(
    store: AuditStore, reads: dict[str, CloudEvent]
) -> None:
    """The audit service checks the scope itself (not only the gateway): a data-protection officer holding
    subject:report, or an agency reading personal data, gets FORBIDDEN; an auditor of one province gets an empty
    list and a zero count (audit records lie in no region)."""
    query = """query($w: ID!) { personalDataAccesses(filter: {workerId: $w}) { totalCount edges { node { id } } }
        auditEvents(filter: {villageCode: "16.06.13.2001"}) { edges { node { id consequences { id } } } } }"""
    for principal in (Principal("dpo-1", Agency.KP2MI, frozenset({"subject:report", "registry:read", "pii:read"})),
                      Principal("disnaker-1", Agency.DISNAKER, frozenset({"registry:read", "pii:read"}))):  # fmt: skip
        result = await run(store, query, {"w": WORKER}, principal)
        assert result.data == {"personalDataAccesses": None, "auditEvents": None}
        assert result.errors is not None
        assert {e.extensions.get("code") for e in result.errors if e.extensions} == {"FORBIDDEN"}
    regional = Principal("bpk-16", Agency.AUDITOR, frozenset({"audit:read"}), region="16")
    result = await run(store, query, {"w": WORKER}, regional)
    assert result.errors is None, result.errors
    assert result.data == {"personalDataAccesses": {"totalCount": 0, "edges": []}, "auditEvents": {"edges": []}}


EVENTS = """query E($f: AuditEventFilter) { auditEvents(filter: $f) {
    edges { node { id type correlationId causedBy { id } consequences { id type } } } } }"""


async def test_events_by_correlation_id_and_by_village_with_their_consequences(store: AuditStore) -> None:
    """A flow of one case: opened (its own correlation id), then two events caused by the opening, one of which
    causes a third; an unrelated event of another village and flow. `consequences` are the forward links of
    `causedBy`, in chain order."""
    flow = str(uuid.uuid4())
    worker = str(uuid.uuid4())

    def registered(village: str, *, caused_by: CloudEvent | None = None, correlation: str | None = None) -> CloudEvent:
        data = {"workerId": worker, "villageCode": village, "status": "CANDIDATE", "version": 1}
        return new_event("demimas.registry.worker.registered", worker, data,
                         causation_id=caused_by.id if caused_by else None, correlation_id=correlation)  # fmt: skip

    opened = registered(VILLAGE, correlation=flow)
    first = registered(VILLAGE, caused_by=opened, correlation=flow)
    second = registered(OTHER_VILLAGE, caused_by=opened, correlation=flow)
    third = registered(VILLAGE, caused_by=first, correlation=flow)
    unrelated = registered(OTHER_VILLAGE)
    await publish(store, [opened, first, unrelated, second, third])
    assert await ingest(store) == 5

    async def nodes(f: dict[str, Any]) -> list[dict[str, Any]]:
        data = await answer(store, EVENTS, {"f": f})
        return [e["node"] for e in data["auditEvents"]["edges"]]

    by_flow = await nodes({"correlationId": flow})
    assert [n["id"] for n in by_flow] == [opened.id, first.id, second.id, third.id]
    assert all(n["correlationId"] == flow for n in by_flow)
    assert [c["id"] for c in by_flow[0]["consequences"]] == [first.id, second.id]
    assert [c["id"] for c in by_flow[1]["consequences"]] == [third.id]
    assert by_flow[2]["consequences"] == by_flow[3]["consequences"] == []
    assert by_flow[3]["causedBy"] == {"id": first.id}  # the backward link agrees
    assert [n["id"] for n in await nodes({"villageCode": VILLAGE})] == [opened.id, first.id, third.id]
    assert [n["id"] for n in await nodes({"villageCode": OTHER_VILLAGE})] == [unrelated.id, second.id]
    assert [n["id"] for n in await nodes({"villageCode": OTHER_VILLAGE, "correlationId": flow})] == [second.id]
    assert await nodes({"correlationId": str(uuid.uuid4())}) == []
    result = await run(store, EVENTS, {"f": {"villageCode": "16.06"}})
    assert result.errors
    assert result.errors[0].extensions
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    # the same forward links through _entities (the gateway's way to an AuditEvent), with the scope checked there
    entities = "query($r: [_Any!]!) { _entities(representations: $r) { ... on AuditEvent { consequences { id } } } }"

    def representation() -> dict[str, Any]:
        return {"r": [{"__typename": "AuditEvent", "id": opened.id}]}

    assert (await answer(store, entities, representation()))["_entities"] == [
        {"consequences": [{"id": first.id}, {"id": second.id}]}
    ]
    refused = await run(store, entities, representation(),
                        Principal("kp2mi-1", Agency.KP2MI, frozenset({"registry:read", "subject:report"})))  # fmt: skip
    assert refused.errors
    assert refused.errors[0].extensions
    assert refused.errors[0].extensions["code"] == "FORBIDDEN", refused.errors


async def test_the_access_filters_can_use_their_partial_indexes_on_a_generic_plan(store: AuditStore) -> None:
    """As for the access log (test_access_log.py): with the other ways taken away in a rolled-back transaction,
    each branch of the agency and of the purpose filter looks its value up in migration 0004's index."""
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    async with store.owner.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        for f, key, index in ((AccessFilter(agency="BNN"), "agency", "records_access_agency"),
                              (AccessFilter(purpose="AUDIT"), "purpose", "records_access_purpose")):  # fmt: skip
            compiled = access_page_query(f, first=10, before=None).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
            nulls = ", ".join(["NULL"] * len(compiled.positiontup or ()))
            transaction = driver.transaction()
            await transaction.start()
            try:
                await driver.execute(
                    "DROP INDEX audit.records_type; SET LOCAL enable_seqscan = off; "
                    "SET LOCAL plan_cache_mode = force_generic_plan"
                )
                await driver.execute(f"PREPARE page AS {compiled}")
                rows = await driver.fetch(f"EXPLAIN EXECUTE page({nulls})")
                await driver.execute("DEALLOCATE page")
            finally:
                await transaction.rollback()
            plan = "\n".join(row[0] for row in rows)
            scans = re.findall(rf"(?:Index Scan(?: Backward)? using|Bitmap Index Scan on) {index} ", plan)
            assert len(scans) == len(ACCESS_TYPES), plan  # one per type's branch, looked up by the value:
            assert plan.count(f"->> '{key}'::text) = ($") == len(ACCESS_TYPES), plan
            assert "Seq Scan" not in plan, plan
