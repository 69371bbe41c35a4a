"""Issue 17's story through the gateway, with each agency's own token: DISNAKER of Musi Banyuasin opens a case
about a worker it registered, BP3MI triages it, KP2MI refers it to a legal aid organisation (and records its
answer), KemenPPPA accepts a referral, a referral left past its clock is overdue and escalated (the overdue event
reaches the audit chain), the holder resolves, closes and reopens the case; an auditor follows it by trace ids, the
audit store and `caseTrail` without ever reading its content. Then a restricted case about a child, every refusal
of every mutation, idempotency keys, and the figures joined onto the registry's villages and workers.

The overdue referral and the village figures need time to pass. A second cases service (`clocked`, over the same
database and stream, behind a gateway of its own) runs on a clock the test controls: referrals it makes are due
at once (a referral clock of 0 hours, which the settings do not allow), and it can open cases days in the past.
Due times are stored with each item, so the session's own cases service (on the wall clock) shows those items
overdue and its sweep escalates them, as it would after a real 72 hours."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_cases.app import create_app as create_cases
from demimas_cases.domain.clocks import Clocks
from demimas_cases.service_layer.rules import CaseRules
from demimas_cases.settings import CasesSettings
from demimas_common.auth.keys import DevKeys
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_common.settings import Environment
from tests.conftest import AUDIENCE, ISSUER, Endpoints, gateway_app, serve

pytestmark = pytest.mark.integration

VILLAGE = "16.06.13.2001"  # Ulak Paceh, Lawan Wetan, Musi Banyuasin: the story's village
RESTRICTED_VILLAGE = "16.06.13.2002"  # Ulak Paceh Jaya
ERRORS_VILLAGE = "16.06.13.2007"  # Karang Ringin II
STATS_VILLAGE = "16.06.13.2014"  # Talang Piase: no other test opens a case here (its figures start at zero)
ELSEWHERE = "33.07.01.2001"  # Central Java, outside every token region of this module but KP2MI's
_serial = itertools.count(6101)

# --- the operations, as a client of the gateway writes them ---------------------------------------------------
SHAPE = """id version status kind phase ownerAgency confidentiality heldBy overdue contentVisible
  overdueItems { kind heldBy referralId }
  referrals { id toAgency referredBy status overdue legalAidOrganisation { id name } }"""


def shaped(operation: str) -> str:
    """The operation with the fields every answer about a case selects in place of `SHAPE`."""
    return operation.replace("SHAPE", SHAPE)


OPEN = shaped("""mutation OpenCase($in: OpenCaseInput!, $key: String) {
  openCase(input: $in, idempotencyKey: $key) { SHAPE villageCode openedAt triageDueAt description } }""")
TRIAGE = shaped("""mutation TriageCase($id: ID!, $v: Int!, $in: TriageCaseInput) {
  triageCase(id: $id, version: $v, input: $in) { SHAPE } }""")
REFER = shaped("""mutation ReferCase($id: ID!, $v: Int!, $in: ReferCaseInput!) {
  referCase(id: $id, version: $v, input: $in) { SHAPE } }""")
ACCEPT = shaped("""mutation AcceptReferral($r: ID!, $v: Int!) {
  acceptReferral(referralId: $r, version: $v) { SHAPE } }""")
DECLINE = shaped("""mutation DeclineReferral($r: ID!, $v: Int!, $why: String!) {
  declineReferral(referralId: $r, version: $v, reason: $why) { SHAPE } }""")
OUTCOME = shaped("""mutation RecordReferralOutcome($r: ID!, $v: Int!, $o: String!) {
  recordReferralOutcome(referralId: $r, version: $v, outcome: $o) { SHAPE } }""")
NOTE = shaped("""mutation AddCaseNote($id: ID!, $v: Int!, $text: String!, $key: String) {
  addCaseNote(caseId: $id, version: $v, text: $text, idempotencyKey: $key) { SHAPE notes { agency text } } }""")
RESOLVE = shaped("""mutation ResolveCase($id: ID!, $v: Int!, $r: String!) {
  resolveCase(id: $id, version: $v, resolution: $r) { SHAPE resolvedAt } }""")
CLOSE = shaped("""mutation CloseCase($id: ID!, $v: Int!) { closeCase(id: $id, version: $v) { SHAPE closedAt } }""")
REOPEN = shaped("""mutation ReopenCase($id: ID!, $v: Int!, $why: String!) {
  reopenCase(id: $id, version: $v, reason: $why) { SHAPE resolvedAt closedAt } }""")
REGISTER_LEGAL_AID = """mutation RegisterLegalAid($in: LegalAidOrganisationInput!) {
  registerLegalAidOrganisation(input: $in) { id name regionsServed active } }"""
CASE = shaped("query Case($id: ID!) { case(id: $id) { SHAPE village { code name } } }")
CASES = """query Cases($f: CaseFilterInput, $first: Int, $after: String) {
  cases(filter: $f, first: $first, after: $after) {
    totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
CASE_CONTENT = """query CaseContent($id: ID!) { case(id: $id) { id status confidentiality contentVisible description
  people { role minor worker { id } familyMember { id } }
  reporter { anonymous name relation } notes { agency text } referrals { toAgency reason } } }"""
OVERDUE = """query Overdue($a: Agency) { overdueCases(agency: $a, first: 50) {
  totalCount edges { node { id overdueItems { kind heldBy referralId } } } } }"""
TRAIL = "query Trail($id: ID!) { caseTrail(id: $id) { version step agency status heldBy } }"
AUDIT_EVENTS = """query Events($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { edges { node {
  id type subject actorAgency traceId correlationId causationId data } } } }"""
AUDIT_TRACE = "query Trace($t: String!) { auditTrace(traceId: $t) { id type subject actorAgency data } }"
WORKER_CASES = "query WorkerCases($id: ID!) { worker(id: $id) { id fullName cases { id status kind } } }"
STATS = """query Stats($code: String!) { village(code: $code) { code name caseStats {
  open closed openByKind { kind count } closedByKind { kind count } medianDaysToResolution overdue } } }"""


# --- talking to the gateway -----------------------------------------------------------------------------------
async def call(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str, *, trace: str | None = None
) -> dict[str, Any]:
    """The whole answer (data and errors); `trace`: the W3C trace id the request carries."""
    headers = {"authorization": f"Bearer {token}"}
    if trace is not None:
        headers["traceparent"] = f"00-{trace}-{secrets.token_hex(8)}-01"
    response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


async def data(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str, *, trace: str | None = None
) -> dict[str, Any]:
    body = await call(http, query, variables, token, trace=trace)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    """The one error of an answer, its extensions with its message and path."""
    assert len(body.get("errors") or []) == 1, body
    error = body["errors"][0]
    return {**error.get("extensions", {}), "message": error["message"], "path": error.get("path")}


def refusals(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The errors of an answer by the last segment of their path (a field name)."""
    return {str(e["path"][-1]): e.get("extensions", {}) for e in body.get("errors") or []}


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Events travel outbox -> NATS -> consumer: poll until `check` returns something truthy."""
    for _ in range(300):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def trace_id() -> str:
    return secrets.token_hex(16)


# --- the registry's people --------------------------------------------------------------------------------------
async def register_worker(http: httpx.AsyncClient, token: str, village: str, name: str = "Sri Wahyuni") -> str:
    data_ = {"nik": f"160613470394{next(_serial):04d}", "fullName": name, "sex": "FEMALE", "birthDate": "1994-03-07",
             "educationLevel": "SMK", "villageCode": village}  # fmt: skip
    found = await data(http, "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
                       {"in": data_}, token)  # fmt: skip
    worker: str = found["registerWorker"]["id"]
    return worker


async def add_child(http: httpx.AsyncClient, token: str, worker: str) -> str:
    born = (dt.date.today() - dt.timedelta(days=9 * 365)).isoformat()
    consent = {"givenBy": "PARENT", "date": dt.date.today().isoformat(), "basis": "Form PD-01/2026"}
    child = {"relation": "CHILD", "fullName": "Putri Wahyuni", "birthDate": born, "consent": consent}
    found = await data(http, "mutation F($w: ID!, $in: FamilyMemberInput!) { addFamilyMember(workerId: $w, "
                       "input: $in) { id minor } }", {"w": worker, "in": child}, token)  # fmt: skip
    assert found["addFamilyMember"]["minor"] is True
    member: str = found["addFamilyMember"]["id"]
    return member


def case_input(village: str, *, kind: str = "ABUSE_ABROAD", people: list[dict[str, Any]] | None = None,
               description: str = "Wages unpaid for five months and her passport held by the employer in Johor.",
               **more: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "villageCode": village,
        "kind": kind,
        "phase": "ABROAD",
        "channel": "VILLAGE_TASK_FORCE",
        "destinationCountry": "MY",
        "description": description,
        "reporter": {"anonymous": False, "name": "Suparmi", "contact": "0812-7000-1122", "relation": "mother"},
        "people": people or [],
        **more,
    }


async def open_case(
    http: httpx.AsyncClient,
    token: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    trace: str | None = None,
) -> dict[str, Any]:
    """openCase, retried while the cases service does not know a person yet (it learns them from the registry's
    events, asynchronously)."""

    async def attempt() -> dict[str, Any] | None:
        body = await call(http, OPEN, {"in": payload, "key": key}, token, trace=trace)
        errors = body.get("errors") or []
        if errors and str(errors[0].get("extensions", {}).get("field", "")).startswith("people."):
            assert "is known to the cases service" in errors[0]["message"], body
            return None
        assert not errors, body
        opened: dict[str, Any] = body["data"]["openCase"]
        return opened

    found: dict[str, Any] = await until(attempt, "the cases service learned the person from the registry")
    return found


async def audit_events(http: httpx.AsyncClient, token: str, **filter_: str) -> list[dict[str, Any]]:
    found = await data(http, AUDIT_EVENTS, {"f": filter_}, token)
    return [e["node"] for e in found["auditEvents"]["edges"]]


# --- the cases service on a clock the test controls -------------------------------------------------------------
class Clock:
    """The wall clock moved by `offset` (the time now of the clocked cases service)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    @contextmanager
    def back(self, **delta: float) -> Iterator[None]:
        """Within the block, the clocked service lives `delta` in the past."""
        self.offset = -dt.timedelta(**delta)
        try:
            yield
        finally:
            self.offset = dt.timedelta()


@dataclass(frozen=True)
class Clocked:
    gateway: httpx.AsyncClient
    clock: Clock


@pytest.fixture(scope="module")
async def clocked(
    stack: TestStack,
    e2e_keys: DevKeys,
    registry_url: str,
    designation_url: str,
    pillars_url: str,
    audit_url: str,
    cases_url: str,
    feeds_url: str,
) -> AsyncIterator[Clocked]:
    """A second cases service over the session's schema and stream, on a clock this module moves: a referral it
    makes is due at once; its own sweep stays idle (the session's service, on the wall clock, escalates)."""
    settings = CasesSettings(
        environment=Environment.TEST,
        database_url=with_user(stack.database_url, runtime_role("cases")),
        nats_url=stack.nats_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(e2e_keys.jwks_path),
        case_sweep_seconds=3600,
    )
    clock = Clock()
    rules = CaseRules(clocks=Clocks(referral_response_hours=0), clock=clock)
    url, server, task = await serve(create_cases(settings, rules=rules))
    urls = {"registry": registry_url, "designation": designation_url, "pillars": pillars_url, "audit": audit_url,
            "cases": url, "feeds": feeds_url}  # fmt: skip
    app, client = gateway_app(urls, e2e_keys)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as gateway:
            yield Clocked(gateway, clock)
    finally:
        await client.close()
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Tokens:
    disnaker: str  # Musi Banyuasin's manpower office
    bp3mi: str  # South Sumatra's BP3MI
    kp2mi: str
    kemenpppa: str
    kemenimipas: str
    auditor: str


@pytest.fixture(scope="module")
def tokens(mint: Callable[..., str]) -> Tokens:
    case = "PROTECTION_CASE"
    return Tokens(
        disnaker=mint("DISNAKER", region="16.06", purpose=case),
        bp3mi=mint("BP3MI", region="16", purpose=case),
        kp2mi=mint("KP2MI", purpose=case),
        kemenpppa=mint("KEMENPPPA", purpose=case),
        kemenimipas=mint("KEMENIMIPAS", purpose=case),
        auditor=mint("AUDITOR"),
    )


def shape(case: dict[str, Any]) -> tuple[Any, ...]:
    return case["status"], case["version"], case["ownerAgency"], case["heldBy"]


# --- the story --------------------------------------------------------------------------------------------------
async def test_a_case_travels_between_agencies_and_the_auditor_follows_it_without_its_content(
    endpoints: Endpoints, clocked: Clocked, tokens: Tokens
) -> None:
    gw, t = endpoints.gateway, tokens
    traces: dict[int, str] = {}  # the case's version after a change -> the trace id of the request that made it

    async def change(query: str, variables: dict[str, Any], token: str, *, via: httpx.AsyncClient = gw) -> Any:
        trace = trace_id()
        answer = next(iter((await data(via, query, variables, token, trace=trace)).values()))
        traces[answer["version"]] = trace
        return answer

    # DISNAKER of Musi Banyuasin registers a worker of Ulak Paceh, then opens a case about her
    worker = await register_worker(gw, t.disnaker, VILLAGE)
    payload = case_input(VILLAGE, people=[{"role": "WORKER", "id": worker}])
    traces[1] = trace_id()
    c = await open_case(gw, t.disnaker, payload, key=str(uuid.uuid4()), trace=traces[1])
    case_id = c["id"]
    assert shape(c) == ("OPEN", 1, "DISNAKER", ["DISNAKER"])
    assert (c["kind"], c["confidentiality"], c["villageCode"], c["description"]) == (
        "ABUSE_ABROAD", "STANDARD", VILLAGE, payload["description"])  # fmt: skip
    opened_at = dt.datetime.fromisoformat(c["openedAt"])
    assert dt.datetime.fromisoformat(c["triageDueAt"]) - opened_at == dt.timedelta(hours=24)

    # BP3MI of South Sumatra triages it and takes it
    c = await change(TRIAGE, {"id": case_id, "v": 1, "in": {"ownerAgency": "BP3MI"}}, t.bp3mi)
    assert shape(c) == ("TRIAGED", 2, "BP3MI", ["BP3MI"])

    # KP2MI registers a legal aid organisation serving the province and refers the case to it
    org = (await data(gw, REGISTER_LEGAL_AID, {"in": {
        "name": "LBH Palembang", "accreditationNumber": f"AHU-{uuid.uuid4().hex[:10]}", "regionsServed": ["16"],
        "contact": "posko@lbh-palembang.example"}}, t.kp2mi))["registerLegalAidOrganisation"]  # fmt: skip
    served = await data(gw, "query L($r: String) { legalAidOrganisations(regionPrefix: $r) { id } }",
                        {"r": "16.06"}, t.disnaker)  # fmt: skip
    assert org["id"] in [o["id"] for o in served["legalAidOrganisations"]]
    to_legal_aid = {"legalAidOrganisationId": org["id"], "reason": "Claim for five months of wages"}
    c = await change(REFER, {"id": case_id, "v": 2, "in": to_legal_aid}, t.kp2mi)
    assert shape(c) == ("REFERRED", 3, "BP3MI", ["BP3MI"])
    [legal_aid] = c["referrals"]
    assert (legal_aid["toAgency"], legal_aid["referredBy"], legal_aid["status"]) == (None, "KP2MI", "PENDING")
    assert legal_aid["legalAidOrganisation"] == {"id": org["id"], "name": "LBH Palembang"}
    # the organisation holds no token: the referring agency records its answer, nobody else
    refused = refusal(await call(gw, ACCEPT, {"r": legal_aid["id"], "v": 3}, t.bp3mi))
    assert (refused["code"], refused["reason"]) == ("FORBIDDEN", "not_the_receiver")
    c = await change(ACCEPT, {"r": legal_aid["id"], "v": 3}, t.kp2mi)
    assert shape(c) == ("IN_PROGRESS", 4, "BP3MI", ["BP3MI"])
    assert c["referrals"][0]["status"] == "ACCEPTED"

    # KemenPPPA does not see the case until it is referred to it; then it accepts
    assert (await data(gw, CASE, {"id": case_id}, t.kemenpppa))["case"] is None
    to_pppa = {"toAgency": "KEMENPPPA", "reason": "Counselling after the abuse"}
    c = await change(REFER, {"id": case_id, "v": 4, "in": to_pppa}, t.bp3mi)
    assert shape(c) == ("IN_PROGRESS", 5, "BP3MI", ["BP3MI", "KEMENPPPA"])
    pppa = c["referrals"][1]
    assert (await data(gw, CASE, {"id": case_id}, t.kemenpppa))["case"]["referrals"][1]["status"] == "PENDING"
    c = await change(ACCEPT, {"r": pppa["id"], "v": 5}, t.kemenpppa)
    assert shape(c) == ("IN_PROGRESS", 6, "BP3MI", ["BP3MI", "KEMENPPPA"])
    assert not c["overdue"]

    # a referral to KemenImipas, made on the short clock, is left unanswered past it
    c = await change(REFER, {"id": case_id, "v": 6, "in": {"toAgency": "KEMENIMIPAS",
                     "reason": "Her passport is held by the employer"}}, t.bp3mi, via=clocked.gateway)  # fmt: skip
    assert shape(c) == ("IN_PROGRESS", 7, "BP3MI", ["BP3MI", "KEMENPPPA", "KEMENIMIPAS"])
    imigrasi = c["referrals"][2]["id"]
    late = [{"kind": "REFERRAL_RESPONSE", "heldBy": "KEMENIMIPAS", "referralId": imigrasi}]
    seen = (await data(gw, CASE, {"id": case_id}, t.bp3mi))["case"]  # the session's service, on the wall clock
    assert seen["village"] == {"code": VILLAGE, "name": "Ulak Paceh"}  # joined from the registry
    assert (seen["overdue"], seen["overdueItems"]) == (True, late)
    assert [r["overdue"] for r in seen["referrals"]] == [False, False, True]
    for token, agency in ((t.kp2mi, "KEMENIMIPAS"), (t.kemenimipas, None)):  # KemenImipas: its own by default
        listed = (await data(gw, OVERDUE, {"a": agency}, token))["overdueCases"]
        mine = [e["node"] for e in listed["edges"] if e["node"]["id"] == case_id]
        assert mine == [{"id": case_id, "overdueItems": late}]
        assert listed["totalCount"] >= 1
    held_by_bp3mi = (await data(gw, OVERDUE, {"a": "BP3MI"}, t.bp3mi))["overdueCases"]["edges"]
    assert case_id not in [e["node"]["id"] for e in held_by_bp3mi]
    for token, filter_ in ((t.kp2mi, {"assignedTo": "KEMENIMIPAS", "overdue": True, "regionPrefix": "16.06"}),
                           (t.kemenimipas, {"status": "IN_PROGRESS", "kind": "ABUSE_ABROAD", "phase": "ABROAD"}),
                           (t.disnaker, {"overdue": True, "regionPrefix": VILLAGE})):  # fmt: skip
        listed = (await data(gw, CASES, {"f": filter_, "first": 100}, token))["cases"]
        assert case_id in [e["node"]["id"] for e in listed["edges"]], filter_
    for token, filter_ in ((t.kp2mi, {"overdue": False, "regionPrefix": VILLAGE}),
                           (t.kp2mi, {"assignedTo": "BNN"}), (t.bp3mi, {"status": "OPEN"})):  # fmt: skip
        listed = (await data(gw, CASES, {"f": filter_, "first": 100}, token))["cases"]
        assert case_id not in [e["node"]["id"] for e in listed["edges"]], filter_

    async def escalated() -> list[dict[str, Any]]:
        return await audit_events(gw, t.auditor, type="demimas.cases.case.overdue", subject=case_id)

    [overdue] = await until(escalated, "the sweep escalated the referral and the audit service recorded it")
    assert {k: overdue["data"][k] for k in ("caseId", "item", "heldBy", "referralId", "escalatedTo", "version")} == {
        "caseId": case_id, "item": "REFERRAL_RESPONSE", "heldBy": "KEMENIMIPAS", "referralId": imigrasi,
        "escalatedTo": "KP2MI", "version": 7}  # fmt: skip
    assert overdue["actorAgency"] is None  # the service escalates, no caller

    # KemenImipas answers late (declines), KP2MI records the legal aid organisation's outcome
    c = await change(DECLINE, {"r": imigrasi, "v": 7, "why": "The embassy in Kuala Lumpur issues a new passport"},
                     t.kemenimipas)  # fmt: skip
    assert shape(c) == ("IN_PROGRESS", 8, "BP3MI", ["BP3MI", "KEMENPPPA"])
    assert (c["overdue"], c["referrals"][2]["status"]) == (False, "DECLINED")
    c = await change(OUTCOME, {"r": legal_aid["id"], "v": 8, "o": "Claim filed with the labour court in Johor"},
                     t.kp2mi)  # fmt: skip
    assert (c["version"], c["referrals"][0]["status"]) == (9, "COMPLETED")
    c = await change(NOTE, {"id": case_id, "v": 9, "text": "Two counselling sessions held with her family"},
                     t.kemenpppa)  # fmt: skip
    assert c["notes"] == [{"agency": "KEMENPPPA", "text": "Two counselling sessions held with her family"}]

    # the holder resolves and closes it (the opener no longer holds it); then it is reopened
    refused = refusal(await call(gw, RESOLVE, {"id": case_id, "v": 10, "r": "Wages paid"}, t.disnaker))
    assert (refused["code"], refused["reason"]) == ("FORBIDDEN", "not_the_owner")
    c = await change(RESOLVE, {"id": case_id, "v": 10, "r": "Wages paid in full after mediation"}, t.bp3mi)
    assert (shape(c)[:2], c["resolvedAt"] is not None) == (("RESOLVED", 11), True)
    c = await change(CLOSE, {"id": case_id, "v": 11}, t.bp3mi)
    assert (shape(c)[:2], c["closedAt"] is not None) == (("CLOSED", 12), True)
    c = await change(REOPEN, {"id": case_id, "v": 12, "why": "The employer withheld the last payment"}, t.bp3mi)
    assert shape(c) == ("REOPENED", 13, "BP3MI", ["BP3MI", "KEMENPPPA"])
    assert (c["resolvedAt"], c["closedAt"], c["overdue"]) == (None, None, False)

    # the worker's cases, joined onto the registry's worker
    joined = (await data(gw, WORKER_CASES, {"id": worker}, t.disnaker))["worker"]
    assert (joined["fullName"], joined["cases"]) == ("Sri Wahyuni", [{"id": case_id, "status": "REOPENED",
                                                                        "kind": "ABUSE_ABROAD"}])  # fmt: skip

    # --- the auditor: no case:read, so never the case itself ---
    refused = refusal(await call(gw, CASE, {"id": case_id}, t.auditor))
    assert refused["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    refused = refusal(await call(gw, WORKER_CASES, {"id": worker}, t.auditor))
    assert refused["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    trail = (await data(gw, TRAIL, {"id": case_id}, t.auditor))["caseTrail"]
    assert [(s["version"], s["step"], s["agency"], s["status"], s["heldBy"]) for s in trail] == [
        (1, "opened", "DISNAKER", "OPEN", ["DISNAKER"]),
        (2, "triaged", "BP3MI", "TRIAGED", ["BP3MI"]),
        (3, "referred", "KP2MI", "REFERRED", ["BP3MI"]),
        (4, "referral_accepted", "KP2MI", "IN_PROGRESS", ["BP3MI"]),
        (5, "referred", "BP3MI", "IN_PROGRESS", ["BP3MI", "KEMENPPPA"]),
        (6, "referral_accepted", "KEMENPPPA", "IN_PROGRESS", ["BP3MI", "KEMENPPPA"]),
        (7, "referred", "BP3MI", "IN_PROGRESS", ["BP3MI", "KEMENPPPA", "KEMENIMIPAS"]),
        (8, "referral_declined", "KEMENIMIPAS", "IN_PROGRESS", ["BP3MI", "KEMENPPPA"]),
        (9, "referral_completed", "KP2MI", "IN_PROGRESS", ["BP3MI", "KEMENPPPA"]),
        (10, "note_added", "KEMENPPPA", "IN_PROGRESS", ["BP3MI", "KEMENPPPA"]),
        (11, "resolved", "BP3MI", "RESOLVED", ["BP3MI", "KEMENPPPA"]),
        (12, "closed", "BP3MI", "CLOSED", ["BP3MI", "KEMENPPPA"]),
        (13, "reopened", "BP3MI", "REOPENED", ["BP3MI", "KEMENPPPA"]),
    ]
    steps = {  # the case's events in the audit store: version -> (type, agency); a note is a step, not an event
        1: ("opened", "DISNAKER"), 2: ("triaged", "BP3MI"), 3: ("referred", "KP2MI"),
        4: ("referral_accepted", "KP2MI"), 5: ("referred", "BP3MI"), 6: ("referral_accepted", "KEMENPPPA"),
        7: ("referred", "BP3MI"), 8: ("referral_declined", "KEMENIMIPAS"), 9: ("referral_completed", "KP2MI"),
        11: ("resolved", "BP3MI"), 12: ("closed", "BP3MI"), 13: ("reopened", "BP3MI"),
    }  # fmt: skip

    async def recorded() -> list[dict[str, Any]] | None:
        found = await audit_events(gw, t.auditor, subject=case_id)
        changes = [e for e in found if e["type"].startswith("demimas.cases.case.")]
        return found if len(changes) == len(steps) + 1 else None  # and the overdue event

    audited = await until(recorded, "every change of the case reached the audit store")
    changes = [e for e in audited if e["type"].startswith("demimas.cases.case.") and e["actorAgency"] is not None]
    assert sorted((e["data"]["version"], e["type"], e["actorAgency"]) for e in changes) == [
        (v, f"demimas.cases.case.{name}", agency) for v, (name, agency) in sorted(steps.items())
    ]
    for e in changes:  # each agency's request, followed by its trace; every event of the case correlates on its id
        assert e["traceId"] == traces[e["data"]["version"]], e
        assert (e["correlationId"], e["causationId"]) == (e["subject"], None), e
    # one request's trace across the services: the opening, and the read of its description in the same answer
    opening = (await data(gw, AUDIT_TRACE, {"t": traces[1]}, t.auditor))["auditTrace"]
    assert {(e["type"], e["actorAgency"]) for e in opening} == {
        ("demimas.cases.case.opened", "DISNAKER"), ("demimas.cases.personal_data.accessed", "DISNAKER")}  # fmt: skip
    [read] = [e["data"] for e in opening if e["type"].endswith("accessed")]
    assert (read["caseIds"], read["fields"], read["purpose"], read["operation"]) == (
        [case_id], ["description"], "PROTECTION_CASE", "OpenCase")  # fmt: skip
    assert read["workerIds"] == [worker]  # a description of what happened to her: a read of her data
    # the escalation was recorded once, whatever number of sweeps ran since
    assert len([e for e in audited if e["type"] == "demimas.cases.case.overdue"]) == 1
    # content never reaches the auditor: not in the trail, not in any event of the case
    seen_by_auditor = json.dumps([trail, audited, opening])
    for content in (payload["description"], "Suparmi", "0812-7000-1122", "Sri Wahyuni", "five months of wages",
                    "Counselling after the abuse", "passport is held", "Kuala Lumpur", "labour court",
                    "counselling sessions", "after mediation", "withheld the last payment"):  # fmt: skip
        assert content not in seen_by_auditor, content


# --- a restricted case ------------------------------------------------------------------------------------------
CONTENT_FIELDS = ("description", "people", "reporter", "notes")


async def test_a_restricted_case_shows_its_content_only_to_its_owner_and_after_an_accepted_referral(
    endpoints: Endpoints, tokens: Tokens
) -> None:
    gw, t = endpoints.gateway, tokens
    worker = await register_worker(gw, t.bp3mi, RESTRICTED_VILLAGE, name="Sri Rahayu")
    child = await add_child(gw, t.bp3mi, worker)
    description = "The girl lives alone with her grandmother since her mother left; she stopped going to school."
    payload = case_input(RESTRICTED_VILLAGE, kind="FAMILY_WELFARE", description=description,
                         people=[{"role": "FAMILY_MEMBER", "id": child}])  # fmt: skip
    c = await open_case(gw, t.disnaker, payload)
    case_id = c["id"]
    assert (c["confidentiality"], c["contentVisible"], c["description"]) == ("RESTRICTED", True, description)

    async def read_as(token: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        body = await call(gw, CASE_CONTENT, {"id": case_id}, token)
        return body["data"]["case"], refusals(body)

    # BP3MI sees the case of its province (what it is, where it stands) but not who it is about
    seen, refused = await read_as(t.bp3mi)
    assert (seen["status"], seen["confidentiality"], seen["contentVisible"]) == ("OPEN", "RESTRICTED", False)
    assert {f: seen[f] for f in CONTENT_FIELDS} == dict.fromkeys(CONTENT_FIELDS)
    assert {f: (e["code"], e["reason"]) for f, e in refused.items()} == dict.fromkeys(
        CONTENT_FIELDS, ("FORBIDDEN", "restricted_case"))  # fmt: skip
    # its owner reads all of it, but who the family member is in the registry needs family:read, which DISNAKER lacks
    seen, refused = await read_as(t.disnaker)
    assert {f: e["code"] for f, e in refused.items()} == {"familyMember": "UNAUTHORIZED_FIELD_OR_TYPE"}
    assert (seen["description"], seen["reporter"]["name"]) == (description, "Suparmi")
    assert seen["people"] == [{"role": "FAMILY_MEMBER", "minor": True, "worker": None, "familyMember": None}]

    c = await data(gw, TRIAGE, {"id": case_id, "v": 1}, t.disnaker)
    to_pppa = {"toAgency": "KEMENPPPA", "reason": "A child left without care"}
    c = await data(gw, REFER, {"id": case_id, "v": 2, "in": to_pppa}, t.disnaker)
    referral = c["referCase"]["referrals"][0]["id"]
    # KemenPPPA now sees the case, but its content only once it accepted the referral
    seen, refused = await read_as(t.kemenpppa)
    assert (seen["status"], seen["contentVisible"], seen["description"], seen["referrals"]) == (
        "REFERRED", False, None, [{"toAgency": "KEMENPPPA", "reason": None}])  # fmt: skip
    assert {f: (e["code"], e["reason"]) for f, e in refused.items()} == dict.fromkeys(
        (*CONTENT_FIELDS, "reason"), ("FORBIDDEN", "restricted_case"))  # fmt: skip
    accepted = (await data(gw, ACCEPT, {"r": referral, "v": 3}, t.kemenpppa))["acceptReferral"]
    assert (accepted["status"], accepted["contentVisible"]) == ("IN_PROGRESS", True)
    seen, refused = await read_as(t.kemenpppa)
    assert refused == {}
    assert (seen["description"], seen["referrals"]) == (description, [to_pppa])
    # the child as the registry knows her (KemenPPPA reads families), and her cases joined back from this service
    family = "query C($id: ID!) { case(id: $id) { people { familyMember { fullName minor cases { id } } } } }"
    [person] = (await data(gw, family, {"id": case_id}, t.kemenpppa))["case"]["people"]
    assert person["familyMember"] == {"fullName": "Putri Wahyuni", "minor": True, "cases": [{"id": case_id}]}
    # the province's BP3MI has still accepted nothing: still no content
    seen, refused = await read_as(t.bp3mi)
    assert (seen["contentVisible"], set(refused)) == (False, {*CONTENT_FIELDS, "reason"})
    note = refusal(await call(gw, NOTE, {"id": case_id, "v": 4, "text": "Visited the school"}, t.bp3mi))
    assert (note["code"], note["reason"]) == ("FORBIDDEN", "restricted_case")  # a note is content too

    async def reads() -> list[dict[str, Any]]:
        found = await audit_events(gw, t.auditor, type="demimas.cases.personal_data.accessed", subject=case_id)
        return found if {e["actorAgency"] for e in found} >= {"DISNAKER", "KEMENPPPA"} else []

    # every read of the content is recorded, naming the child; the refused reads recorded nothing
    recorded = await until(reads, "the reads of the restricted case reached the audit store")
    assert {e["actorAgency"] for e in recorded} == {"DISNAKER", "KEMENPPPA"}
    assert all(e["data"]["familyMemberIds"] == [child] for e in recorded if "people" in e["data"]["fields"])


# --- refusals ---------------------------------------------------------------------------------------------------
async def test_every_mutation_refuses_bad_input_wrong_state_wrong_party_wrong_region_and_stale_versions(
    endpoints: Endpoints, tokens: Tokens, mint: Callable[..., str]
) -> None:
    gw, t = endpoints.gateway, tokens
    banyuasin = mint("DISNAKER", region="16.07", purpose="PROTECTION_CASE")  # the next regency
    central_java = mint("BP3MI", region="33", purpose="PROTECTION_CASE")
    bnn = mint("BNN", purpose="PROTECTION_CASE")
    missing = str(uuid.uuid4())

    async def refused(query: str, variables: dict[str, Any], token: str, **wanted: Any) -> dict[str, Any]:
        got = refusal(await call(gw, query, variables, token))
        assert {k: got.get(k) for k in wanted} == wanted, got
        return got

    bad, conflict, forbidden, not_found = "BAD_USER_INPUT", "CONFLICT", "FORBIDDEN", "NOT_FOUND"
    here = case_input(ERRORS_VILLAGE)

    # openCase
    for change, field in (
        ({"villageCode": "16.06.13.9999"}, "villageCode"),
        ({"villageCode": "Ulak Paceh"}, "villageCode"),
        ({"description": "unpaid"}, "description"),
        ({"destinationCountry": "Malaysia"}, "destinationCountry"),
        ({"destinationCountry": None}, "destinationCountry"),  # a case abroad names the country
        ({"people": [{"role": "WORKER", "id": missing}]}, "people.0.id"),
        ({"people": [{"role": "WORKER", "id": "nobody"}]}, "people.0.id"),
        ({"people": [{"role": "UNREGISTERED"}]}, "people.0.name"),
        ({"reporter": {"anonymous": True, "name": "Suparmi"}}, "reporter"),
        ({"reporter": {"anonymous": False}}, "reporter.name"),
    ):
        await refused(OPEN, {"in": {**here, **change}}, t.disnaker, code=bad, field=field)
    # a worker of another region is as unknown as one that does not exist (once the service knows her)
    javanese = await register_worker(gw, t.kp2mi, ELSEWHERE, name="Sri Handayani")
    await open_case(gw, t.kp2mi, case_input(ELSEWHERE, people=[{"role": "WORKER", "id": javanese}]))
    theirs = await refused(OPEN, {"in": {**here, "people": [{"role": "WORKER", "id": javanese}]}}, t.disnaker,
                           code=bad, field="people.0.id")  # fmt: skip
    unknown = await refused(OPEN, {"in": {**here, "people": [{"role": "WORKER", "id": missing}]}}, t.disnaker,
                            code=bad, field="people.0.id")  # fmt: skip
    assert theirs["message"].replace(javanese, "<id>") == unknown["message"].replace(missing, "<id>")
    wrong_kind = refusal(await call(gw, OPEN, {"in": {**here, "kind": "THEFT"}}, t.disnaker))
    assert wrong_kind["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert "THEFT" in wrong_kind["message"]
    await refused(OPEN, {"in": here, "key": ""}, t.disnaker, code=bad, field="idempotencyKey")
    await refused(OPEN, {"in": here, "key": "kunci-é"}, t.disnaker, code=bad, field="idempotencyKey")
    await refused(OPEN, {"in": case_input(ELSEWHERE)}, t.disnaker, code=forbidden, field="villageCode")
    await refused(OPEN, {"in": here}, t.kemenpppa, code=forbidden, reason="not_a_handler")
    await refused(OPEN, {"in": here}, t.auditor, code="UNAUTHORIZED_FIELD_OR_TYPE")

    c = (await data(gw, OPEN, {"in": here}, t.disnaker))["openCase"]
    case_id = c["id"]
    v = {"id": case_id, "v": 1}
    # a case outside the caller's region is answered exactly as one that does not exist
    far = await refused(TRIAGE, v, banyuasin, code=not_found, field="id")
    nowhere = await refused(TRIAGE, {"id": missing, "v": 1}, banyuasin, code=not_found, field="id")
    assert far["message"].replace(case_id, "<id>") == nowhere["message"].replace(missing, "<id>")
    await refused(TRIAGE, v, central_java, code=not_found, field="id")
    assert (await data(gw, CASE, {"id": case_id}, central_java))["case"] is None
    # before triage: nothing else may happen to it
    refer = {"toAgency": "BNN", "reason": "Methamphetamine found in her luggage"}
    for query, variables in ((REFER, {**v, "in": refer}), (RESOLVE, {**v, "r": "Nothing left to do"}),
                             (CLOSE, v), (REOPEN, {**v, "why": "Reopened by mistake"})):  # fmt: skip
        await refused(query, variables, t.disnaker, code=conflict, reason="illegal_transition")

    # triageCase
    await refused(TRIAGE, {"id": "not-a-uuid", "v": 1}, t.bp3mi, code=bad, field="id")
    await refused(TRIAGE, {**v, "in": {"ownerAgency": "KEMENPPPA"}}, t.bp3mi, code=bad, field="ownerAgency")
    await refused(TRIAGE, {**v, "v": 7}, t.bp3mi, code=conflict, reason="stale_version", currentVersion=1)
    await refused(TRIAGE, v, t.kemenpppa, code=forbidden, reason="not_a_handler")
    c = (await data(gw, TRIAGE, v, t.bp3mi))["triageCase"]  # DISNAKER keeps it
    assert shape(c) == ("TRIAGED", 2, "DISNAKER", ["DISNAKER"])
    await refused(TRIAGE, {**v, "v": 2}, t.bp3mi, code=conflict, reason="illegal_transition")

    # referCase
    v = {"id": case_id, "v": 2}
    for given, field in (
        ({"reason": "Needs help"}, "input"),
        ({**refer, "legalAidOrganisationId": missing}, "input"),
        ({**refer, "toAgency": "KEMENDES"}, "toAgency"),
        ({**refer, "toAgency": "DISNAKER"}, "toAgency"),
        ({"legalAidOrganisationId": missing, "reason": "Needs a lawyer"}, "legalAidOrganisationId"),
        ({"legalAidOrganisationId": "LBH", "reason": "Needs a lawyer"}, "input.legalAidOrganisationId"),
        ({**refer, "reason": " "}, "reason"),
    ):
        await refused(REFER, {**v, "in": given}, t.bp3mi, code=bad, field=field)
    await refused(REFER, {**v, "v": 1, "in": refer}, t.bp3mi, code=conflict, reason="stale_version", currentVersion=2)
    await refused(REFER, {**v, "in": refer}, t.kemenpppa, code=forbidden, reason="not_a_handler")
    await refused(REFER, {**v, "in": refer}, central_java, code=not_found, field="id")
    c = (await data(gw, REFER, {**v, "in": refer}, t.bp3mi))["referCase"]
    referral = c["referrals"][0]["id"]
    await refused(REFER, {**v, "v": 3, "in": refer}, t.bp3mi, code=conflict, reason="already_referred")

    # acceptReferral, declineReferral, recordReferralOutcome
    r = {"r": referral, "v": 3}
    await refused(ACCEPT, {**r, "r": "BNN"}, bnn, code=bad, field="referralId")
    await refused(ACCEPT, {**r, "r": missing}, bnn, code=not_found, field="referralId")
    await refused(ACCEPT, r, t.kemenpppa, code=not_found, field="referralId")  # it does not see the case
    await refused(ACCEPT, r, central_java, code=not_found, field="referralId")
    await refused(ACCEPT, r, t.bp3mi, code=forbidden, reason="not_the_receiver")  # it sees it, BNN answers
    await refused(ACCEPT, {**r, "v": 2}, bnn, code=conflict, reason="stale_version", currentVersion=3)
    await refused(OUTCOME, {**r, "o": "Tested negative"}, bnn, code=conflict, reason="not_accepted")
    await refused(OUTCOME, {**r, "o": "Tested negative"}, t.bp3mi, code=forbidden, reason="not_the_receiver")
    await refused(DECLINE, {**r, "why": ""}, bnn, code=bad, field="reason")
    await refused(DECLINE, {**r, "why": "Not ours"}, t.bp3mi, code=forbidden, reason="not_the_receiver")
    await refused(DECLINE, {**r, "why": "Not ours"}, central_java, code=not_found, field="referralId")
    await refused(DECLINE, {**r, "v": 2, "why": "Not ours"}, bnn, code=conflict, reason="stale_version",
                  currentVersion=3)  # fmt: skip
    await refused(RESOLVE, {"id": case_id, "v": 3, "r": "Settled"}, t.disnaker, code=conflict,
                  reason="referral_pending")  # fmt: skip
    c = (await data(gw, DECLINE, {**r, "why": "No narcotics offence is involved"}, bnn))["declineReferral"]
    assert shape(c) == ("TRIAGED", 4, "DISNAKER", ["DISNAKER"])  # back with its holder, to be referred again
    assert (await data(gw, CASE, {"id": case_id}, bnn))["case"]["referrals"][0]["status"] == "DECLINED"
    await refused(ACCEPT, {**r, "v": 4}, bnn, code=conflict, reason="already_answered")
    await refused(DECLINE, {**r, "v": 4, "why": "Again"}, bnn, code=conflict, reason="already_answered")

    # addCaseNote
    n = {"id": case_id, "v": 4, "text": "Called the family"}
    await refused(NOTE, {**n, "text": "  "}, t.disnaker, code=bad, field="text")
    await refused(NOTE, {**n, "key": "x" * 101}, t.disnaker, code=bad, field="idempotencyKey")
    await refused(NOTE, {**n, "v": 3}, t.disnaker, code=conflict, reason="stale_version", currentVersion=4)
    await refused(NOTE, n, central_java, code=not_found, field="caseId")
    await refused(NOTE, n, t.kemenpppa, code=not_found, field="caseId")
    await refused(NOTE, n, mint("BP3MI", region="16"), code="PURPOSE_REQUIRED")  # notes are content
    await refused(NOTE, n, mint("BP3MI", region="16", purpose="PLACEMENT_SERVICE"), code=forbidden,
                  reason="wrong_purpose")  # fmt: skip

    # resolveCase, closeCase, reopenCase: by the owner (or KP2MI)
    v = {"id": case_id, "v": 4}
    await refused(RESOLVE, {**v, "r": ""}, t.disnaker, code=bad, field="resolution")
    await refused(RESOLVE, {**v, "r": "Settled"}, t.bp3mi, code=forbidden, reason="not_the_owner")
    await refused(RESOLVE, {**v, "r": "Settled"}, bnn, code=forbidden, reason="not_the_owner")
    await refused(RESOLVE, {**v, "r": "Settled"}, banyuasin, code=not_found, field="id")
    await refused(RESOLVE, {**v, "v": 3, "r": "Settled"}, t.disnaker, code=conflict, reason="stale_version",
                  currentVersion=4)  # fmt: skip
    c = (await data(gw, RESOLVE, {**v, "r": "Settled with the placement agency"}, t.disnaker))["resolveCase"]
    v = {"id": case_id, "v": 5}
    await refused(RESOLVE, {**v, "r": "Settled"}, t.disnaker, code=conflict, reason="illegal_transition")
    await refused(CLOSE, v, t.bp3mi, code=forbidden, reason="not_the_owner")
    await refused(CLOSE, {**v, "v": 4}, t.disnaker, code=conflict, reason="stale_version", currentVersion=5)
    await refused(CLOSE, v, central_java, code=not_found, field="id")
    c = (await data(gw, CLOSE, v, t.disnaker))["closeCase"]
    v = {"id": case_id, "v": 6}
    await refused(CLOSE, v, t.disnaker, code=conflict, reason="illegal_transition")
    await refused(REOPEN, {**v, "why": ""}, t.disnaker, code=bad, field="reason")
    await refused(REOPEN, {**v, "why": "Paid only half"}, t.bp3mi, code=forbidden, reason="not_the_owner")
    await refused(REOPEN, {**v, "why": "Paid only half"}, banyuasin, code=not_found, field="id")
    await refused(REOPEN, {**v, "v": 5, "why": "Paid only half"}, t.disnaker, code=conflict, reason="stale_version",
                  currentVersion=6)  # fmt: skip
    c = (await data(gw, REOPEN, {**v, "why": "Paid only half"}, t.kp2mi))["reopenCase"]  # KP2MI may, too
    assert shape(c) == ("REOPENED", 7, "DISNAKER", ["DISNAKER"])

    # recordReferralOutcome, on a referral accepted this time
    c = (await data(gw, REFER, {"id": case_id, "v": 7, "in": refer}, t.disnaker))["referCase"]
    again = c["referrals"][1]["id"]
    c = (await data(gw, ACCEPT, {"r": again, "v": 8}, bnn))["acceptReferral"]
    assert shape(c) == ("IN_PROGRESS", 9, "DISNAKER", ["DISNAKER", "BNN"])
    o = {"r": again, "v": 9, "o": "Tested negative for narcotics"}
    await refused(OUTCOME, {**o, "o": "ok"}, bnn, code=bad, field="outcome")
    await refused(OUTCOME, {**o, "v": 8}, bnn, code=conflict, reason="stale_version", currentVersion=9)
    await refused(OUTCOME, o, t.disnaker, code=forbidden, reason="not_the_receiver")
    await refused(OUTCOME, o, central_java, code=not_found, field="referralId")
    await refused(OUTCOME, {**o, "r": referral}, bnn, code=conflict, reason="not_accepted")  # the declined one
    c = (await data(gw, OUTCOME, o, bnn))["recordReferralOutcome"]
    await refused(OUTCOME, {**o, "v": 10}, bnn, code=conflict, reason="not_accepted")  # completed already

    # registerLegalAidOrganisation: KP2MI's register
    org = {"name": "LBH Sekayu", "accreditationNumber": "AHU-0042", "regionsServed": ["16.06"]}
    await refused(REGISTER_LEGAL_AID, {"in": org}, t.bp3mi, code=forbidden, reason="not_kp2mi")
    invalid: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"accreditationNumber": "A"}, "accreditationNumber"),
        ({"regionsServed": []}, "regionsServed"),
        ({"regionsServed": ["Sumsel"]}, "regionsServed"),
        ({"contact": "x"}, "contact"),
    ]
    for change, field in invalid:
        await refused(REGISTER_LEGAL_AID, {"in": {**org, **change}}, t.kp2mi, code=bad, field=field)
    org["accreditationNumber"] = f"AHU-{uuid.uuid4().hex[:10]}"
    await data(gw, REGISTER_LEGAL_AID, {"in": org}, t.kp2mi)
    await refused(REGISTER_LEGAL_AID, {"in": {**org, "name": "LBH Sekayu Baru"}}, t.kp2mi, code=conflict,
                  reason="already_registered", field="accreditationNumber")  # fmt: skip

    assert (await data(gw, TRAIL, {"id": missing}, t.auditor))["caseTrail"] is None
    # none of the refused changes left a trace: the case moved only by the changes that were allowed
    trail = (await data(gw, TRAIL, {"id": case_id}, t.auditor))["caseTrail"]
    assert [s["step"] for s in trail] == [
        "opened", "triaged", "referred", "referral_declined", "resolved", "closed", "reopened", "referred",
        "referral_accepted", "referral_completed",
    ]  # fmt: skip


async def test_idempotency_keys_of_opening_and_of_notes(endpoints: Endpoints, tokens: Tokens) -> None:
    gw, t = endpoints.gateway, tokens
    key = str(uuid.uuid4())
    payload = case_input(ERRORS_VILLAGE, kind="COMPLAINT", description="The placement agency kept her deposit.")
    first = await open_case(gw, t.disnaker, payload, key=key)
    again = await open_case(gw, t.disnaker, payload, key=key)  # a retry: the same case, nothing new
    assert (again["id"], again["version"], again["openedAt"]) == (first["id"], 1, first["openedAt"])
    other = refusal(await call(gw, OPEN, {"in": {**payload, "kind": "LEGAL_AID"}, "key": key}, t.disnaker))
    assert (other["code"], other["reason"], other["field"]) == ("CONFLICT", "idempotency_key_reused", "idempotencyKey")
    theirs = await open_case(gw, t.bp3mi, payload, key=key)  # keys are each office's own
    assert theirs["id"] != first["id"]
    racing = str(uuid.uuid4())  # the same request sent three times at once (a client's retries): one case
    answers = await asyncio.gather(*(call(gw, OPEN, {"in": payload, "key": racing}, t.disnaker) for _ in range(3)))
    assert len({a["data"]["openCase"]["id"] for a in answers}) == 1, answers

    case_id, note_key = first["id"], str(uuid.uuid4())
    note = {"id": case_id, "v": 1, "text": "Met the agency's branch manager", "key": note_key}
    noted = (await data(gw, NOTE, note, t.disnaker))["addCaseNote"]
    assert (noted["version"], len(noted["notes"])) == (2, 1)
    for version in (1, 2):  # a retry (with the version it read, or the case's current one) adds nothing
        retried = (await data(gw, NOTE, {**note, "v": version}, t.disnaker))["addCaseNote"]
        assert (retried["version"], retried["notes"]) == (2, noted["notes"])
    reused = refusal(await call(gw, NOTE, {**note, "v": 2, "text": "Another note"}, t.disnaker))
    assert (reused["code"], reused["reason"], reused["field"]) == ("CONFLICT", "idempotency_key_reused",
                                                                    "idempotencyKey")  # fmt: skip
    notes = {**note, "v": 2, "text": "Asked for the deposit receipt", "key": str(uuid.uuid4())}
    answers = await asyncio.gather(*(call(gw, NOTE, notes, t.disnaker) for _ in range(3)))
    assert {(a["data"]["addCaseNote"]["version"], len(a["data"]["addCaseNote"]["notes"])) for a in answers} == {(3, 2)}
    elsewhere = refusal(await call(gw, NOTE, {**note, "id": theirs["id"]}, t.disnaker))  # same key, other case
    assert (elsewhere["code"], elsewhere["reason"]) == ("CONFLICT", "idempotency_key_reused")
    trail = (await data(gw, TRAIL, {"id": case_id}, t.auditor))["caseTrail"]
    assert [s["step"] for s in trail] == ["opened", "note_added", "note_added"]


# --- figures ----------------------------------------------------------------------------------------------------
async def test_village_case_figures_and_a_worker_s_cases_are_joined_onto_the_registry(
    endpoints: Endpoints, clocked: Clocked, tokens: Tokens, mint: Callable[..., str]
) -> None:
    gw, t = endpoints.gateway, tokens
    empty = {"open": 0, "closed": 0, "openByKind": [], "closedByKind": [], "medianDaysToResolution": None,
             "overdue": 0}  # fmt: skip
    village = (await data(gw, STATS, {"code": STATS_VILLAGE}, t.disnaker))["village"]
    assert (village["name"], village["caseStats"]) == ("Talang Piase", empty)
    worker = await register_worker(gw, t.disnaker, STATS_VILLAGE, name="Sri Mulyani")
    about_her = [{"role": "WORKER", "id": worker}]

    async def opened(kind: str, days_ago: int, *, triage: bool) -> str:
        """A case about the worker opened (and triaged) `days_ago` days ago, through the clocked service."""
        with clocked.clock.back(days=days_ago):
            c = await open_case(clocked.gateway, t.disnaker, case_input(STATS_VILLAGE, kind=kind, people=about_her))
            if triage:
                await data(clocked.gateway, TRIAGE, {"id": c["id"], "v": 1}, t.disnaker)
        case_id: str = c["id"]
        return case_id

    ten = await opened("COMPLAINT", 10, triage=True)
    four = await opened("LEGAL_AID", 4, triage=True)
    late = await opened("COMPLAINT", 2, triage=False)  # its triage was due a day ago
    fresh = (await open_case(gw, t.disnaker, case_input(STATS_VILLAGE, kind="REPATRIATION", people=about_her)))["id"]
    # resolved now, on the wall clock: ten and four days after they were opened
    for case_id in (ten, four):
        await data(gw, RESOLVE, {"id": case_id, "v": 2, "r": "The agency refunded the fees"}, t.disnaker)
    await data(gw, CLOSE, {"id": ten, "v": 3}, t.disnaker)

    for token in (t.disnaker, mint("KEMENDES")):  # KemenDes reads figures (stats:read), never a case
        stats = (await data(gw, STATS, {"code": STATS_VILLAGE}, token))["village"]["caseStats"]
        median = stats.pop("medianDaysToResolution")
        assert stats == {
            "open": 2,
            "closed": 2,
            "openByKind": [{"kind": "COMPLAINT", "count": 1}, {"kind": "REPATRIATION", "count": 1}],
            "closedByKind": [{"kind": "COMPLAINT", "count": 1}, {"kind": "LEGAL_AID", "count": 1}],
            "overdue": 1,
        }
        assert 7 <= median < 7.5  # the median of 10 and 4 days (and the seconds the test took)
    refused = refusal(await call(gw, CASE, {"id": late}, mint("KEMENDES")))
    assert refused["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    # the case overdue on its triage is DISNAKER's to act on
    listed = (await data(gw, OVERDUE, {"a": None}, t.disnaker))["overdueCases"]["edges"]
    mine = [e["node"] for e in listed if e["node"]["id"] in (ten, four, late, fresh)]
    assert mine == [{"id": late, "overdueItems": [{"kind": "TRIAGE", "heldBy": "DISNAKER", "referralId": None}]}]

    async def escalated() -> list[dict[str, Any]]:
        return await audit_events(gw, t.auditor, type="demimas.cases.case.overdue", subject=late)

    [overdue] = await until(escalated, "the sweep escalated the triage")
    assert (overdue["data"]["item"], overdue["data"]["heldBy"], overdue["data"]["referralId"]) == (
        "TRIAGE", "DISNAKER", None)  # fmt: skip

    # the worker's cases, oldest first, joined onto the registry's worker; none for an agency not referred
    joined = (await data(gw, WORKER_CASES, {"id": worker}, t.disnaker))["worker"]
    assert joined["fullName"] == "Sri Mulyani"
    assert [(c["id"], c["status"]) for c in joined["cases"]] == [
        (ten, "CLOSED"), (four, "RESOLVED"), (late, "OPEN"), (fresh, "OPEN")]  # fmt: skip
    assert (await data(gw, WORKER_CASES, {"id": worker}, t.kemenpppa))["worker"]["cases"] == []
    assert (await data(gw, WORKER_CASES, {"id": worker}, mint("BP3MI", region="33")))["worker"] is None

    # the village's cases, a page of one at a time
    pages, after = [], None
    while True:
        page = (await data(gw, CASES, {"f": {"regionPrefix": STATS_VILLAGE}, "first": 1, "after": after},
                           t.disnaker))["cases"]  # fmt: skip
        assert page["totalCount"] == 4
        pages += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(pages) == sorted((ten, four, late, fresh))
