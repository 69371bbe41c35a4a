"""A family member as a federation entity (`FamilyMember @key(fields: "id")`, so that the cases subgraph can name
one): `_entities` answers under exactly the rules of reaching the member through its worker's `family`, on real
PostgreSQL and NATS.

Found: the member, its read recorded (`personal_data.accessed`) like the worker's list; outside a regional caller's
region and unknown: null alike, without an error or a record; a caller without registry:read or family:read, or
without a purpose: refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.db.engine import create_engine

from .conftest import GraphQL, worker_input

pytestmark = pytest.mark.integration

ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) { ... on FamilyMember { id relation fullName birthDate minor consent { givenBy } } }
}"""
ADD = """
mutation($id: ID!, $input: FamilyMemberInput!) { addFamilyMember(workerId: $id, input: $input) { id fullName } }
"""
CHILD = {"relation": "CHILD", "fullName": "Putri Aminah", "birthDate": "2019-04-01",
         "consent": {"givenBy": "PARENT", "date": "2026-01-02", "basis": "Formulir 7/2026"}}  # fmt: skip
UNKNOWN = "0190a5a0-0000-7000-8000-00000000f00d"
OUTSIDE_VILLAGE = "32.01.01.1002"


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def members(*ids: str) -> dict[str, Any]:
    return {"r": [{"__typename": "FamilyMember", "id": i} for i in ids]}


async def worker_with_child(gql: GraphQL, token: str, village: str = "16.06.13.2001") -> tuple[str, str]:
    body = await gql("mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }",
                     {"input": worker_input(village=village)}, token=token)  # fmt: skip
    assert "errors" not in body, body
    worker: str = body["data"]["registerWorker"]["id"]
    body = await gql(ADD, {"id": worker, "input": CHILD}, token=token, purpose="FAMILY_SUPPORT")
    assert "errors" not in body, body
    return worker, body["data"]["addFamilyMember"]["id"]


async def records_naming(registry_db: Any, member_id: str) -> list[dict[str, Any]]:
    """The data of every `personal_data.accessed` record that names the family member."""
    engine = create_engine(registry_db.admin_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT payload->'data' AS data FROM registry.outbox "
                        "WHERE type = 'demimas.registry.personal_data.accessed' "
                        "AND payload->'data'->'familyMemberIds' ? :id ORDER BY id"
                    ),
                    {"id": member_id},
                )
            ).all()
    finally:
        await engine.dispose()
    return [row.data for row in rows]


async def test_a_family_member_by_reference_is_answered_and_its_read_recorded(
    gql: GraphQL, token: Callable[..., str], registry_db: Any
) -> None:
    kp2mi = token("KP2MI")
    worker, child = await worker_with_child(gql, kp2mi)
    before = await records_naming(registry_db, child)  # addFamilyMember's answer was recorded too
    body = await gql(ENTITIES, members(child), token=kp2mi, purpose="PROTECTION_CASE")
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [{"id": child, "relation": "CHILD", "fullName": "Putri Aminah",
                                          "birthDate": "2019-04-01", "minor": True,
                                          "consent": {"givenBy": "PARENT"}}]  # fmt: skip
    records = await records_naming(registry_db, child)
    assert len(records) == len(before) + 1
    record = records[-1]
    assert record["workerIds"] == [worker]
    assert record["familyMemberIds"] == [child]
    assert record["fields"] == ["family"]
    assert (record["agency"], record["purpose"]) == ("KP2MI", "PROTECTION_CASE")


async def test_members_asked_together_are_one_record(gql: GraphQL, token: Callable[..., str], registry_db: Any) -> None:
    kp2mi = token("KP2MI")
    first_worker, first = await worker_with_child(gql, kp2mi)
    second_worker, second = await worker_with_child(gql, kp2mi)
    body = await gql(ENTITIES, members(first, second), token=kp2mi, purpose="FAMILY_SUPPORT")
    assert "errors" not in body, body
    assert [m["id"] for m in body["data"]["_entities"]] == [first, second]
    [record] = [r for r in await records_naming(registry_db, first) if r["purpose"] == "FAMILY_SUPPORT"
                and second in r["familyMemberIds"]]  # fmt: skip
    assert sorted(record["workerIds"]) == sorted([first_worker, second_worker])


