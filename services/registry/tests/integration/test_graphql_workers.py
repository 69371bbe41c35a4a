"""The registry subgraph end to end: GraphQL over HTTP (in-process ASGI) on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect

from .conftest import GraphQL, fresh_nik, worker_input

pytestmark = pytest.mark.integration

REGISTER = """
mutation($input: RegisterWorkerInput!) {
  registerWorker(input: $input) { id status version nikMasked fullName village { code name } }
}"""
DEPART = """
mutation($id: ID!, $input: DepartureInput!) {
  recordDeparture(workerId: $id, input: $input) { id status version latestDeparture { destinationCountry } }
}"""
RETURN = """
mutation($id: ID!, $input: ReturnInput!) { recordReturn(workerId: $id, input: $input) { id status version } }
"""
PERSONAL = "query($id: ID!) { worker(id: $id) { id nikMasked nik birthDate phone } }"
STATS = """
query($code: String!) {
  village(code: $code) { name migrantStats { total abroad candidates proceduralShare byDestination { country count } } }
}"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def departure(on: str = "2025-02-01", **overrides: Any) -> dict[str, Any]:
    values = {
        "destinationCountry": "MY",
        "sector": "FORMAL",
        "occupation": "Operator produksi",
        "scheme": "P_TO_P",
        "procedural": True,
        "departureDate": on,
        "contractEnd": "2027-02-01",
    }
    values.update(overrides)
    return values


