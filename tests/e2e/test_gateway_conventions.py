"""Integrator conventions through the gateway with the agencies' own tokens (issue 20 item 5): `workerByNik` (pii:read,
a purpose, the region rule, recorded as a read of the NIK), `registerWorker`'s duplicate-NIK answer that names the
existing worker only to a caller who may read it, and `regionPrefix` next to the deprecated region filters."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

HOME = "16.06.13.2001"  # Musi Banyuasin: inside DISNAKER 16.06's region
ELSEWHERE = "33.07.03.2011"  # Central Java: inside DISNAKER 33.07's, outside 16.06's
REGISTER = "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }"
BY_NIK = "query ByNik($nik: String!) { workerByNik(nik: $nik) { id village { code } } }"
PLACEMENT = "PLACEMENT_SERVICE"


NOBODYS_NIK = "1606131205900999"
"""A man's NIK of the same district and birth date as `person`'s, whose serial (below 1000) `person` never draws:
nobody holds it. (A second `person(...)` NIK was one of the 9,000 serials, the test's own worker's once in 9,000.)"""


def person(village: str) -> dict[str, Any]:
    """A man born 12 May 1990 whose NIK (district 16.06.13, a fresh serial from 1000) no other test uses."""
    return {
        "nik": f"160613120590{secrets.randbelow(9000) + 1000:04d}",
        "fullName": "Budi Santoso",
        "sex": "MALE",
        "birthDate": "1990-05-12",
        "educationLevel": "SMA",
        "villageCode": village,
    }


async def registered(endpoints: Endpoints, token: str, values: dict[str, Any]) -> str:
    for _ in range(5):  # a random serial another run already took: try another
        _, body = await ask(endpoints.gateway, REGISTER, {"in": values}, token=token)
        if "errors" not in body:
            return str(body["data"]["registerWorker"]["id"])
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
        values["nik"] = person(values["villageCode"])["nik"]
    raise AssertionError("no free NIK")


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") in (None, {"registerWorker": None}, {"workerByNik": None}), body
    [error] = body["errors"]
    return error  # type: ignore[no-any-return]


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    for _ in range(600):  # 60 s on a loaded machine; a passing check returns at once
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_a_duplicate_nik_names_the_existing_worker_only_to_a_caller_who_may_read_it(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, home_office = mint("KP2MI"), mint("DISNAKER", region="16.06")
    values = person(HOME)
    existing = await registered(endpoints, kp2mi, values)

    # Inside the caller's region, with registry:read, pii:read and a purpose (as workerByNik): CONFLICT naming the
    # record (tests/e2e/test_hostile_i20.py: without pii:read or a purpose it names nobody).
    for token in (home_office, kp2mi):
        _, body = await ask(endpoints.gateway, REGISTER, {"in": values}, token=token, purpose=PLACEMENT)
        conflict = only_error(body)
        assert conflict["extensions"]["code"] == "CONFLICT"
        assert conflict["extensions"]["existingWorkerId"] == existing
        assert existing in conflict["message"]

    # Another regency's office registering the same NIK in its own village: nothing of the worker in 16.06.
    other_office = mint("DISNAKER", region="33.07")
    _, body = await ask(endpoints.gateway, REGISTER, {"in": values | {"villageCode": ELSEWHERE}}, token=other_office)
    refused = only_error(body)
    assert "existingWorkerId" not in refused["extensions"]
    assert "workerId" not in refused["extensions"]
    for hint in (existing, HOME, "16.06", "Musi"):
        assert hint not in str(refused), refused
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert refused["extensions"]["reason"] == "NIK_NOT_REGISTRABLE"
    # ... and it may not look the person up either: as for a NIK nobody holds.
    _, body = await ask(endpoints.gateway, BY_NIK, {"nik": values["nik"]}, token=other_office, purpose=PLACEMENT)
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"
    assert existing not in str(body)

    # Inside the region, but a token narrowed below registry:read: the same CONFLICT without any id.
    writer_only = mint("DISNAKER", region="16.06", scopes=["registry:write"])
    _, body = await ask(endpoints.gateway, REGISTER, {"in": values}, token=writer_only)
    assert existing not in str(body), body
    errors = body.get("errors") or []
    assert errors, body
    assert all("existingWorkerId" not in e.get("extensions", {}) for e in errors)
    # (through the gateway the mutation is refused before it runs: its answer, a Worker, needs registry:read; the
    # registry's own CONFLICT without an id for such a token is in services/registry/tests)


async def test_worker_by_nik_needs_pii_read_and_a_purpose_and_is_recorded_as_a_read(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, home_office, auditor = mint("KP2MI"), mint("DISNAKER", region="16.06"), mint("AUDITOR")
    values = person(HOME)
    worker = await registered(endpoints, kp2mi, values)

    _, body = await ask(endpoints.gateway, BY_NIK, {"nik": values["nik"]}, token=home_office, purpose=PLACEMENT)
    assert body.get("errors") is None, body
    assert body["data"]["workerByNik"] == {"id": worker, "village": {"code": HOME}}

    accesses = """query A($id: ID!) { personalDataAccesses(filter: {workerId: $id}, first: 50) {
        totalCount edges { node { agency purpose fields operation event { data } } } } }"""

    async def recorded() -> list[dict[str, Any]]:
        _, answer = await ask(endpoints.gateway, accesses, {"id": worker}, token=auditor)
        assert answer.get("errors") is None, answer
        return [e["node"] for e in answer["data"]["personalDataAccesses"]["edges"] if e["node"]["operation"] == "ByNik"]

    [read] = await until(recorded, "the lookup by NIK reached the audit store")
    assert (read["agency"], read["purpose"], read["fields"]) == ("DISNAKER", PLACEMENT, ["nik"])
    assert read["event"]["data"]["workerIds"] == [worker]
    assert values["nik"] not in str(read)  # the record names the worker, never the NIK

    # The lookup that also returns the NIK is one read of it: one record, not one for the lookup and one for the field.
    with_nik = "query ByNikWithNik($nik: String!) { workerByNik(nik: $nik) { id nik } }"
    _, body = await ask(endpoints.gateway, with_nik, {"nik": values["nik"]}, token=home_office, purpose=PLACEMENT)
    assert body["data"]["workerByNik"] == {"id": worker, "nik": values["nik"]}, body
    marker = "query Marker($id: ID!) { worker(id: $id) { nik } }"
    _, body = await ask(endpoints.gateway, marker, {"id": worker}, token=home_office, purpose=PLACEMENT)
    assert body["data"]["worker"]["nik"] == values["nik"], body

    async def with_nik_reads() -> list[dict[str, Any]] | None:
        _, answer = await ask(endpoints.gateway, accesses, {"id": worker}, token=auditor)
        nodes = [e["node"] for e in answer["data"]["personalDataAccesses"]["edges"]]
        if not any(n["operation"] == "Marker" for n in nodes):  # records arrive in order: all before it are in
            return None
        return [n for n in nodes if n["operation"] == "ByNikWithNik"]

    assert [r["fields"] for r in await until(with_nik_reads, "the marker read reached the audit store")] == [["nik"]]

    # No purpose: refused, nothing answered.
    _, body = await ask(endpoints.gateway, BY_NIK, {"nik": values["nik"]}, token=home_office)
    assert worker not in str(body.get("data")), body
    assert body.get("errors"), body

    # No pii:read (KEMENPPPA reads who people are, not their personal fields): nothing answered.
    _, body = await ask(endpoints.gateway, BY_NIK, {"nik": values["nik"]}, token=mint("KEMENPPPA"), purpose=PLACEMENT)
    assert worker not in str(body.get("data")), body
    assert body.get("errors"), body

    # A malformed NIK: BAD_USER_INPUT saying what to fix, without echoing it.
    for bad, hint in (("16061312059", "16 digits"), ("9906131205901234", "province")):
        _, body = await ask(endpoints.gateway, BY_NIK, {"nik": bad}, token=home_office, purpose=PLACEMENT)
        error = only_error(body)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert hint in error["message"]
        assert bad not in error["message"]

    # Nobody holds it: NOT_FOUND, the same answer as outside the region (the other test).
    _, body = await ask(endpoints.gateway, BY_NIK, {"nik": NOBODYS_NIK}, token=kp2mi, purpose=PLACEMENT)
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"

    # Each lookup that returned a worker is recorded; the refused and the missing ones add nothing for this worker.
    assert len(await recorded()) == 1


async def test_region_prefix_and_the_deprecated_region_filters_give_the_same_lists(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")

    async def answer(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        _, body = await ask(endpoints.gateway, query, variables, token=kp2mi)
        assert body.get("errors") is None, body
        return body["data"]  # type: ignore[no-any-return]

    villages = "query V($a: String, $b: String) { villages(regionPrefix: $a, regencyCode: $b, first: 500) " \
        "{ totalCount edges { node { code } } } }"  # fmt: skip
    new = (await answer(villages, {"a": "16.06.13", "b": None}))["villages"]
    old = (await answer(villages, {"a": None, "b": "16.06.13"}))["villages"]
    assert new == old
    assert new["totalCount"] == len(new["edges"]) > 0
    assert all(e["node"]["code"].startswith("16.06.13.") for e in new["edges"])
    _, body = await ask(endpoints.gateway, villages, {"a": "16.06", "b": "16.06"}, token=kp2mi)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    designations = "query D($f: DesignationFilter) { designations(filter: $f, first: 500) " \
        "{ totalCount edges { node { villageCode } } } }"  # fmt: skip
    for prefix, old_name in (("16", "provinceCode"), ("16.06", "regencyCode")):
        by_prefix = (await answer(designations, {"f": {"regionPrefix": prefix}}))["designations"]
        by_old = (await answer(designations, {"f": {old_name: prefix}}))["designations"]
        assert by_prefix == by_old
        assert by_prefix["totalCount"] == len(by_prefix["edges"])
        assert all(e["node"]["villageCode"].startswith(prefix + ".") for e in by_prefix["edges"])
    everything = (await answer(designations, {"f": None}))["designations"]
    assert everything["totalCount"] == len(everything["edges"])


async def walk(
    endpoints: Endpoints, token: str, query: str, variables: dict[str, Any], path: list[str]
) -> tuple[int, int]:
    """(totalCount of the first page, how many nodes all pages of `first: 2` hold)."""
    total, seen, after = None, 0, None
    for _ in range(500):
        _, body = await ask(endpoints.gateway, query, {**variables, "after": after}, token=token)
        assert body.get("errors") is None, body
        connection = body["data"]
        for key in path:
            connection = connection[key]
        total = connection["totalCount"] if total is None else total
        seen += len(connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return int(total), seen
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("the connection did not end")


PAGE = "totalCount edges { cursor } pageInfo { hasNextPage endCursor }"


async def test_total_count_equals_the_nodes_of_all_pages(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    """The connections that got `totalCount` in issue 20: each counts what its pages hold, under the same filter and
    region rule (the change feed's and the audit store's over made-up villages of their own, so that the rest of the
    session's events do not move the numbers)."""
    kp2mi, auditor = mint("KP2MI"), mint("AUDITOR")
    nc = await connect(stack.nats_url, name="e2e-conventions")
    serial = uuid.uuid4().int % 900 + 5000
    here, there = f"16.06.13.{serial}", f"33.07.03.{serial}"
    try:
        js = nc.jetstream()
        start = int((await js.stream_info(STREAM)).state.last_seq)
        for code in (here, here, here, there):
            worker = str(uuid.uuid4())
            data = {"workerId": worker, "villageCode": code, "status": "CANDIDATE", "version": 1}
            event = new_event("demimas.registry.worker.registered", worker, data)
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    finally:
        await nc.close()

    changes = """query C($after: String, $region: String) { changes(after: $after, first: 2, regionPrefix: $region,
        types: ["demimas.registry.worker.registered"]) { %s } }""".replace("%s", PAGE)
    for token, region, expected in ((kp2mi, here, 3), (kp2mi, there, 1), (mint("DISNAKER", region="16.06"), there, 0)):
        _, body = await ask(endpoints.gateway, changes, {"after": str(start), "region": region}, token=token)
        assert body.get("errors") is None, body
        assert body["data"]["changes"]["totalCount"] == expected

    audit = """query A($after: String, $v: String!) { auditEvents(filter: {villageCode: $v}, first: 2, after: $after)
        { %s } }""".replace("%s", PAGE)

    async def stored() -> bool:
        return (await walk(endpoints, auditor, audit, {"v": here}, ["auditEvents"]))[1] == 3

    await until(stored, "the made-up registrations reached the audit store")
    assert await walk(endpoints, auditor, audit, {"v": here}, ["auditEvents"]) == (3, 3)

    lists = [
        ("query Q($after: String) { designations(first: 2, after: $after) { %s } }", {}, ["designations"]),
        ("query Q($after: String) { proposals(first: 2, after: $after) { %s } }", {}, ["proposals"]),
        ("query Q($after: String) { pilotProjects(filter: {regionPrefix: \"16\"}, first: 2, after: $after) { %s } }",
         {}, ["pilotProjects"]),
        ("query Q($after: String, $v: String!) { village(code: $v) { activities(first: 2, after: $after) { %s } } }",
         {"v": HOME}, ["village", "activities"]),
        ("query Q($after: String, $v: String!) { village(code: $v) { reintegrationQueue(first: 2, after: $after) "
         "{ %s } } }", {"v": HOME}, ["village", "reintegrationQueue"]),
    ]  # fmt: skip
    for query, variables, path in lists:
        total, seen = await walk(endpoints, kp2mi, query.replace("%s", PAGE), variables, path)
        assert total == seen, (path, total, seen)
