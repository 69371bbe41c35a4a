"""The audit service through the gateway over the real services: one mutation's trace id followed from the gateway
to the registry, its outbox row, the NATS message, the consumers in designation, pillars and audit, and
`auditTrace`; a read of personal data through the gateway in the worker's `accessLog`."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from demimas_common.auth.keys import DevKeys
from demimas_common.cli import main as cli_main
from demimas_common.db.engine import create_engine
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import AUDIENCE, ISSUER, Endpoints, ask

pytestmark = pytest.mark.integration

_serial = itertools.count(8201)
RETURNED = "demimas.registry.worker.returned"


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    for _ in range(600):  # 60 s: a loaded CI machine can be slow; a passing check returns at once
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def gateway(
    endpoints: Endpoints, query: str, variables: dict[str, Any], token: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await endpoints.gateway.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}", **(headers or {})},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def abroad(endpoints: Endpoints, token: str) -> str:
    nik = f"160613470394{next(_serial):04d}"
    data = {
        "nik": nik,
        "fullName": "Sri Lestari",
        "sex": "FEMALE",
        "birthDate": "1994-03-07",
        "educationLevel": "SMK",
        "villageCode": "16.06.13.2006",
    }
    worker: str = (
        await gateway(
            endpoints,
            "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
            {"in": data},
            token,
        )
    )["registerWorker"]["id"]
    departure = {
        "destinationCountry": "MY",
        "sector": "FORMAL",
        "occupation": "operator",
        "scheme": "P_TO_P",
        "procedural": True,
        "departureDate": "2025-01-10",
    }
    await gateway(
        endpoints,
        "mutation D($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in) { id } }",
        {"id": worker, "in": departure},
        token,
    )
    return worker


async def test_one_return_has_one_trace_across_every_service(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        kp2mi, auditor = mint("KP2MI"), mint("AUDITOR")
        worker = await abroad(endpoints, kp2mi)
        trace_id = secrets.token_hex(16)
        back = {"returnDate": (dt.date.today() - dt.timedelta(days=3)).isoformat(), "reason": "CONTRACT_ENDED"}
        await gateway(
            endpoints,
            "mutation B($id: ID!, $in: ReturnInput!) { recordReturn(workerId: $id, input: $in) { id } }",
            {"id": worker, "in": back},
            kp2mi,
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )

        async def traced() -> list[dict[str, Any]]:
            data = await gateway(
                endpoints,
                "query T($t: String!) { auditTrace(traceId: $t) { type subject streamSequence actorAgency } }",
                {"t": trace_id},
                auditor,
            )
            return [e for e in data["auditTrace"] if e["type"] == RETURNED]

        [audited] = await until(traced, "the return reached the audit store")
        assert (audited["subject"], audited["actorAgency"]) == (worker, "KP2MI")

        def spans() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for s in exporter.get_finished_spans():
                if s.context is not None and format(s.context.trace_id, "032x") == trace_id:
                    found.setdefault(s.name, set()).add(str((s.attributes or {}).get("consumer", "")))
            return found

        async def consumed() -> bool:
            names = spans()
            return {"village-stats", "people"} <= names.get(f"consume {RETURNED}", set())

        await until(consumed, "the designation and pillars consumers handled the return")
        names = spans()
        assert "graphql.request" in names  # the gateway
        assert any(n.startswith("mutation") for n in names)  # the registry's operation
        assert f"audit {RETURNED}" in names  # the audit's ingest
        engine = create_engine(stack.database_url, pool_size=1)
        async with engine.connect() as conn:
            outbox = await conn.scalar(
                text("SELECT traceparent FROM registry.outbox WHERE subject = :w AND type = :t"),
                {"w": worker, "t": RETURNED},
            )
        await engine.dispose()
        assert outbox is not None
        assert outbox.split("-")[1] == trace_id
        nc = await connect(stack.nats_url, name="e2e-trace")
        message = await nc.jetstream().get_msg(STREAM, audited["streamSequence"])
        await nc.close()
        assert (message.headers or {})["traceparent"].split("-")[1] == trace_id
    finally:
        exporter.shutdown()


async def test_a_read_of_personal_data_appears_in_the_access_log(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")
    worker = await abroad(endpoints, kp2mi)
    read = "query W($id: ID!) { worker(id: $id) { nik phone } }"
    await gateway(endpoints, read, {"id": worker}, kp2mi, headers={"x-demimas-purpose": "PROTECTION_CASE"})
    log = "query L($id: ID!) { worker(id: $id) { accessLog { agency purpose fields operation } } }"

    async def logged() -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await gateway(endpoints, log, {"id": worker}, kp2mi))["worker"]["accessLog"]
        return entries

    entries = await until(logged, "the read reached the access log")
    assert entries[0]["agency"] == "KP2MI"
    assert entries[0]["purpose"] == "PROTECTION_CASE"
    assert set(entries[0]["fields"]) == {"nik", "phone"}
    assert entries[0]["operation"] == "W"  # the client's name, not the gateway's fetch `W__registry__0`
    _, refused = await ask(endpoints.gateway, log, {"id": worker}, token=mint("BP3MI", region="16"))
    assert (
        refused["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    )  # no audit:read, no subject:report


async def test_the_personal_data_report_gathers_every_service_and_is_itself_recorded(
    endpoints: Endpoints,
    mint: Callable[..., str],
    gateway_over_http: str,
    e2e_keys: DevKeys,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    kp2mi = mint("KP2MI")
    worker = await abroad(endpoints, kp2mi)
    enrol = "mutation E($p: ID!) { enrol(personId: $p, programme: FINANCIAL_LITERACY) { id } }"

    async def enrolled() -> bool:  # the pillars service knows the person once the registry's event arrived
        _, answer = await ask(endpoints.gateway, enrol, {"p": worker}, token=kp2mi)
        return "errors" not in answer

    await until(enrolled, "the pillars service learned the worker")
    await gateway(
        endpoints,
        "query W($id: ID!) { worker(id: $id) { nik } }",
        {"id": worker},
        kp2mi,
        headers={"x-demimas-purpose": "PLACEMENT_SERVICE"},
    )
    log = "query L($id: ID!) { worker(id: $id) { accessLog { purpose } } }"

    async def read_logged() -> bool:
        entries = (await gateway(endpoints, log, {"id": worker}, kp2mi))["worker"]["accessLog"]
        return any(e["purpose"] == "PLACEMENT_SERVICE" for e in entries)

    await until(read_logged, "the first read reached the access log")
    report = "query R($id: ID!) { personalDataReport(workerId: $id) }"
    _, no_purpose = await ask(endpoints.gateway, report, {"id": worker}, token=kp2mi)
    assert no_purpose["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    dsr = mint("KP2MI", purpose="DATA_SUBJECT_REQUEST")
    document = (await gateway(endpoints, report, {"id": worker}, dsr))["personalDataReport"]
    data = document["data"]
    assert (data["id"], data["fullName"]) == (worker, "Sri Lestari")
    assert data["nik"].isdigit()  # in clear: the person's own data
    assert [d["destinationCountry"] for d in data["departures"]] == ["MY"]
    assert [(e["programme"], e["status"]) for e in data["enrolments"]] == [("FINANCIAL_LITERACY", "ENROLLED")]
    assert "PLACEMENT_SERVICE" in [a["purpose"] for a in data["accessLog"]]
    assert document["operation"]["name"] == "PersonalDataReport"

    async def report_logged() -> bool:
        entries = (await gateway(endpoints, log, {"id": worker}, kp2mi))["worker"]["accessLog"]
        return any(e["purpose"] == "DATA_SUBJECT_REQUEST" for e in entries)

    await until(report_logged, "the report itself is in the access trail")
    # the same document from the command a data-protection officer runs
    for name, value in (
        ("DEMIMAS_JWT_ISSUER", ISSUER),
        ("DEMIMAS_JWT_AUDIENCE", AUDIENCE),
        ("DEMIMAS_JWKS_PATH", str(e2e_keys.jwks_path)),
    ):
        monkeypatch.setenv(name, value)
    out = tmp_path / "report.json"
    argv = ["audit", "report", worker, "--token", dsr, "--gateway", gateway_over_http, "--out", str(out)]
    assert await asyncio.to_thread(cli_main, argv) == 0
    from_cli = orjson.loads(out.read_bytes())
    assert (from_cli["workerId"], from_cli["data"]["nik"]) == (worker, data["nik"])
    _, refused = await ask(endpoints.gateway, report, {"id": worker}, token=mint("BP3MI", region="16"))
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"  # no subject:report


async def test_the_trace_id_handed_back_finds_the_request_in_audit_trace(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """Issue 20: a caller that sends no `traceparent` gets its request's new trace id back (the `traceresponse`
    header and `extensions.traceId`), and an auditor finds the request's events with it; a caller that sends one
    gets its own trace id back."""
    kp2mi, auditor = mint("KP2MI"), mint("AUDITOR")
    back = {"returnDate": (dt.date.today() - dt.timedelta(days=2)).isoformat(), "reason": "CONTRACT_ENDED"}
    mutation = "mutation B($id: ID!, $in: ReturnInput!) { recordReturn(workerId: $id, input: $in) { id } }"
    returned: dict[str, str] = {}
    for sent in (None, secrets.token_hex(16)):
        worker = await abroad(endpoints, kp2mi)
        headers = {"authorization": f"Bearer {kp2mi}"}
        if sent:
            headers["traceparent"] = f"00-{sent}-{secrets.token_hex(8)}-01"
        response = await endpoints.gateway.post(
            "/graphql", json={"query": mutation, "variables": {"id": worker, "in": back}}, headers=headers
        )
        body = response.json()
        assert "errors" not in body, body
        version, trace_id, span_id, flags = response.headers["traceresponse"].split("-")
        assert (version, len(trace_id), len(span_id), len(flags)) == ("00", 32, 16, 2)
        assert body["extensions"]["traceId"] == trace_id
        assert trace_id == (sent or trace_id)
        returned[worker] = trace_id
    assert len(set(returned.values())) == 2
    for worker, trace_id in returned.items():

        async def traced(trace_id: str = trace_id) -> list[dict[str, Any]]:
            data = await gateway(
                endpoints,
                "query T($t: String!) { auditTrace(traceId: $t) { type subject actorAgency } }",
                {"t": trace_id},
                auditor,
            )
            return [e for e in data["auditTrace"] if e["type"] == RETURNED]

        [audited] = await until(traced, "the return reached the audit store under the returned trace id")
        assert (audited["subject"], audited["actorAgency"]) == (worker, "KP2MI")


AUDIT_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def guide_operation(name: str, placeholder: str) -> str:
    """The ```graphql block of docs/audit.md that defines `query <name>`, as an auditor would copy it, with its
    placeholder ("…") replaced."""
    blocks: list[str] = re.findall(r"^```graphql\n(.*?)^```", AUDIT_GUIDE.read_text(), flags=re.S | re.M)
    [block] = [b for b in blocks if f"query {name} " in b]
    assert block.count('"…"') == 1, block
    return block.replace('"…"', json.dumps(placeholder))


async def test_an_auditor_finds_a_batch_read_of_a_worker_with_the_guide_s_query(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """A regency office reads a page of a village's workers with their NIKs and phones (one recorded read naming
    every worker of the page, subject `batch:N`); the auditor's query of docs/audit.md, with the AUDITOR token alone,
    finds that read under each of the workers. Without audit:read nothing of it is answered."""
    kp2mi, disnaker, auditor = mint("KP2MI"), mint("DISNAKER", region="16.06"), mint("AUDITOR")
    first, second = await abroad(endpoints, kp2mi), await abroad(endpoints, kp2mi)
    page = """query Page($code: String!) { workers(filter: {villageCode: $code}, first: 500) {
        edges { node { id nik phone } } } }"""
    data = await gateway(endpoints, page, {"code": "16.06.13.2006"}, disnaker,
                         headers={"x-demimas-purpose": "PLACEMENT_SERVICE"})  # fmt: skip
    read = {e["node"]["id"] for e in data["workers"]["edges"]}
    niks = {e["node"]["nik"] for e in data["workers"]["edges"]}
    assert {first, second} <= read

    async def found(worker: str) -> list[dict[str, Any]]:
        answer = await gateway(endpoints, guide_operation("PersonAccesses", worker), {}, auditor)
        return [e["node"] for e in answer["personalDataAccesses"]["edges"]
                if e["node"]["agency"] == "DISNAKER" and e["node"]["operation"] == "Page"]  # fmt: skip

    [batch] = await until(lambda: found(first), "the page's read reached the audit store")
    assert batch["purpose"] == "PLACEMENT_SERVICE"
    assert set(batch["fields"]) == {"nik", "phone"}
    assert batch["service"] == "registry"
    assert batch["workerCount"] == len(read)
    assert set(batch["event"]["data"]["workerIds"]) == read  # every worker of the page, ids only
    assert batch["event"]["subject"] == f"batch:{len(read)}"
    assert await found(second) == [batch]  # the same read, under the other worker
    recorded = orjson.dumps(batch).decode()
    assert not [nik for nik in niks if nik in recorded]  # ids only, never the data read
    query = guide_operation("PersonAccesses", first)
    answer = await gateway(endpoints, query, {}, auditor)
    assert answer["personalDataAccesses"]["totalCount"] == len(answer["personalDataAccesses"]["edges"])

    for token in (kp2mi, disnaker, mint("KP2MI", purpose="DATA_SUBJECT_REQUEST")):  # no audit:read
        _, refused = await ask(endpoints.gateway, query, {}, token=token)
        assert refused["data"] == {"personalDataAccesses": None}, refused
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    _, regional = await ask(endpoints.gateway, query, {}, token=mint("AUDITOR", region="16"))
    assert regional["data"]["personalDataAccesses"]["edges"] == []  # audit records lie in no region


async def test_a_refused_registration_and_a_read_are_found_by_their_trace_id(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """docs/audit.md, The trace id of a request: a request that changed no worker may still have caused a record, and
    its trace id finds it: a registration refused outside the caller's region (`registration.refused`, naming the
    existing worker, never the NIK) and a read of personal data (`personal_data.accessed`); a read of nothing
    personal caused none."""
    kp2mi, auditor = mint("KP2MI"), mint("AUDITOR")
    nik = f"160613470394{next(_serial):04d}"
    person = {"nik": nik, "fullName": "Sri Lestari", "sex": "FEMALE", "birthDate": "1994-03-07",
              "educationLevel": "SMK", "villageCode": "16.06.13.2006"}  # fmt: skip
    register = "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }"
    worker = (await gateway(endpoints, register, {"in": person}, kp2mi))["registerWorker"]["id"]

    async def traced(query: str, variables: dict[str, Any], token: str, purpose: str | None = None) -> str:
        headers = {"authorization": f"Bearer {token}"} | ({"x-demimas-purpose": purpose} if purpose else {})
        response = await endpoints.gateway.post("/graphql", json={"query": query, "variables": variables},
                                                headers=headers)  # fmt: skip
        trace_id = response.headers["traceresponse"].split("-")[1]
        assert response.json()["extensions"]["traceId"] == trace_id
        return trace_id

    plain = await traced("query P($id: ID!) { worker(id: $id) { status } }", {"id": worker}, kp2mi)
    elsewhere = {**person, "villageCode": "16.07.06.2001"}  # another regency's office: the NIK is not its to register
    refused = await traced(register, {"in": elsewhere}, mint("DISNAKER", region="16.07"))
    read = await traced("query N($id: ID!) { worker(id: $id) { nik } }", {"id": worker}, kp2mi, "PLACEMENT_SERVICE")

    async def events(trace_id: str) -> list[dict[str, Any]]:
        query = "query T($t: String!) { auditTrace(traceId: $t) { type subject actorAgency traceId data } }"
        found: list[dict[str, Any]] = (await gateway(endpoints, query, {"t": trace_id}, auditor))["auditTrace"]
        return found

    [refusal] = await until(lambda: events(refused), "the refusal reached the audit store under its trace id")
    assert (refusal["type"], refusal["subject"], refusal["actorAgency"]) == (
        "demimas.registry.registration.refused", worker, "DISNAKER")  # fmt: skip
    assert refusal["data"] == {"workerId": worker, "villageCode": "16.07.06.2001", "via": "registerWorker"}
    [access] = await until(lambda: events(read), "the read reached the audit store under its trace id")
    assert (access["type"], access["subject"], access["traceId"]) == (
        "demimas.registry.personal_data.accessed", worker, read)  # fmt: skip
    assert (access["data"]["workerIds"], access["data"]["fields"]) == ([worker], ["nik"])
    assert nik not in json.dumps([refusal, access])
    assert await events(plain) == []  # recorded in stream order: had it caused an event, it would be there by now