async def register(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": worker_input(**overrides)}, token=token)
    assert "errors" not in body, body
    worker: dict[str, Any] = body["data"]["registerWorker"]
    return worker


class TestRegisterAndMove:
    async def test_register_depart_return(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        assert worker["status"] == "CANDIDATE"
        assert worker["village"]["name"] == "Ulak Paceh"
        assert worker["nikMasked"].count("*") >= 6
        body = await gql(DEPART, {"id": worker["id"], "input": departure()}, token=kp2mi)
        assert body["data"]["recordDeparture"]["status"] == "ABROAD"
        body = await gql(
            RETURN, {"id": worker["id"], "input": {"returnDate": "2026-01-10", "reason": "CONTRACT_ENDED"}}, token=kp2mi
        )
        assert body["data"]["recordReturn"] == {"id": worker["id"], "status": "RETURNED", "version": 3}

    async def test_registered_event_reaches_the_stream_with_a_traceparent(
        self, gql: GraphQL, token: Callable[..., str], stack: TestStack
    ) -> None:
        worker = await register(gql, token("KP2MI"))
        nc = await connect(stack.nats_url, name="test-reader")
        try:
            js = nc.jetstream()
            for _ in range(600):  # the relay publishes it: up to 30 s on a loaded CI machine (5 s could be outrun)
                try:
                    msg = await js.get_last_msg("DEMIMAS", "demimas.registry.worker.registered")
                except Exception:
                    msg = None
                if msg is not None and worker["id"].encode() in (msg.data or b""):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the registered event never reached the DEMIMAS stream")
        finally:
            await nc.close()
        headers = msg.headers or {}
        assert headers.get("traceparent", "").startswith("00-")
        assert headers.get("Ce-Type") == "demimas.registry.worker.registered"
        assert headers.get("Nats-Msg-Id")
        assert b"nik" not in msg.data.lower()

    async def test_migrant_stats_follow_movements(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        code = "16.06.13.2002"
        before = (await gql(STATS, {"code": code}, token=kp2mi))["data"]["village"]["migrantStats"]
        worker = await register(gql, kp2mi, village=code)
        await gql(
            DEPART, {"id": worker["id"], "input": departure(destinationCountry="SA", procedural=False)}, token=kp2mi
        )
        after = (await gql(STATS, {"code": code}, token=kp2mi))["data"]["village"]["migrantStats"]
        assert after["total"] == before["total"] + 1
        assert after["abroad"] == before["abroad"] + 1
        assert {"country": "SA", "count": 1} in after["byDestination"] or any(
            d["country"] == "SA" for d in after["byDestination"]
        )
        assert after["proceduralShare"] is not None
        assert after["proceduralShare"] < 1.0

    async def test_region_stats_sum_the_village_counters(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        stats = "{ total abroad candidates byDestination { country count } }"
        query = (
            "query($r: String!, $v: String!) { region(code: $r) { code name migrantStats " + stats + " } "
            "village(code: $v) { regency { code migrantStats " + stats + " } "
            "province { code migrantStats { total } } } }"
        )
        variables = {"r": "16.06", "v": "16.06.13.2001"}
        before = (await gql(query, variables, token=kp2mi))["data"]
        assert before["region"]["name"] == "Kabupaten Musi Banyuasin"
        assert before["region"]["migrantStats"] == before["village"]["regency"]["migrantStats"]
        # Two villages of two districts of the regency; one worker departs.
        await register(gql, kp2mi, village="16.06.13.2001")
        other = await register(gql, kp2mi, village="16.06.03.2008")
        body = await gql(DEPART, {"id": other["id"], "input": departure(destinationCountry="TR")}, token=kp2mi)
        assert "errors" not in body, body
        body = await gql(query, variables, token=kp2mi)
        assert "errors" not in body, body
        after = body["data"]
        regency, was = after["region"]["migrantStats"], before["region"]["migrantStats"]
        assert regency["total"] == was["total"] + 2
        assert regency["abroad"] == was["abroad"] + 1
        assert regency["candidates"] == was["candidates"] + 1
        assert any(d["country"] == "TR" for d in regency["byDestination"])
        assert after["village"]["regency"]["migrantStats"] == regency
        province = after["village"]["province"]["migrantStats"]["total"]
        assert province == before["village"]["province"]["migrantStats"]["total"] + 2
        assert province >= regency["total"]

    async def test_region_stats_respect_the_callers_region(self, gql: GraphQL, token: Callable[..., str]) -> None:
        disnaker = token("DISNAKER", region="16.06")
        body = await gql('{ region(code: "16.06") { migrantStats { total } } }', token=disnaker)
        assert "errors" not in body, body
        body = await gql('{ region(code: "16") { name migrantStats { total } } }', token=disnaker)
        assert body["data"]["region"] == {"name": "Sumatera Selatan", "migrantStats": None}
        assert codes(body) == ["FORBIDDEN"]
        body = await gql('{ region(code: "16.6") { name } }', token=disnaker)
        assert codes(body) == ["BAD_USER_INPUT"]
        body = await gql('{ region(code: "16.98") { name } }', token=disnaker)
        assert body == {"data": {"region": None}}


class TestPersonalData:
    async def test_an_agency_without_pii_read_gets_null_and_an_error(
        self, gql: GraphQL, token: Callable[..., str]
    ) -> None:
        worker = await register(gql, token("KP2MI"))
        body = await gql(PERSONAL, {"id": worker["id"]}, token=token("KEMENIMIPAS"), purpose="PROTECTION_CASE")
        data = body["data"]["worker"]
        assert data["nikMasked"]
        assert data["nik"] is None
        assert data["phone"] is None
        assert set(codes(body)) == {"FORBIDDEN"}

    async def test_personal_fields_need_a_purpose(self, gql: GraphQL, token: Callable[..., str]) -> None:
        worker = await register(gql, token("KP2MI"))
        body = await gql(PERSONAL, {"id": worker["id"]}, token=token("KP2MI"))
        assert body["data"]["worker"]["nik"] is None
        assert "PURPOSE_REQUIRED" in codes(body)

    async def test_every_personal_read_is_recorded(
        self, gql: GraphQL, token: Callable[..., str], registry_db: Any
    ) -> None:
        worker = await register(gql, token("KP2MI"))
        body = await gql(PERSONAL, {"id": worker["id"]}, token=token("KP2MI"), purpose="PLACEMENT_SERVICE")
        assert "errors" not in body, body
        assert len(body["data"]["worker"]["nik"]) == 16
        engine = create_engine(registry_db.admin_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT payload FROM registry.outbox "
                            "WHERE type = 'demimas.registry.personal_data.accessed' "
                            "AND payload->'data'->'workerIds' ? :id"
                        ),
                        {"id": worker["id"]},
                    )
                ).all()
        finally:
            await engine.dispose()
        assert len(rows) == 1
        data = rows[0].payload["data"]
        assert data["purpose"] == "PLACEMENT_SERVICE"
        assert data["agency"] == "KP2MI"
        assert sorted(data["fields"]) == ["birthDate", "nik", "phone"]

    @pytest.mark.parametrize(
        ("document", "operation_name", "recorded"),
        [
            ("query ReadForCase($id: ID!) { worker(id: $id) { nik } }", None, "ReadForCase"),
            # what the gateway sends for a client's `query ReadForCase`: the fetch suffix is not the client's
            ("query ReadForCase__registry__0($id: ID!) { worker(id: $id) { nik } }", None, "ReadForCase"),
            ("query A($id: ID!) { worker(id: $id) { id } } query B($id: ID!) { worker(id: $id) { phone } }", "B", "B"),
            ("query($id: ID!) { worker(id: $id) { nik } }", None, None),
        ],
    )
    async def test_the_record_names_the_operation(
        self, gql: GraphQL, token: Callable[..., str], registry_db: Any,
        document: str, operation_name: str | None, recorded: str | None,
    ) -> None:  # fmt: skip
        worker = await register(gql, token("KP2MI"))
        headers = {"Authorization": f"Bearer {token('KP2MI')}", "X-Demimas-Purpose": "PROTECTION_CASE"}
        request = {"query": document, "variables": {"id": worker["id"]}, "operationName": operation_name}
        body = (await gql.http.post("/graphql", json=request, headers=headers)).json()
        assert "errors" not in body, body
        engine = create_engine(registry_db.admin_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                data = await conn.scalar(
                    text(
                        "SELECT payload->'data' FROM registry.outbox "
                        "WHERE type = 'demimas.registry.personal_data.accessed' AND payload->'data'->'workerIds' ? :id"
                    ),
                    {"id": worker["id"]},
                )
        finally:
            await engine.dispose()
        assert data.get("operation") == recorded

    async def test_no_record_means_no_personal_data(
        self, gql: GraphQL, token: Callable[..., str], registry_db: Any
    ) -> None:
        worker = await register(gql, token("KP2MI"))
        engine = create_engine(registry_db.admin_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("REVOKE INSERT ON registry.outbox FROM registry_app"))
            body = await gql(PERSONAL, {"id": worker["id"]}, token=token("KP2MI"), purpose="PLACEMENT_SERVICE")
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("GRANT INSERT ON registry.outbox TO registry_app"))
            await engine.dispose()
        assert body["data"]["worker"]["nik"] is None
        assert body["data"]["worker"]["nikMasked"]
        assert "UNAVAILABLE" in codes(body)


class TestAccess:
    async def test_no_token_no_data(self, gql: GraphQL) -> None:
        body = await gql('{ village(code: "16.06.13.2001") { name } }')
        assert codes(body) == ["UNAUTHENTICATED"]

    async def test_typename_needs_no_token(self, gql: GraphQL) -> None:
        assert (await gql("{ __typename }"))["data"] == {"__typename": "Query"}

    @pytest.mark.parametrize("bad", ["not-a-jwt", "a.b.c"])
    async def test_garbage_token(self, gql: GraphQL, bad: str) -> None:
        body = await gql('{ village(code: "16.06.13.2001") { name } }', token=bad)
        assert "UNAUTHENTICATED" in codes(body)

    async def test_expired_token(self, gql: GraphQL, token: Callable[..., str]) -> None:
        expired = token("KP2MI", ttl=dt.timedelta(seconds=-120))
        body = await gql('{ village(code: "16.06.13.2001") { name } }', token=expired)
        assert "UNAUTHENTICATED" in codes(body)

    async def test_forged_token(self, gql: GraphQL, token: Callable[..., str], tmp_path: Any) -> None:
        """Signed with another key under the trusted key id: the signature does not verify."""
        from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
        from demimas_common.auth.principal import Agency

        good_kid = token("KP2MI")
        import jwt

        kid = jwt.get_unverified_header(good_kid)["kid"]
        other = ensure_dev_keys(tmp_path / "attacker")
        forged = mint_token(
            DevKeys(other.private_key_path, other.jwks_path, kid),
            issuer="https://auth.test", audience="demimas", agency=Agency.KP2MI,
        )  # fmt: skip
        body = await gql('{ village(code: "16.06.13.2001") { name } }', token=forged)
        assert codes(body) == ["UNAUTHENTICATED"]

    async def test_a_regency_office_cannot_register_outside_its_region(
        self, gql: GraphQL, token: Callable[..., str]
    ) -> None:
        disnaker = token("DISNAKER", region="16.06")
        body = await gql(REGISTER, {"input": worker_input(village="32.01.01.1002")}, token=disnaker)
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"]["registerWorker"] is None

    async def test_a_regency_office_does_not_see_workers_outside_its_region(
        self, gql: GraphQL, token: Callable[..., str]
    ) -> None:
        outside = await register(gql, token("KP2MI"), village="32.01.01.1002")
        body = await gql(
            "query($id: ID!) { worker(id: $id) { id } }", {"id": outside["id"]}, token=token("DISNAKER", region="16.06")
        )
        assert body["data"]["worker"] is None

    async def test_stats_only_agency_cannot_list_workers(self, gql: GraphQL, token: Callable[..., str]) -> None:
        body = await gql("{ workers(first: 5) { edges { node { id } } } }", token=token("BNN"))
        assert body["data"]["workers"] is None
        assert codes(body) == ["FORBIDDEN"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"nik": "123"}, "nik"),
            ({"nik": "1606134703940000"}, "nik"),
            ({"villageCode": "99.99.99.2999"}, "villageCode"),
            ({"villageCode": "16.06"}, "villageCode"),
            ({"fullName": "x" * 5000}, "fullName"),
            ({"phone": "not a phone"}, "phone"),
            ({"birthDate": (dt.date.today() + dt.timedelta(days=2)).isoformat()}, "birthDate"),
        ],
    )
    async def test_register_rejects(
        self, gql: GraphQL, token: Callable[..., str], overrides: dict[str, Any], field: str
    ) -> None:
        body = await gql(REGISTER, {"input": worker_input(**overrides)}, token=token("KP2MI"))
        assert body["data"]["registerWorker"] is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == field
        assert "Traceback" not in error["message"]

    async def test_wrong_types_are_refused_before_anything_runs(self, gql: GraphQL, token: Callable[..., str]) -> None:
        body = await gql(REGISTER, {"input": worker_input(birthDate="15-08-1995", sex="X")}, token=token("KP2MI"))
        assert body.get("data") is None
        assert body["errors"]

    async def test_duplicate_nik_is_a_conflict(self, gql: GraphQL, token: Callable[..., str]) -> None:
        values = worker_input()
        first = await gql(REGISTER, {"input": values}, token=token("KP2MI"))
        assert "errors" not in first
        second = await gql(REGISTER, {"input": values}, token=token("KP2MI"))
        assert codes(second) == ["CONFLICT"]

    async def test_return_before_departure(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        await gql(DEPART, {"id": worker["id"], "input": departure("2025-06-01")}, token=kp2mi)
        body = await gql(
            RETURN, {"id": worker["id"], "input": {"returnDate": "2025-01-01", "reason": "OTHER"}}, token=kp2mi
        )
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["field"] == "returnDate"

    async def test_future_departure(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        body = await gql(DEPART, {"id": worker["id"], "input": departure(future)}, token=kp2mi)
        assert codes(body) == ["BAD_USER_INPUT"]

    async def test_unknown_worker(self, gql: GraphQL, token: Callable[..., str]) -> None:
        body = await gql(
            DEPART, {"id": "0190a5a0-0000-7000-8000-000000000000", "input": departure()}, token=token("KP2MI")
        )
        assert codes(body) == ["NOT_FOUND"]

    async def test_a_child_needs_consent(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        mutation = """mutation($id: ID!, $input: FamilyMemberInput!) {
          addFamilyMember(workerId: $id, input: $input) { id minor } }"""
        child = {"relation": "CHILD", "fullName": "Putri", "birthDate": "2019-04-01"}
        body = await gql(mutation, {"id": worker["id"], "input": child}, token=kp2mi, purpose="FAMILY_SUPPORT")
        assert codes(body) == ["BAD_USER_INPUT"]
        consent = {"givenBy": "PARENT", "date": "2026-01-02", "basis": "Formulir 7/2026"}
        body = await gql(
            mutation, {"id": worker["id"], "input": child | {"consent": consent}}, token=kp2mi, purpose="FAMILY_SUPPORT"
        )
        assert body["data"]["addFamilyMember"]["minor"] is True


class TestConcurrency:
    async def test_two_updates_of_one_version_one_wins(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        mutation = (
            """mutation($id: ID!, $input: UpdateWorkerInput!) { updateWorker(id: $id, input: $input) { version } }"""
        )
        results = await asyncio.gather(
            *(
                gql(mutation, {"id": worker["id"], "input": {"expectedVersion": 1, "fullName": name}}, token=kp2mi)
                for name in ("Siti Rahma", "Siti Rahmawati")
            )
        )
        outcomes = sorted(tuple(codes(r)) for r in results)
        assert outcomes == [(), ("CONFLICT",)]

    async def test_concurrent_departures_never_both_win(self, gql: GraphQL, token: Callable[..., str]) -> None:
        kp2mi = token("KP2MI")
        worker = await register(gql, kp2mi)
        results = await asyncio.gather(
            *(gql(DEPART, {"id": worker["id"], "input": departure()}, token=kp2mi) for _ in range(2))
        )
        winners = [r for r in results if not r.get("errors")]
        assert len(winners) == 1
        assert [c for r in results for c in codes(r)] in (["CONFLICT"], ["BAD_USER_INPUT"])


_ = fresh_nik
