"""The region rule, tested by walking the schema rather than by listing fields: an object outside a regional
caller's region is invisible however it is reached (root field, nested field, `_entities`).

The test makes a small world in two provinces: "here" (16, Musi Banyuasin) where the regional callers work, and
"there" (33, Wonosobo) with a worker and family, a designation, proposals, an activity, a pilot with milestones, an
enrolment, a thematic status (DRPPA), a pilot led "there" that spans a village "here" too (its milestone and
activity of "there" are "there"'s), a protection case about the worker and the child (triaged, referred to
KEMENPPPA and to a legal aid organisation serving the province, with a note), and one link across: people of
"there" took part in an activity "here". Then every root query field of the
gateway's API schema, and of each subgraph's own schema plus `_entities` of each of its entity types, is asked
(schema_walk.py) for everything below it, with arguments pointing at "there" and with none, by a BP3MI token of
province 16 and a DISNAKER token of regency 16.06, with a purpose so that personal fields answer too. No string of
"there" may come back, in data or in error messages; no answer may be a 500 or an INTERNAL_SERVER_ERROR. A national
KP2MI token asking the same operations does see "there": the walk reaches the data it claims to protect. A field
added tomorrow is walked without editing this file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema
from sqlalchemy import text

from demimas_audit.entrypoints.graphql.schema import schema as audit_schema
from demimas_cases.entrypoints.graphql.schema import schema as cases_schema
from demimas_common.auth.keys import DevKeys
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_designation.entrypoints.graphql.schema import schema as designation_schema
from demimas_feeds.entrypoints.graphql.schema import schema as feeds_schema
from demimas_pillars.entrypoints.graphql.schema import schema as pillars_schema
from demimas_registry.entrypoints.graphql.schema import schema as registry_schema
from tests.conftest import ask, gateway_app

from .schema_walk import MISSING, Filler, IdProbe, Operation, entry_operations, id_probes, strings_in

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HERE_VILLAGE = "16.06.13.2006"
THERE_VILLAGE, THERE_REGENCY, THERE_PROVINCE = "33.07.03.2011", "33.07", "33"
THERE_CODE = re.compile(r"^33(\.\d+)*$")
TODAY = dt.date.today()
REGIONAL_CALLERS = {"BP3MI of 16": ("BP3MI", "16"), "DISNAKER of 16.06": ("DISNAKER", "16.06"),
                    "AUDITOR of 16": ("AUDITOR", "16")}  # fmt: skip


@dataclass
class World:
    gateway: httpx.AsyncClient
    subgraphs: dict[str, str]
    there_ids: dict[str, list[str]]
    there_names: set[str]
    here_ids: dict[str, list[str]]

    def markers(self) -> set[str]:
        return {i for ids in self.there_ids.values() for i in ids} | self.there_names


async def _until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    for _ in range(600):  # 60 s, as the other e2e tests: a loaded CI machine can be slow; a passing check returns
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def _do(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str,
              purpose: str = "PROGRAMME_DELIVERY") -> dict[str, Any]:  # fmt: skip
    status, answer = await ask(http, query, variables, token=token, purpose=purpose)
    assert status == 200, answer
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def _worker(http: httpx.AsyncClient, token: str, village: str, nik: str, name: str) -> tuple[str, str]:
    data = {"nik": nik, "fullName": name, "sex": "FEMALE", "birthDate": "1990-05-17", "educationLevel": "SMK",
            "villageCode": village, "phone": "+6281234500" + nik[-3:]}  # fmt: skip
    worker = (await _do(http, "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
                        {"in": data}, token))["registerWorker"]["id"]  # fmt: skip
    departure = {"destinationCountry": "MY", "sector": "FORMAL", "occupation": "production operator",
                 "scheme": "P_TO_P", "procedural": True, "departureDate": "2023-01-10"}  # fmt: skip
    await _do(http, "mutation D($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in) { id } }",
              {"id": worker, "in": departure}, token)  # fmt: skip
    back = {"returnDate": (TODAY - dt.timedelta(days=30)).isoformat(), "reason": "CONTRACT_ENDED"}
    await _do(http, "mutation B($id: ID!, $in: ReturnInput!) { recordReturn(workerId: $id, input: $in) { id } }",
              {"id": worker, "in": back}, token)  # fmt: skip
    member = {"relation": "CHILD", "fullName": name + " Junior", "birthDate": "2015-02-02",
              "consent": {"givenBy": "PARENT", "date": "2024-01-01", "basis": "signed form"}}  # fmt: skip
    added = await _do(http, "mutation F($id: ID!, $in: FamilyMemberInput!) { addFamilyMember(workerId: $id, "
                      "input: $in) { id } }", {"id": worker, "in": member}, token)  # fmt: skip
    return worker, added["addFamilyMember"]["id"]


def _nik(village: str, serial: int) -> str:
    return village.replace(".", "")[:6] + f"570590{serial:04d}"


async def _populate(http: httpx.AsyncClient, mint: Callable[..., str], village: str, province: str,
                    regency: str, serial: int) -> dict[str, list[str]]:  # fmt: skip
    """A worker with a child, a designation and a draft proposal, an activity, a pilot, an enrolment."""
    kp2mi, polkam = mint("KP2MI"), mint("KEMENKO_POLKAM")
    disnaker, bp3mi = mint("DISNAKER", region=regency), mint("BP3MI", region=province)
    nik = _nik(village, serial)
    worker, child = await _worker(http, kp2mi, village, nik, "Walk Person " + "AB"[serial - 1])
    ids: dict[str, list[str]] = {"Worker": [worker], "FamilyMember": [child]}
    why = "Residents work in Malaysia as production operators, mostly SMK graduates"
    propose = "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
    pid = (await _do(http, propose, {"v": village, "j": why}, disnaker))["proposeVillage"]["id"]
    await _do(http, "mutation S($id: ID!) { submitProposal(id: $id) { status } }", {"id": pid}, disnaker)
    await _do(http, "mutation V($id: ID!) { verifyProposal(id: $id) { status } }", {"id": pid}, bp3mi)
    await _do(http, "mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", {"id": pid}, bp3mi)
    approve = ("mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: \"SK 77/2026\", "
               "decreeDate: $d, overrideReason: \"evidence filed on paper\") { status } }")  # fmt: skip
    await _do(http, approve, {"id": pid, "d": TODAY.isoformat()}, kp2mi)
    draft = (await _do(http, propose, {"v": village, "j": why + " (second)"}, disnaker))["proposeVillage"]["id"]
    ids["Proposal"] = [pid, draft]
    summary = "query D($v: String!) { village(code: $v) { designation { id } } }"

    async def designated() -> str | None:
        data = await _do(http, summary, {"v": village}, kp2mi)
        found = data["village"]["designation"]
        return found["id"] if found else None

    ids["Designation"] = [await _until(designated, "the designation")]
    queue = "query Q($v: String!) { village(code: $v) { reintegrationQueue { edges { node { worker { id } } } } } }"

    async def queued() -> bool:
        data = await _do(http, queue, {"v": village}, kp2mi)
        return any(e["node"]["worker"]["id"] == worker for e in data["village"]["reintegrationQueue"]["edges"])

    await _until(queued, "the return reached the pillars' queue")
    activity = {"villageCode": village, "pillar": "REINTEGRATION", "title": f"Pendampingan purna PMI {serial}",
                "occurredOn": (TODAY - dt.timedelta(days=3)).isoformat(),
                "participants": {"workerIds": [worker], "familyMemberIds": [child]},
                "outputs": [{"kind": "RETURNEES_REINTEGRATED", "value": 1}]}  # fmt: skip
    record = "mutation A($in: ActivityInput!) { recordActivity(input: $in) { id } }"

    async def recorded() -> str | None:
        # the child's family.added follows the return in the stream: the pillars' projection may not have it yet
        _, answer = await ask(http, record, {"in": activity}, token=kp2mi, purpose="PROGRAMME_DELIVERY")
        if "not registered" in str(answer.get("errors", "")):
            return None
        assert "errors" not in answer, answer
        found: str = answer["data"]["recordActivity"]["id"]
        return found

    ids["Activity"] = [await _until(recorded, "the child reached the pillars' people")]
    pilot = {"villageCode": village, "title": f"Pilot terpadu {serial}",
             "startDate": (TODAY - dt.timedelta(days=90)).isoformat(),
             "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Community parenting"}],
             "milestones": [{"title": f"Baseline {serial}", "dueDate": (TODAY - dt.timedelta(days=9)).isoformat(),
                             "responsibleAgency": "KEMENPPPA"}]}  # fmt: skip
    create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id milestones { id } } }"
    created = (await _do(http, create, {"in": pilot}, polkam))["createPilotProject"]
    ids["PilotProject"], ids["Milestone"] = [created["id"]], [m["id"] for m in created["milestones"]]
    link = "mutation L($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
    await _do(http, link, {"p": created["id"], "a": ids["Activity"][0]}, polkam)
    await _do(http, "mutation S($p: ID!) { setPilotStatus(id: $p, status: ACTIVE) { status } }",
              {"p": created["id"]}, polkam)  # fmt: skip
    enrol = "mutation E($p: ID!) { enrol(personId: $p, programme: ENTREPRENEURSHIP) { id } }"
    ids["Enrolment"] = [(await _do(http, enrol, {"p": worker}, kp2mi))["enrol"]["id"]]
    thematic = {"villageCode": village, "programme": "DRPPA", "since": (TODAY - dt.timedelta(days=40)).isoformat(),
                "reference": f"SK walk {serial}/2026"}  # fmt: skip
    status = "mutation T($in: ThematicStatusInput!) { setThematicStatus(input: $in) { id } }"
    ids["ThematicStatus"] = [(await _do(http, status, {"in": thematic}, mint("KEMENPPPA")))["setThematicStatus"]["id"]]
    return ids


async def _spanning_pilot(http: httpx.AsyncClient, mint: Callable[..., str], ids: dict[str, list[str]]) -> None:
    """A pilot led by the village "there" with the village "here" among its villages: a regional caller "here"
    sees it, but only its part (no code, milestone or activity of "there"); its milestone of "there" joins the
    markers."""
    polkam = mint("KEMENKO_POLKAM")
    late = (TODAY - dt.timedelta(days=5)).isoformat()
    pilot = {"villageCode": THERE_VILLAGE, "villageCodes": [HERE_VILLAGE], "title": "Pilot lintas provinsi",
             "startDate": (TODAY - dt.timedelta(days=90)).isoformat(),
             "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Community parenting"}],
             "milestones": [{"title": "Survey across", "dueDate": late, "responsibleAgency": "KEMENPPPA",
                             "villageCode": THERE_VILLAGE},
                            {"title": "Survey here", "dueDate": late, "responsibleAgency": "KEMENPPPA",
                             "villageCode": HERE_VILLAGE}]}  # fmt: skip
    create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id milestones { id } } }"
    created = (await _do(http, create, {"in": pilot}, polkam))["createPilotProject"]
    ids["Milestone"].append(created["milestones"][0]["id"])
    link = "mutation L($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
    await _do(http, link, {"p": created["id"], "a": ids["Activity"][0]}, polkam)


CASE_TEXT = "Walk case there"
"""In every text of the case of "there" (description, reporter, reasons, note): content, if it ever shows."""


async def _protection_case(
    http: httpx.AsyncClient, mint: Callable[..., str], ids: dict[str, list[str]], database_url: str
) -> None:
    """A case about the worker and the child of "there", opened through the gateway by KP2MI once the cases service
    knows them (the registry's events reach it asynchronously), triaged, referred to KEMENPPPA and to a legal aid
    organisation serving the province, with a note; the answers to both referrals are made overdue (their due times
    moved into the past) so that `overdueCases` shows the case."""
    kp2mi = mint("KP2MI")
    org = {"name": f"LBH {CASE_TEXT}", "accreditationNumber": f"WALK-{ids['Worker'][0][:8]}",
           "regionsServed": [THERE_PROVINCE], "contact": f"{CASE_TEXT} contact"}  # fmt: skip
    register = "mutation G($in: LegalAidOrganisationInput!) { registerLegalAidOrganisation(input: $in) { id } }"
    ids["LegalAidOrganisation"] = [
        (await _do(http, register, {"in": org}, kp2mi))["registerLegalAidOrganisation"]["id"]
    ]
    case = {"villageCode": THERE_VILLAGE, "kind": "FAMILY_WELFARE", "phase": "ABROAD", "channel": "VILLAGE_TASK_FORCE",
            "destinationCountry": "MY", "description": f"{CASE_TEXT}: the child is left without care",
            "reporter": {"anonymous": False, "name": f"{CASE_TEXT} reporter", "contact": "satgas@desa.example"},
            "people": [{"role": "WORKER", "id": ids["Worker"][0]},
                       {"role": "FAMILY_MEMBER", "id": ids["FamilyMember"][0]}]}  # fmt: skip
    open_case = "mutation O($in: OpenCaseInput!) { openCase(input: $in) { id version } }"

    async def opened() -> str | None:
        _, answer = await ask(http, open_case, {"in": case}, token=kp2mi)
        if "is known to the cases service" in str(answer.get("errors", "")):
            return None  # the registry's events have not reached the cases service yet
        assert "errors" not in answer, answer
        found: str = answer["data"]["openCase"]["id"]
        return found

    case_id = await _until(opened, "the cases service knows the people of there")
    refer = ("mutation R($id: ID!, $v: Int!, $in: ReferCaseInput!) { referCase(id: $id, version: $v, input: $in) "
             "{ version referrals { id } } }")  # fmt: skip
    await _do(http, "mutation T($id: ID!) { triageCase(id: $id, version: 1) { version } }", {"id": case_id}, kp2mi)
    await _do(http, refer, {"id": case_id, "v": 2, "in": {"toAgency": "KEMENPPPA", "reason": f"{CASE_TEXT} reason"}},
              kp2mi)  # fmt: skip
    to_org = {"legalAidOrganisationId": ids["LegalAidOrganisation"][0], "reason": f"{CASE_TEXT} legal reason"}
    referred = (await _do(http, refer, {"id": case_id, "v": 3, "in": to_org}, kp2mi))["referCase"]
    note = "mutation N($id: ID!, $t: String!) { addCaseNote(caseId: $id, version: 4, text: $t) { version } }"
    await _do(http, note, {"id": case_id, "t": f"{CASE_TEXT} note"}, kp2mi, "PROTECTION_CASE")  # a note is content
    ids["Case"] = [case_id]
    ids["Referral"] = [r["id"] for r in referred["referrals"]]
    engine = create_engine(with_user(database_url, runtime_role("cases")), pool_size=1)
    try:
        async with engine.begin() as conn:
            late = {"id": case_id}
            await conn.execute(text("UPDATE cases.referrals SET due_at = now() - interval '1 hour' "
                                    "WHERE case_id = CAST(:id AS uuid)"), late)  # fmt: skip
            await conn.execute(text("UPDATE cases.cases SET next_due_at = now() - interval '1 hour' "
                                    "WHERE id = CAST(:id AS uuid)"), late)  # fmt: skip
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def world(
    registry_url: str,
    designation_url: str,
    pillars_url: str,
    audit_url: str,
    cases_url: str,
    feeds_url: str,
    e2e_keys: DevKeys,
    mint: Callable[..., str],
    stack: TestStack,
) -> AsyncIterator[World]:
    urls = {"registry": registry_url, "designation": designation_url, "pillars": pillars_url, "audit": audit_url,
            "cases": cases_url, "feeds": feeds_url}  # fmt: skip
    app, client = gateway_app(urls, e2e_keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as gateway:
        here = await _populate(gateway, mint, HERE_VILLAGE, "16", "16.06", 1)
        there = await _populate(gateway, mint, THERE_VILLAGE, THERE_PROVINCE, THERE_REGENCY, 2)
        await _spanning_pilot(gateway, mint, there)
        await _protection_case(gateway, mint, there, stack.database_url)
        # A case "here", just opened (version 1, what the mutation walk sends), that a regional office may refer:
        # its referral to an organisation of "there" is compared with one to an organisation nobody registered.
        here_case = {
            "villageCode": HERE_VILLAGE,
            "kind": "FAMILY_WELFARE",
            "phase": "ABROAD",
            "channel": "VILLAGE_TASK_FORCE",
            "destinationCountry": "MY",
            "description": "Walk case here",
            "reporter": {"anonymous": True},
        }
        opened = await _do(gateway, "mutation O($in: OpenCaseInput!) { openCase(input: $in) { id version } }",
                           {"in": here_case}, mint("KP2MI"))  # fmt: skip
        assert opened["openCase"]["version"] == 1
        here["Case"] = [opened["openCase"]["id"]]
        # A link across the border: people of "there" took part in an activity "here" (a national office may
        # record that); a regional caller "here" sees the activity but not who they are.
        cross = {"villageCode": HERE_VILLAGE, "pillar": "REINTEGRATION", "title": "Pelatihan lintas daerah",
                 "occurredOn": (TODAY - dt.timedelta(days=2)).isoformat(),
                 "participants": {"workerIds": there["Worker"], "familyMemberIds": there["FamilyMember"]}}  # fmt: skip
        record = "mutation A($in: ActivityInput!) { recordActivity(input: $in) { id } }"
        await _do(gateway, record, {"in": cross}, mint("KP2MI"))
        auditor = mint("AUDITOR")
        events = "query A($s: String!) { auditEvents(filter: {subject: $s}, first: 5) { edges { node { id } } } }"

        async def audited() -> list[str]:
            data = await _do(gateway, events, {"s": there["Worker"][0]}, auditor)
            return [e["node"]["id"] for e in data["auditEvents"]["edges"]]

        there["AuditEvent"] = await _until(audited, "the audit store holds the worker's events")
        # A webhook endpoint KP2MI registered for the events of "there": another agency's, so never a regional
        # caller's to see.
        create = (
            """mutation W($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { endpoint { id } } }"""
        )
        hook = {"url": "http://127.0.0.1:9/walk", "eventTypes": ["demimas.registry.*"], "regionPrefix": THERE_REGENCY}
        created = await _do(gateway, create, {"in": hook}, mint("KP2MI"))
        there["WebhookEndpoint"] = [created["createWebhookEndpoint"]["endpoint"]["id"]]
        # And the regional callers' own agencies' endpoints made by their offices of "there": of their agency, but
        # of another region (BP3MI's first, so that a lookup by id asks the within-agency case).
        for agency, office in (("DISNAKER", THERE_REGENCY), ("BP3MI", THERE_PROVINCE)):
            created = await _do(gateway, create, {"in": hook}, mint(agency, region=office))
            there["WebhookEndpoint"].insert(0, created["createWebhookEndpoint"]["endpoint"]["id"])
        names = {"Walk Person B", "Walk Person B Junior", "Kabupaten Wonosobo", "Jawa Tengah", "Pilot terpadu 2",
                 CASE_TEXT}  # fmt: skip
        yield World(gateway, urls, there, names, here)
    await client.close()


def _filler(world: World) -> Filler:
    ids = world.there_ids
    by_type = {(t, "id"): found[0] for t, found in ids.items()}
    by_type |= {
        ("Village", "code"): THERE_VILLAGE,
        ("Region", "code"): THERE_REGENCY,
        ("CaseStep", "id"): ids["Case"][0],
        ("CaseConnection", "agency"): "KEMENPPPA",  # overdueCases: KEMENPPPA's answer is overdue there
    }
    by_name = {
        "regionPrefix": THERE_REGENCY,
        "regencyCode": THERE_REGENCY,
        "provinceCode": THERE_PROVINCE,
        "villageCode": THERE_VILLAGE,
        "search": "Wonosobo",
        "workerId": ids["Worker"][0],
        "personId": ids["Worker"][0],
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "subject": ids["Worker"][0],
        "endpointId": ids["WebhookEndpoint"][0],
        "nik": _nik(THERE_VILLAGE, 2),  # workerByNik: the worker of "there"
    }
    entities = {
        "Village": [{"code": THERE_VILLAGE}],
        **{t: [{"id": i} for i in found] for t, found in ids.items() if t not in ("Milestone", "Referral")},
    }
    return Filler(by_name=by_name, by_type=by_type, entities=entities)


def _gateway_schema() -> GraphQLSchema:
    return build_schema((ROOT / "deploy" / "api-schema.graphql").read_text())


SUBGRAPH_SCHEMAS = {
    "registry": registry_schema,
    "designation": designation_schema,
    "pillars": pillars_schema,
    "audit": audit_schema,
    "cases": cases_schema,
    "feeds": feeds_schema,
}


async def _ask(http: httpx.AsyncClient, url: str, op: Operation, token: str) -> tuple[int, dict[str, Any]]:
    headers = {"content-type": "application/json", "accept": "application/json",
               "authorization": f"Bearer {token}", "x-demimas-purpose": "PROTECTION_CASE"}  # fmt: skip
    body = json.dumps({"query": op.query, "variables": op.variables})
    response = await http.post(url, content=body, headers=headers)
    return response.status_code, response.json()


POSITIONS = frozenset({"cursor", "sequence", "startCursor", "endCursor"})
"""Keys whose decimal strings are stream sequences (the change feed's cursors), not region codes: "33" there is a
position in the stream, never province 33."""


def _without_positions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_positions(v) for k, v in value.items()
                if not (k in POSITIONS and isinstance(v, str) and v.isdecimal())}  # fmt: skip
    if isinstance(value, list):
        return [_without_positions(v) for v in value]
    return value


def _leaks(answer: dict[str, Any], markers: set[str]) -> list[str]:
    texts = list(strings_in(_without_positions(answer.get("data"))))
    texts += [str(e.get("message", "")) for e in answer.get("errors") or ()]
    return sorted({t for t in texts if t in markers or THERE_CODE.match(t) or any(m in t for m in markers)})


def _internal(answer: dict[str, Any]) -> list[Any]:
    return [e for e in answer.get("errors") or () if (e.get("extensions") or {}).get("code") in
            ("INTERNAL_SERVER_ERROR", "INTERNAL")]  # fmt: skip


async def _walk(world: World, schema: GraphQLSchema, url: str, http: httpx.AsyncClient, mint: Callable[..., str]
                ) -> tuple[list[str], int]:  # fmt: skip
    """(problems found by regional callers, operations in which the national caller saw "there")."""
    missing: list[str] = []
    operations = list(entry_operations(schema, _filler(world), missing=missing))
    problems = [f"no argument value for {m}: teach the filler" for m in missing]
    markers = world.markers()
    national_saw = 0
    for op in operations:
        sent = set(strings_in(op.variables))  # the caller's own key echoed back tells it nothing
        for who, (agency, region) in REGIONAL_CALLERS.items():
            status, answer = await _ask(http, url, op, mint(agency, region=region))
            if status >= 500 or _internal(answer):
                problems.append(f"{who} {op.name}: {status} {_internal(answer) or answer}")
            leaked = _leaks(answer, markers - sent)
            if leaked:
                problems.append(f"{who} {op.name} sees {leaked}")
        _, answer = await _ask(http, url, op, mint("KP2MI"))
        national_saw += bool(_leaks(answer, markers))
    return problems, national_saw


async def test_no_field_of_the_gateway_shows_a_regional_caller_anything_of_another_region(
    world: World, mint: Callable[..., str]
) -> None:
    problems, national_saw = await _walk(world, _gateway_schema(), "/graphql", world.gateway, mint)
    assert problems == []
    assert national_saw >= 8, "the walk no longer reaches the other region's data: it proves nothing"


@pytest.mark.parametrize("name", sorted(SUBGRAPH_SCHEMAS))
async def test_no_field_of_a_subgraph_asked_directly_shows_a_regional_caller_another_region(
    world: World, mint: Callable[..., str], name: str
) -> None:
    schema = SUBGRAPH_SCHEMAS[name]._schema
    async with httpx.AsyncClient(timeout=30) as http:
        problems, national_saw = await _walk(world, schema, world.subgraphs[name], http, mint)
    assert problems == []
    if name != "audit":  # the audit subgraph answers auditors only: KP2MI reads nothing there but access logs
        assert national_saw >= 2, "the walk no longer reaches the other region's data: it proves nothing"


@pytest.mark.parametrize("name", ["designation", "pillars"])
async def test_a_code_that_is_no_village_is_no_entity(world: World, mint: Callable[..., str], name: str) -> None:
    """A regency code or a padded code passed as a Village key answers null, not an empty village."""
    codes = ["16.06", "16.06.13.2001 ", "16.06.13.2001.33"]
    op = Operation("villages", "query E($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
                   {"r": [{"__typename": "Village", "code": c} for c in codes]})  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as http:
        _, answer = await _ask(http, world.subgraphs[name], op, mint("KP2MI"))
    assert answer["data"] == {"_entities": [None, None, None]}


async def test_an_id_outside_the_region_answers_as_an_unknown_one(world: World, mint: Callable[..., str]) -> None:
    """null without an error for both: a lookup by id is no oracle of existence elsewhere."""
    unknown = "0f000000-0000-4000-8000-000000000000"
    token = mint("BP3MI", region="16")
    for field, kind in (("activity", "Activity"), ("pilotProject", "PilotProject"), ("proposal", "Proposal"),
                        ("case", "Case")):  # fmt: skip
        query = f"query Q($id: ID!) {{ {field}(id: $id) {{ id }} }}"
        answers = [(await ask(world.gateway, query, {"id": i}, token=token))[1]
                   for i in (world.there_ids[kind][0], unknown)]  # fmt: skip
        bodies = [{k: v for k, v in a.items() if k != "extensions"} for a in answers]  # the trace id aside
        assert bodies == [{"data": {field: None}}] * 2, (field, answers)


async def test_a_regional_token_gets_nothing_of_the_national_audit_chain(
    world: World, mint: Callable[..., str]
) -> None:
    """Audit records and the chain's head belong to no region: an auditor's token limited to one sees none of it."""
    query = "{ verifyAuditChain { ok headHash } auditEvents(first: 3) { edges { node { id } } } }"
    _, national = await ask(world.gateway, query, token=mint("AUDITOR"))
    assert national["data"]["verifyAuditChain"]["headHash"]
    assert national["data"]["auditEvents"]["edges"]
    _, regional = await ask(world.gateway, query, token=mint("AUDITOR", region="16"))
    assert regional["data"] == {"verifyAuditChain": None, "auditEvents": {"edges": []}}


async def test_a_case_trail_is_for_auditors_of_its_region(world: World, mint: Callable[..., str]) -> None:
    """The walk's national caller (KP2MI) holds no audit:read: the trail of the case of "there" is asked here by
    auditors, national and of each province. Of another region's case, as of a case nobody opened: null."""
    query = "query T($id: ID!) { caseTrail(id: $id) { step agency status heldBy } }"
    trails = {}
    for who, region in (("national", None), ("of 33", THERE_PROVINCE), ("of 16", "16")):
        for case_id in (world.there_ids["Case"][0], "0f000000-0000-4000-8000-000000000000"):
            _, answer = await ask(world.gateway, query, {"id": case_id}, token=mint("AUDITOR", region=region))
            answer.pop("extensions")  # the trace id differs per request
            trails[(who, case_id == world.there_ids["Case"][0])] = answer
    steps = [s["step"] for s in trails[("national", True)]["data"]["caseTrail"]]
    assert steps == ["opened", "triaged", "referred", "referred", "note_added"]
    assert trails[("of 33", True)] == trails[("national", True)]
    nothing = {"data": {"caseTrail": None}}
    assert [trails[("of 16", True)], trails[("of 16", False)], trails[("national", False)]] == [nothing] * 3


# The mutations' refusals: an id of "there" must be answered exactly as an id nobody registered.

ID_NAMES = {"endpointId": "WebhookEndpoint",
            "workerId": "Worker", "workerIds": "Worker", "personId": "Worker", "familyMemberIds": "FamilyMember",
            "proposalId": "Proposal", "pilotId": "PilotProject", "milestoneId": "Milestone",
            "activityId": "Activity", "caseId": "Case", "referralId": "Referral",
            "legalAidOrganisationId": "LegalAidOrganisation", "deliveryId": "WebhookDelivery"}  # fmt: skip
"""The type of object an ID argument names, by its name; `id` names what the mutation returns (`ID_OF_RESULT`),
and `input.people.id` of `openCase` a worker."""
ID_OF_RESULT = {"CaseStep": "Case", "CriteriaAssessment": "Proposal", "CreatedWebhookEndpoint": "WebhookEndpoint",
                "RotatedWebhookSecret": "WebhookEndpoint", "Boolean": "WebhookEndpoint",
                "Int": "WebhookEndpoint"}  # fmt: skip
NO_OBJECT_THERE = frozenset({"WebhookDelivery", "ImportJob"})
"""Types of which the world holds no object "there" (a delivery of KP2MI's endpoint needs a receiver): their
positions are probed with two unknown ids, which still checks that an unknown id is answered alike (an import job
is its uploader's, not a region's)."""
MUTATION_CALLERS = {"KP2MI of 16": ("KP2MI", "16"), "BP3MI of 16": ("BP3MI", "16"),
                    "DISNAKER of 16.06": ("DISNAKER", "16.06"), "KEMENPPPA of 16": ("KEMENPPPA", "16"),
                    "KEMENKO_POLKAM of 16": ("KEMENKO_POLKAM", "16")}  # fmt: skip
"""Regional callers of every agency that writes: a KP2MI office of a province holds every write scope, so its
mutations reach the lookups that the others' scopes stop before."""
UNKNOWN_ID = "0f000000-0000-4000-8000-00000000abcd"
SAMPLES = {
    ("Proposal", "input.kind"): "FIELD_VISIT",  # a kind that needs no decree number nor term
    ("Proposal", "input.sha256"): "ab" * 32,
    ("Proposal", "input.documentDate"): (TODAY - dt.timedelta(days=3)).isoformat(),
}
"""Values (by the mutation's type and the argument's path) that the service accepts where the type's sample would
be refused before the lookup, so that the lookup itself is compared."""


def _names(returned: str, path: str) -> str | None:
    last = path.rsplit(".", 1)[-1]
    if path == "input.people.id":
        return "Worker"
    if last == "id" and "." not in path:
        return ID_OF_RESULT.get(returned, returned)
    return ID_NAMES.get(last)


def _known(world: World) -> Callable[[str, str, str], Any]:
    """Values of the arguments not probed: "here", the callers' own region, so that only the probed id can stop
    the mutation; ids of kinds the world has none of "here" are unknown ids."""

    def known(returned: str, path: str, name: str) -> Any:
        if name in ("villageCode", "leadVillageCode"):
            return HERE_VILLAGE
        if name in ("regionPrefix",):
            return "16.06"
        if name in ("regionsServed",):
            return ["16.06"]
        if (returned, path) in SAMPLES:
            return SAMPLES[(returned, path)]
        names = _names(returned, path) if name.endswith(("id", "Id", "Ids")) else None
        if names is not None:
            found = world.here_ids.get(names) or ["0f000000-0000-4000-8000-00000000f111"]
            return found if name.endswith("Ids") else found[0]
        return MISSING

    return known


def _refusal(answer: dict[str, Any], probe: str) -> str:
    """The answer as the caller can compare it: the trace id aside, the id it sent written as <id>."""
    return json.dumps({k: v for k, v in answer.items() if k != "extensions"}, sort_keys=True).replace(probe, "<id>")


async def _oracles(world: World, schema: GraphQLSchema, url: str, http: httpx.AsyncClient,
                   mint: Callable[..., str], root: str = "mutation") -> tuple[list[str], list[IdProbe]]:  # fmt: skip
    missing: list[str] = []
    probes = list(id_probes(schema, _names, _known(world), missing=missing, root=root))
    callers = MUTATION_CALLERS if root == "mutation" else {**MUTATION_CALLERS, **REGIONAL_CALLERS}
    problems = [f"cannot probe {m}: teach the walk" for m in missing]
    for probe in probes:
        there = world.there_ids.get(probe.names)
        if there is None and probe.names not in NO_OBJECT_THERE:
            problems.append(f"no object of {probe.names} there for {probe.mutation}({probe.path}): make one")
            continue
        there_id = there[0] if there else "0f000000-0000-4000-8000-00000000dcba"
        for who, (agency, region) in callers.items():
            token = mint(agency, region=region)
            answers = []
            for value in (there_id, UNKNOWN_ID):
                op = Operation(probe.mutation, probe.query, {"probe": value})
                status, answer = await _ask(http, url, op, token)
                answers.append((status, _refusal(answer, value)))
            if "GRAPHQL_VALIDATION_FAILED" in answers[1][1]:
                problems.append(f"{probe.mutation}({probe.path}) does not validate, so compares nothing: {answers[1]}")
            elif answers[0] != answers[1]:
                problems.append(f"{who} {probe.mutation}({probe.path}): there {answers[0]} / unknown {answers[1]}")
            elif root == "mutation" and '"data": {"' + probe.mutation + '": {' in answers[0][1]:
                problems.append(f"{who} {probe.mutation}({probe.path}) succeeded with an unknown id: {answers[0]}")
    return problems, probes


async def test_a_mutation_answers_an_id_of_another_region_as_an_unknown_one(
    world: World, mint: Callable[..., str]
) -> None:
    """Every ID argument of every mutation of the gateway (nested in inputs too), sent by regional offices of every
    agency that writes, with the id of an object of "there" and with an id nobody registered, the other arguments
    pointing "here": the two answers must be the same, code, message, field and every other extension (the id
    itself aside), so that no refusal tells whether, or where, an object exists outside the caller's region."""
    problems, probes = await _oracles(world, _gateway_schema(), "/graphql", world.gateway, mint)
    assert problems == []
    assert len(probes) >= 40, "the walk no longer reaches the mutations: it proves nothing"


@pytest.mark.parametrize("name", sorted(SUBGRAPH_SCHEMAS))
async def test_a_subgraph_mutation_asked_directly_answers_another_region_as_unknown(
    world: World, mint: Callable[..., str], name: str
) -> None:
    schema = SUBGRAPH_SCHEMAS[name]._schema
    async with httpx.AsyncClient(timeout=30) as http:
        problems, _ = await _oracles(world, schema, world.subgraphs[name], http, mint)
    assert problems == []


async def test_a_query_answers_an_id_of_another_region_as_an_unknown_one(
    world: World, mint: Callable[..., str]
) -> None:
    """The same comparison for every ID argument of every root query field of the gateway (`worker(id)`,
    `case(id)`, `webhookDeliveries(endpointId)`, `personalDataAccesses(filter: {workerId})`, ...)."""
    problems, probes = await _oracles(world, _gateway_schema(), "/graphql", world.gateway, mint, root="query")
    assert problems == []
    assert len(probes) >= 10, "the walk no longer reaches the queries: it proves nothing"


PLACES = {"villageCode": THERE_VILLAGE, "leadVillageCode": THERE_VILLAGE, "villageCodes": THERE_VILLAGE,
          "regionsServed": THERE_PROVINCE}  # fmt: skip
"""String arguments that name a place, with the place "there" each probe sends (a `regionPrefix` is a filter,
intersected with the caller's region, not a place where something is made)."""


async def test_a_regional_caller_makes_nothing_outside_its_region(world: World, mint: Callable[..., str]) -> None:
    """Every place a mutation names (a village, a region served; nested in inputs too), set "there" with every
    other argument "here", by regional offices of every agency that writes: none may succeed (a regional caller
    acts inside its region only). `registerLegalAidOrganisation(regionsServed)` by KP2MI's office of a province
    did. The walk's reach is its samples': a mutation refused on a sample before its place is looked at proves
    nothing here (`registerWorker` with its sample NIK)."""
    missing: list[str] = []

    def place(returned: str, path: str) -> str | None:
        return path.rsplit(".", 1)[-1] if path.rsplit(".", 1)[-1] in PLACES else None

    probes = list(id_probes(_gateway_schema(), place, _known(world), missing=missing, scalar="String"))
    problems = [f"cannot probe {m}: teach the walk" for m in missing]
    for probe in probes:
        for who, (agency, region) in MUTATION_CALLERS.items():
            op = Operation(probe.mutation, probe.query, {"probe": PLACES[probe.names]})
            status, answer = await _ask(world.gateway, "/graphql", op, mint(agency, region=region))
            if "GRAPHQL_VALIDATION_FAILED" in str(answer):
                problems.append(f"{probe.mutation}({probe.path}) does not validate: {answer}")
            elif status != 200 or (answer.get("data") or {}).get(probe.mutation) is not None:
                problems.append(f"{who} {probe.mutation}({probe.path}) made something there: {answer}")
    assert problems == []
    assert len(probes) >= 10, "the walk no longer reaches the mutations that name a place: it proves nothing"