async def test_a_regional_caller_sees_members_in_its_region_and_nothing_of_others(
    gql: GraphQL, token: Callable[..., str], registry_db: Any
) -> None:
    kp2mi = token("KP2MI")
    _, inside = await worker_with_child(gql, kp2mi)
    _, outside = await worker_with_child(gql, kp2mi, village=OUTSIDE_VILLAGE)
    bp3mi = token("BP3MI", region="16")
    body = await gql(ENTITIES, members(inside, outside, UNKNOWN), token=bp3mi, purpose="FAMILY_SUPPORT")
    assert "errors" not in body, body
    found, elsewhere, unknown = body["data"]["_entities"]
    assert found["id"] == inside
    assert elsewhere is None
    assert unknown is None  # outside the region and nobody's: the same answer
    assert [r["agency"] for r in await records_naming(registry_db, inside)] == ["KP2MI", "BP3MI"]
    assert [r["agency"] for r in await records_naming(registry_db, outside)] == ["KP2MI"]  # addFamilyMember's only


async def test_an_unknown_id_is_null_without_an_error(gql: GraphQL, token: Callable[..., str]) -> None:
    body = await gql(ENTITIES, members(UNKNOWN), token=token("KP2MI"), purpose="FAMILY_SUPPORT")
    assert body == {"data": {"_entities": [None]}}


@pytest.mark.parametrize(
    ("agency", "claims"),
    [
        ("DISNAKER", {"region": "16.06"}),  # registry:read and pii:read, no family:read
        ("KEMENPPPA", {"scopes": ["family:read", "stats:read"]}),  # family:read without the worker's registry:read
        ("BNN", {}),  # neither
        ("AUDITOR", {}),
    ],
)
async def test_a_caller_without_the_scopes_of_the_workers_path_is_refused(
    gql: GraphQL, token: Callable[..., str], registry_db: Any, agency: str, claims: dict[str, Any]
) -> None:
    _, child = await worker_with_child(gql, token("KP2MI"))
    body = await gql(ENTITIES, members(child), token=token(agency, **claims), purpose="FAMILY_SUPPORT")
    assert body["data"] == {"_entities": [None]}
    assert codes(body) == ["FORBIDDEN"]
    assert [r["agency"] for r in await records_naming(registry_db, child)] == ["KP2MI"]  # addFamilyMember's


async def test_a_family_member_needs_a_purpose_and_a_token(gql: GraphQL, token: Callable[..., str]) -> None:
    _, child = await worker_with_child(gql, token("KP2MI"))
    body = await gql(ENTITIES, members(child), token=token("KP2MI"))
    assert body["data"] == {"_entities": [None]}
    assert codes(body) == ["PURPOSE_REQUIRED"]
    body = await gql(ENTITIES, members(child))
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_an_id_that_is_no_uuid_is_bad_input(gql: GraphQL, token: Callable[..., str]) -> None:
    body = await gql(ENTITIES, members("not-an-id"), token=token("KP2MI"), purpose="FAMILY_SUPPORT")
    assert body["data"] == {"_entities": [None]}
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_regional_office_still_reads_and_adds_family_in_its_region(
    gql: GraphQL, token: Callable[..., str]
) -> None:
    """FamilyMember is now region-bound (its worker's village): the worker's `family` and `addFamilyMember`
    answer a regional caller as before."""
    bp3mi = token("BP3MI", region="16")
    worker, child = await worker_with_child(gql, bp3mi)
    body = await gql("query($id: ID!) { worker(id: $id) { family { id fullName } } }", {"id": worker}, token=bp3mi,
                     purpose="FAMILY_SUPPORT")  # fmt: skip
    assert "errors" not in body, body
    assert body["data"]["worker"]["family"] == [{"id": child, "fullName": "Putri Aminah"}]
