"""Through the gateway over the real registry: every answer equals the registry's own, and the gateway enforces
the scopes the registry declares before it plans."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

VILLAGE = "16.06.13.2001"
_serial = itertools.count(7001)

REGISTER = """
mutation Register($input: RegisterWorkerInput!) {
  registerWorker(input: $input) { id fullName status village { code name } }
}"""
VILLAGE_QUERY = """
query V($code: String!) {
  village(code: $code) {
    code name kind
    migrantStats { total candidates abroad returned proceduralShare byDestination { country count } }
    workers(first: 3) { totalCount edges { node { id fullName nikMasked status } } pageInfo { hasNextPage } }
  }
}"""


def worker_input() -> dict[str, Any]:
    return {
        "nik": f"160613470394{next(_serial):04d}",
        "fullName": "Siti Aminah",
        "sex": "FEMALE",
        "birthDate": "1994-03-07",
        "educationLevel": "SMK",
        "villageCode": VILLAGE,
        "phone": "0812-3456-7890",
    }


async def test_mutation_and_queries_equal_the_registry_own_answers(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    token = mint("KP2MI")
    status, created = await ask(endpoints.gateway, REGISTER, {"input": worker_input()}, token=token)
    assert status == 200
    assert "errors" not in created, created
    worker = created["data"]["registerWorker"]
    assert worker["village"]["code"] == VILLAGE
    for query, variables in (
        (VILLAGE_QUERY, {"code": VILLAGE}),
        ("query W($id: ID!) { worker(id: $id) { id fullName status village { code } } }", {"id": worker["id"]}),
        ('{ villages(regencyCode: "16.06", first: 2) { edges { node { code name } } totalCount } }', None),
    ):
        status, body = await ask(endpoints.gateway, query, variables, token=token)
        assert len(body.pop("extensions")["traceId"]) == 32  # the gateway's own addition: the request's trace id
        through = status, body
        direct = await ask(endpoints.direct, query, variables, token=token)
        assert through == direct
        assert "errors" not in through[1], through


async def test_personal_fields_need_the_scope_and_the_purpose_travels(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")
    _, created = await ask(endpoints.gateway, REGISTER, {"input": worker_input()}, token=kp2mi)
    worker_id = created["data"]["registerWorker"]["id"]
    query = "query W($id: ID!) { worker(id: $id) { id phone nikMasked } }"
    # KP2MI has pii:read; the purpose header reaches the registry, which records the access and answers
    _, with_purpose = await ask(endpoints.gateway, query, {"id": worker_id}, token=kp2mi, purpose="PROTECTION_CASE")
    assert with_purpose["data"]["worker"]["phone"] == "+6281234567890"  # normalised by the registry
    _, without = await ask(endpoints.gateway, query, {"id": worker_id}, token=kp2mi)
    assert without["data"]["worker"]["phone"] is None
    assert without["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    # KemenImipas reads workers but has no pii:read: the gateway removes the field before asking the registry
    imipas = mint("KEMENIMIPAS")
    _, answer = await ask(endpoints.gateway, query, {"id": worker_id}, token=imipas, purpose="PROTECTION_CASE")
    assert answer["data"] == {
        "worker": {"id": worker_id, "phone": None, "nikMasked": answer["data"]["worker"]["nikMasked"]}
    }
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [
        (["worker", "phone"], "UNAUTHORIZED_FIELD_OR_TYPE")
    ]


async def test_scopes_per_agency_and_anonymous_callers(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    query = 'query { village(code: "16.06.13.2001") { code migrantStats { total } workers(first: 1) { totalCount } } }'
    _, kemendes = await ask(endpoints.gateway, query, token=mint("KEMENDES"))  # stats:read, no registry:read
    assert kemendes["data"]["village"]["migrantStats"]["total"] >= 0
    assert kemendes["data"]["village"]["workers"] is None
    assert [e["path"] for e in kemendes["errors"]] == [["village", "workers"]]
    status, anonymous = await ask(endpoints.gateway, query)
    assert status == 200
    assert anonymous["data"] == {"village": None}
    assert {e["extensions"]["code"] for e in anonymous["errors"]} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    status, anonymous = await ask(endpoints.gateway, "{ __typename }")
    assert anonymous["data"] == {"__typename": "Query"}


async def test_bad_tokens_are_refused_with_401(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    status, body = await ask(endpoints.gateway, "{ __typename }", token="not-a-jwt")
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    expired = mint("KP2MI", ttl=dt.timedelta(minutes=-10))
    status, body = await ask(endpoints.gateway, "{ __typename }", token=expired)
    assert status == 401
    assert body["errors"][0]["extensions"]["reason"] == "expired"


async def test_bad_input_is_the_registry_error_unchanged(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    token = mint("KP2MI")
    bad = {**worker_input(), "nik": "123"}
    through = await ask(endpoints.gateway, REGISTER, {"input": bad}, token=token)
    direct = await ask(endpoints.direct, REGISTER, {"input": bad}, token=token)
    assert through[1]["data"] == direct[1]["data"] == {"registerWorker": None}
    assert through[1]["errors"][0]["extensions"]["code"] == direct[1]["errors"][0]["extensions"]["code"]
    assert through[1]["errors"][0]["message"] == direct[1]["errors"][0]["message"]
