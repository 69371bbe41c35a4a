"""The cases subgraph attacked as a hostile agency would, with real tokens over HTTP: whoever may not see a case
learns nothing of it (that it exists, where, who, what) on any path, and whoever sees it but may not read its content
learns none of it; every read of content is recorded before it leaves, and no content reaches an event or a log.

The world: in Wonosobo (province 33) a registered worker and an adult family member, and three cases the BP3MI of
province 33 opened about them. STANDARD (a complaint) is referred to KEMENPPPA (accepted) and to KEMENIMIPAS
(pending); RESTRICTED (suspected trafficking) to BNN (accepted) and to KEMENIMIPAS (pending); a repatriation to
nobody. Every text the world holds carries MARK, so a leak of content is found wherever it appears. Each referral's
answer is overdue (due times moved into the past), so that `overdueCases` has something to show.

For a caller that may not see a case, every question about it by id (root fields, `_entities`, each mutation by case
or referral id) is asked twice, with the case's id and with an id nobody used: the two answers must be the same once
the id is taken out of them."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.tables import SCHEMA, events
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.app import create_app
from demimas_cases.entrypoints.graphql.content import ContentGate
from demimas_cases.entrypoints.graphql.context import CasesContext
from demimas_cases.entrypoints.graphql.schema import schema
from demimas_cases.service_layer.consumers import on_person_event
from demimas_cases.service_layer.rules import CaseRules
from demimas_cases.settings import CasesSettings
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.logs import JsonFormatter
from demimas_common.settings import Environment

from .conftest import consume

pytestmark = pytest.mark.integration

ISSUER, AUDIENCE = "https://auth.cases-hostile.test", "demimas"
THERE = "33.07.03.2011"  # Wonosobo, Central Java
MARK = "Zq" + uuid.uuid4().hex[:10]
"""In every text of the world: found anywhere, it is content that leaked (followed by S or R: which case's)."""
NOBODY, NO_REFERRAL = "0f000000-0000-4000-8000-00000000beef", "0f000000-0000-4000-8000-0000000f00d5"
CONTENT_FIELDS = ("people", "reporter", "description", "resolution", "notes")
REFERRAL_CONTENT = ("reason", "declineReason", "outcome")
CASE = """id kind phase channel villageCode destinationCountry ownerAgency confidentiality status version openedAt
  triageDueAt resolutionDueAt triagedAt resolvedAt closedAt heldBy overdue contentVisible village { code }
  overdueItems { kind dueAt heldBy referralId }
  referrals { id toAgency legalAidOrganisation { id name } referredBy referredAt dueAt status respondedAt overdue
              reason declineReason outcome }
  notes { id agency createdAt text }
  people { role worker { id } familyMember { id } name sex birthYear minor }
  reporter { anonymous name contact relation } description resolution"""
AGENCIES = [a.value for a in Agency]
PROTECTION = "PROTECTION_CASE"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("cases-hostile-keys"))


@pytest.fixture(scope="module")
def service_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything the service logs while the module runs, as its JSON handler writes it."""
    path = tmp_path_factory.mktemp("cases-hostile-log") / "cases.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter("cases"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


@pytest.fixture(scope="module")
async def http(
    stack: TestStack, engine: AsyncEngine, keys: DevKeys, service_log: Path
) -> AsyncIterator[httpx.AsyncClient]:
    nc = await connect(stack.nats_url, name="cases-hostile")
    await ensure_stream(nc.jetstream())
    await nc.close()
    settings = CasesSettings(
        environment=Environment.TEST,
        database_url=with_user(stack.database_url, runtime_role("cases")),
        nats_url=stack.nats_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(keys.jwks_path),
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cases") as client,
    ):
        yield client


@dataclass(frozen=True)
class Caller:
    name: str
    token: str


class Api:
    def __init__(self, http: httpx.AsyncClient, keys: DevKeys) -> None:
        self.http = http
        self.keys = keys

    def caller(self, agency: str, region: str | None = None, **claims: Any) -> Caller:
        token = mint_token(self.keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency(agency), region=region,
                           **claims)  # fmt: skip
        return Caller(f"{agency}@{region}" if region else agency, token)

    async def __call__(
        self, who: Caller, query: str, variables: dict[str, Any] | None = None, *, purpose: str | None = PROTECTION
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {who.token}"}
        if purpose:
            headers["x-demimas-purpose"] = purpose
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                                        headers=headers)  # fmt: skip
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, who: Caller, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self(who, query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class World:
    api: Api
    standard: dict[str, Any]
    restricted: dict[str, Any]
    plain: dict[str, Any]
    """Referred to nobody."""
    worker: str
    member: str


def referral_to(case: dict[str, Any], agency: str) -> str:
    return str(next(r["id"] for r in case["referrals"] if r["toAgency"] == agency))


OPEN = "mutation O($in: OpenCaseInput!, $k: String) { openCase(input: $in, idempotencyKey: $k) { id version } }"
TRIAGE = "mutation T($id: ID!, $v: Int!) { triageCase(id: $id, version: $v) { version } }"
REFER = """mutation R($id: ID!, $v: Int!, $to: Agency!, $why: String!) {
  referCase(id: $id, version: $v, input: {toAgency: $to, reason: $why}) { version } }"""
ACCEPT = "mutation A($r: ID!, $v: Int!) { acceptReferral(referralId: $r, version: $v) { version } }"
NOTE = """mutation N($id: ID!, $v: Int!, $t: String!, $k: String) {
  addCaseNote(caseId: $id, version: $v, text: $t, idempotencyKey: $k) { version } }"""
READ = "query C($id: ID!) { case(id: $id) { " + CASE + " } }"


async def _case(
    api: Api, who: Caller, kind: str, people: list[dict[str, Any]], *, to: tuple[str, ...]
) -> dict[str, Any]:
    """A case opened, triaged and referred to `to` (the first accepts), with a note; as its owner reads it. Its
    texts carry MARK and the first letter of its kind."""
    mark = MARK + kind[0]
    case = {"villageCode": THERE, "kind": kind, "phase": "ABROAD", "channel": "HOTLINE", "destinationCountry": "MY",
            "description": f"Passport held by the employer, {mark} description",
            "reporter": {"anonymous": False, "name": f"Reporter {mark}", "contact": f"{mark}@mail.test",
                         "relation": "sister"},
            "people": people}  # fmt: skip
    opened = (await api.ok(who, OPEN, {"in": case, "k": f"open-{MARK}-{kind}"}))["openCase"]
    version = (await api.ok(who, TRIAGE, {"id": opened["id"], "v": 1}))["triageCase"]["version"]
    for agency in to:
        why = f"{agency} should act, {mark} reason"
        version = (await api.ok(who, REFER, {"id": opened["id"], "v": version, "to": agency, "why": why}))["referCase"][
            "version"
        ]
    if to:
        found = (await api.ok(who, READ, {"id": opened["id"]}))["case"]
        accepted = await api.ok(api.caller(to[0]), ACCEPT, {"r": referral_to(found, to[0]), "v": version})
        version = accepted["acceptReferral"]["version"]
    await api.ok(who, NOTE, {"id": opened["id"], "v": version, "t": f"Called the embassy, {mark} note"})
    final: dict[str, Any] = (await api.ok(who, READ, {"id": opened["id"]}))["case"]
    return final


@pytest.fixture(scope="module")
async def world(http: httpx.AsyncClient, keys: DevKeys, engine: AsyncEngine) -> World:
    api = Api(http, keys)
    worker, member = str(uuid.uuid4()), str(uuid.uuid4())
    registered = {"workerId": worker, "villageCode": THERE, "status": "ABROAD", "version": 1}
    await consume(engine, on_person_event, new_event("demimas.registry.worker.registered", worker, registered))
    added = {"familyMemberId": member, "workerId": worker, "relation": "SPOUSE", "minor": False}
    await consume(engine, on_person_event, new_event("demimas.registry.family.added", member, added))
    owner = api.caller("BP3MI", "33")
    people = [{"role": "WORKER", "id": worker}, {"role": "FAMILY_MEMBER", "id": member}]
    standard = await _case(api, owner, "COMPLAINT", people, to=("KEMENPPPA", "KEMENIMIPAS"))
    restricted = await _case(api, owner, "TRAFFICKING_SUSPECTED", people[:1], to=("BNN", "KEMENIMIPAS"))
    plain = await _case(api, owner, "REPATRIATION", people[:1], to=())
    assert (standard["confidentiality"], restricted["confidentiality"]) == ("STANDARD", "RESTRICTED")
    async with engine.begin() as conn:  # every answer to a referral is overdue
        ids = [standard["id"], restricted["id"]]
        await conn.execute(text("UPDATE cases.referrals SET due_at = now() - interval '1 hour' "
                                "WHERE case_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})  # fmt: skip
        await conn.execute(text("UPDATE cases.cases SET next_due_at = now() - interval '1 hour' "
                                "WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})  # fmt: skip
    return World(api, standard, restricted, plain, worker, member)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def _secrets_of(case: dict[str, Any], *, village: bool) -> set[str]:
    """What a caller that may not see the case must never get back: its ids, its referrals' ids, its texts (and
    its village, for a caller that sees no case there)."""
    return {case["id"], *(r["id"] for r in case["referrals"]), MARK + case["kind"][0], *([THERE] if village else [])}


def _leaked(body: dict[str, Any], secrets: set[str]) -> list[str]:
    texts = list(strings_in(body.get("data"))) + [str(e.get("message")) for e in body.get("errors") or ()]
    return sorted({t for t in texts if any(s in t for s in secrets)})


def _without(body: dict[str, Any], ids: dict[str, str]) -> str:
    """The answer as text, each id replaced by its role (so two answers about different ids compare)."""
    raw = json.dumps(body, sort_keys=True)
    for value, role in ids.items():
        raw = raw.replace(value, role)
    return raw


def _change(mutation: str, more: str) -> str:
    return f"mutation M($id: ID!, $v: Int!) {{ {mutation}(id: $id, version: $v, {more}) {{ id }} }}"


def _answer(mutation: str, more: str) -> str:
    return f"mutation M($r: ID!, $v: Int!) {{ {mutation}(referralId: $r, version: $v, {more}) {{ id }} }}"


def _by_id(case: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, operation, variables) of every question about one case by its id or a referral's id; `$id` is the
    case's id and `$r` a referral's, `$v` the current version."""
    v = case["version"]
    return [
        ("case", READ, {}),
        ("_entities", "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Case { " + CASE + " } } }", {}),
        ("triageCase", "mutation M($id: ID!, $v: Int!) { triageCase(id: $id, version: $v) { id } }", {"v": v}),
        ("referCase", REFER.replace("{ version }", "{ id }"), {"v": v, "to": "KEMENDES", "why": "x"}),
        ("referCase BNN", REFER.replace("{ version }", "{ id }"), {"v": v, "to": "BNN", "why": "just checking"}),
        ("addCaseNote", NOTE, {"v": v, "t": "probe", "k": None}),
        ("addCaseNote stale", NOTE, {"v": v + 7, "t": "probe", "k": None}),
        ("resolveCase", _change("resolveCase", 'resolution: "done"'), {"v": v}),
        ("closeCase", _change("closeCase", ""), {"v": v}),
        ("reopenCase", _change("reopenCase", 'reason: "again"'), {"v": v}),
        ("acceptReferral", ACCEPT.replace("{ version }", "{ id }"), {"v": v}),
        ("declineReferral", _answer("declineReferral", 'reason: "not ours"'), {"v": v}),
        ("recordReferralOutcome", _answer("recordReferralOutcome", 'outcome: "done"'), {"v": v}),
        ("caseTrail", "query T($id: ID!) { caseTrail(id: $id) { version step at agency status heldBy } }", {}),
    ]


async def _ask_about(api: Api, who: Caller, op: str, variables: dict[str, Any], case_id: str, referral: str
                     ) -> dict[str, Any]:  # fmt: skip
    sent = dict(variables)
    if "$id" in op:
        sent["id"] = case_id
    if "$r: ID!" in op:
        sent["r"] = referral
    if "_entities" in op:
        sent["r"] = [{"__typename": "Case", "id": case_id}]
    return await api(who, op, sent)


PAGE = "{ totalCount pageInfo { hasNextPage } edges { node { id } } }"
LISTS = [
    ("cases", "query L { cases(first: 100) { totalCount pageInfo { hasNextPage } edges { node { " + CASE + " } } } }"),
    ("cases there", 'query L { cases(first: 100, filter: {regionPrefix: "33"}) ' + PAGE + " }"),
    *((f"overdueCases {a}", f"query L {{ overdueCases(agency: {a}, first: 100) {PAGE} }}") for a in AGENCIES),
]


async def _ids_listed(api: Api, who: Caller) -> set[str]:
    """Every id any list shows this caller (the cases lists, and the cases of the world's people)."""
    found: set[str] = set()
    for _, query in LISTS:
        body = await api(who, query)
        for value in (body.get("data") or {}).values():
            if value:
                found |= {e["node"]["id"] for e in value["edges"]}
    return found


async def _not_seen(world: World, who: Caller, case: dict[str, Any], *, village: bool) -> list[str]:
    """Problems: ways in which `who` learns something of `case`, which it may not see."""
    api, problems = world.api, []
    secrets = _secrets_of(case, village=village)
    referral = case["referrals"][0]["id"] if case["referrals"] else str(uuid.uuid4())
    for name, op, variables in _by_id(case):
        real = await _ask_about(api, who, op, variables, case["id"], referral)
        fake = await _ask_about(api, who, op, variables, NOBODY, NO_REFERRAL)
        echoed = secrets - {case["id"], referral}  # the caller's own id echoed back tells it nothing
        if _leaked(real, echoed):
            problems.append(f"{who.name} {name}: {_leaked(real, echoed)}")
        if _without(real, {case["id"]: "ID", referral: "REF"}) != _without(fake, {NOBODY: "ID", NO_REFERRAL: "REF"}):
            problems.append(f"{who.name} {name} tells the case from a missing one: {real} vs {fake}")
    for name, query in LISTS:
        body = await api(who, query)
        if _leaked(body, secrets):
            problems.append(f"{who.name} {name}: {_leaked(body, secrets)}")
        page = (body.get("data") or {}).get(name.split()[0])
        if page and not page["pageInfo"]["hasNextPage"] and page["totalCount"] != len(page["edges"]):
            problems.append(f"{who.name} {name}: totalCount {page['totalCount']} counts what the list hides")
    return problems


def _entity_cases(typename: str) -> str:
    return f"query P($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {typename} {{ id cases {{ id }} }} }} }}"


async def _cases_of_people(world: World, who: Caller) -> dict[str, Any]:
    found = {}
    for typename, person in (("Worker", world.worker), ("FamilyMember", world.member)):
        found[typename] = await world.api(who, _entity_cases(typename), {"r": [{"__typename": typename, "id": person}]})
    return found


BOTH = ("standard", "restricted", "plain")
NOT_SEEING = [
    ("KEMENPPPA", None, ("restricted", "plain")),  # referred the standard case only
    ("BNN", None, ("standard", "plain")),
    ("KEMENIMIPAS", None, ("plain",)),
    ("BP3MI", "16", BOTH),  # another province
    ("DISNAKER", "16.06", BOTH),
    ("KEMENIMIPAS", "16", BOTH),  # referred both, but its token's region is elsewhere
    ("AUDITOR", "16", BOTH),  # an auditor of another region, caseTrail included
    ("KEMENDES", None, BOTH),  # no case scope at all
    ("KEMENKO_POLKAM", None, BOTH),
]


@pytest.mark.parametrize(("agency", "region", "which"), NOT_SEEING, ids=lambda v: str(v))
async def test_an_agency_that_may_not_see_a_case_learns_nothing_of_it(
    world: World, agency: str, region: str | None, which: tuple[str, ...]
) -> None:
    who = world.api.caller(agency, region)
    problems = []
    for name in which:
        case = getattr(world, name)
        secrets = _secrets_of(case, village=which == BOTH)
        problems += await _not_seen(world, who, case, village=which == BOTH)
        for typename, body in (await _cases_of_people(world, who)).items():
            if _leaked(body, secrets):
                problems.append(f"{who.name} {typename}.cases: {_leaked(body, secrets)}")
    assert problems == []


async def test_an_agency_with_a_pending_referral_to_a_restricted_case_reads_none_of_its_content(
    world: World, engine: AsyncEngine
) -> None:
    """KEMENIMIPAS was referred the restricted case but has not accepted; DISNAKER of its region sees it but does not
    own it. Both see that it exists and where it stands, and nothing of who or what: not through the case, not
    through the cases of its people (which would say who it concerns), and nothing is recorded as read."""
    restricted = world.restricted
    before = await _access_records(engine)
    for who in (world.api.caller("KEMENIMIPAS"), world.api.caller("DISNAKER", "33.07")):
        body = await world.api(who, READ, {"id": restricted["id"]})
        case = body["data"]["case"]
        assert case["id"] == restricted["id"]
        assert case["contentVisible"] is False
        assert [case[f] for f in CONTENT_FIELDS] == [None] * len(CONTENT_FIELDS)
        assert all(r[f] is None for r in case["referrals"] for f in REFERRAL_CONTENT)
        reasons = {e["extensions"].get("reason") for e in body["errors"]}
        assert reasons == {"restricted_case"}, body
        listed = await world.api(who, LISTS[0][1])
        assert MARK + "T" not in json.dumps(listed)
        for typename, answer in (await _cases_of_people(world, who)).items():
            assert restricted["id"] not in json.dumps(answer), f"{who.name} learns who {typename}.cases concerns"
            assert MARK + "T" not in json.dumps(answer)
    assert [r for r in await _access_records(engine) if r not in before and restricted["id"] in r["caseIds"]] == []


@pytest.mark.parametrize("purpose", [None, "PROGRAMME_DELIVERY"])
async def test_content_needs_the_purpose_of_a_protection_case_on_every_path(
    world: World, engine: AsyncEngine, purpose: str | None
) -> None:
    """KEMENPPPA accepted the standard case's referral: it reads the content for PROTECTION_CASE, for nothing else,
    on the case and on the cases of its people."""
    who = world.api.caller("KEMENPPPA")
    before = await _access_records(engine)
    body = await world.api(who, READ, {"id": world.standard["id"]}, purpose=purpose)
    assert body["data"]["case"]["id"] == world.standard["id"]
    assert [body["data"]["case"][f] for f in CONTENT_FIELDS] == [None] * len(CONTENT_FIELDS)
    assert MARK not in json.dumps(body)
    for typename, person in (("Worker", world.worker), ("FamilyMember", world.member)):
        answer = await world.api(who, _entity_cases(typename), {"r": [{"__typename": typename, "id": person}]},
                                 purpose=purpose)  # fmt: skip
        assert world.standard["id"] not in json.dumps(answer), f"{typename}.cases without the purpose"
    assert await _access_records(engine) == before


async def test_every_read_of_content_is_recorded_with_who_it_concerns(world: World, engine: AsyncEngine) -> None:
    who = world.api.caller("KEMENPPPA", sub="officer-ppa-7")
    before = await _access_records(engine)
    query = ("query ReviewCase($id: ID!) { case(id: $id) { id description people { role } notes { text } "
             "referrals { reason } } }")  # fmt: skip
    body = await world.api(who, query, {"id": world.standard["id"]})
    assert "errors" not in body, body
    assert MARK in body["data"]["case"]["description"]
    [record] = [r for r in await _access_records(engine) if r not in before]
    assert record == {
        "agency": "KEMENPPPA",
        "subject": "officer-ppa-7",
        "purpose": "PROTECTION_CASE",
        "caseIds": [world.standard["id"]],
        "fields": ["description", "notes", "people", "referrals.reason"],
        "workerIds": [world.worker],
        "familyMemberIds": [world.member],
        "operation": "ReviewCase",
    }
    whose = _entity_cases("Worker").replace("query P", "query Whose").replace(" id cases", " cases")
    listed = await world.api(who, whose, {"r": [{"__typename": "Worker", "id": world.worker}]})
    assert listed["data"]["_entities"] == [{"cases": [{"id": world.standard["id"]}]}], listed
    [record] = [r for r in await _access_records(engine) if r not in before and r.get("operation") == "Whose"]
    assert (record["caseIds"], record.get("workerIds")) == ([world.standard["id"]], [world.worker])


async def test_content_is_withheld_when_its_read_cannot_be_recorded(world: World, engine: AsyncEngine) -> None:
    """Fail closed: the access record's transaction cannot even start (its database is unreachable), so every
    content field is null with UNAVAILABLE, while what the case is still answers."""
    principal = Principal("ppa", Agency.KEMENPPPA, DEFAULT_GRANTS[Agency.KEMENPPPA], purpose=Purpose.PROTECTION_CASE)
    unreachable = create_engine(f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/none", pool_size=1)
    context = CasesContext(principal, rules=CaseRules(), engine=engine, schema=SCHEMA,
                           unit_of_work_class=CasesUnitOfWork)  # fmt: skip
    context.content = ContentGate(lambda: CasesUnitOfWork(unreachable, schema=SCHEMA, actor=principal.actor), principal)
    try:
        result = await schema.execute(READ, {"id": world.standard["id"]}, context_value=context)
    finally:
        await unreachable.dispose()
    case = result.data["case"] if result.data else None
    assert case is not None
    assert case["status"] == "IN_PROGRESS"
    assert [case[f] for f in CONTENT_FIELDS] == [None] * len(CONTENT_FIELDS)
    assert all(r[f] is None for r in case["referrals"] for f in REFERRAL_CONTENT)
    assert {e.extensions["code"] for e in result.errors or ()} == {"UNAVAILABLE"}  # type: ignore[index]
    assert MARK not in json.dumps(result.data)


async def test_an_idempotency_key_of_another_office_tells_nothing(world: World) -> None:
    """BP3MI of province 16 sends the key BP3MI of 33 opened the standard case with: its own case is opened; the
    other office's key, case and time are not mentioned."""
    case = {
        "villageCode": "16.06.13.2001",
        "kind": "COMPLAINT",
        "phase": "ABROAD",
        "channel": "HOTLINE",
        "destinationCountry": "MY",
        "description": "Wages unpaid for four months",
        "reporter": {"anonymous": True},
    }
    who = world.api.caller("BP3MI", "16")
    body = await world.api(who, OPEN, {"in": case, "k": f"open-{MARK}-COMPLAINT"})
    assert "errors" not in body, body
    assert body["data"]["openCase"]["id"] != world.standard["id"]


async def test_a_person_of_another_region_named_in_a_case_here_stays_unnamed(world: World) -> None:
    """A national office opened a case in Musi Banyuasin about the worker registered in Wonosobo: the BP3MI of
    province 16 handles the case and reads its content, but who the person of another region is stays with that
    region (as everywhere: the region rule of access.py), exactly as for the registry and the pillars."""
    case = {"villageCode": "16.06.13.2006", "kind": "COMPLAINT", "phase": "AFTER_RETURN", "channel": "WALK_IN",
            "description": f"Unpaid wages after return, {MARK} cross", "reporter": {"anonymous": True},
            "people": [{"role": "WORKER", "id": world.worker}]}  # fmt: skip
    opened = (await world.api.ok(world.api.caller("KP2MI"), OPEN, {"in": case}))["openCase"]
    here = world.api.caller("BP3MI", "16")
    body = await world.api(here, "query C($id: ID!) { case(id: $id) { description people { role worker { id } } } }",
                           {"id": opened["id"]})  # fmt: skip
    assert MARK in body["data"]["case"]["description"]
    assert world.worker not in json.dumps(body), body


async def test_no_content_reaches_an_event_or_a_log(world: World, engine: AsyncEngine, stack: TestStack,
                                                     service_log: Path) -> None:  # fmt: skip
    """Last: after every test above, the outbox of the cases service, its log and PostgreSQL's log hold no text of
    the world. Input refused for its length or shape is refused without echoing it."""
    who = world.api.caller("BP3MI", "33")
    long_note = f"{MARK} " * 800
    body = await world.api(who, NOTE, {"id": world.standard["id"], "v": world.standard["version"], "t": long_note})
    assert MARK not in json.dumps(body)
    bad = {
        "villageCode": "33.07.03.9999",
        "kind": "COMPLAINT",
        "phase": "ABROAD",
        "channel": "HOTLINE",
        "destinationCountry": "MY",
        "description": f"{MARK} bad village",
        "reporter": {"anonymous": True},
    }
    body = await world.api(who, OPEN, {"in": bad})
    assert MARK not in json.dumps(body)
    async with engine.connect() as conn:
        payloads = [json.dumps(r[0]) for r in await conn.execute(select(events.outbox.c.payload))]
    assert payloads
    assert [p for p in payloads if MARK in p] == []
    for path in (service_log, stack.postgres.log_path):
        assert MARK not in path.read_text(encoding="utf-8", errors="replace"), path


async def _access_records(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.outbox.c.payload)
            .where(events.outbox.c.type == "demimas.cases.personal_data.accessed")
            .order_by(events.outbox.c.seq)
        )
        return [dict(r[0]["data"]) for r in rows]


@pytest.mark.parametrize(("agency", "region", "which", "named"), [
    ("BNN", None, "restricted", {"worker": False, "familyMember": False}),  # reads the content; no registry:read
    ("DISNAKER", "33.07", "standard", {"worker": True, "familyMember": False}),  # no family:read
    ("KEMENPPPA", None, "standard", {"worker": True, "familyMember": True}),
])  # fmt: skip
async def test_who_a_person_is_needs_what_the_registry_asks_for_it_in_a_case_too(
    world: World, agency: str, region: str | None, which: str, named: dict[str, bool]
) -> None:
    """A case names its registered people by id; the id is who the person is, which the registry shows only with
    registry:read (a family member's with family:read too). Reading the case's content does not bypass that."""
    who = world.api.caller(agency, region)
    case = getattr(world, which)
    people = "people { role minor worker { id } familyMember { id } }"
    query = "query C($id: ID!) { case(id: $id) { description " + people + " } }"
    body = await world.api(who, query, {"id": case["id"]})
    assert (MARK + case["kind"][0]) in body["data"]["case"]["description"]
    people = {p["role"]: p for p in body["data"]["case"]["people"]}
    for field, shown in named.items():
        role = "WORKER" if field == "worker" else "FAMILY_MEMBER"
        if role in people:
            assert (people[role][field] is not None) is shown, (field, body)
    refused = {e["path"][-1] for e in body.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"}
    assert refused == {f for f, shown in named.items() if not shown}
    for typename, person in (("Worker", world.worker), ("FamilyMember", world.member)):
        answer = await world.api(who, _entity_cases(typename), {"r": [{"__typename": typename, "id": person}]})
        field = "worker" if typename == "Worker" else "familyMember"
        if not named.get(field, False):
            assert case["id"] not in json.dumps(answer), f"{who.name} finds the case by a person it may not name"


async def test_a_handler_that_may_not_read_a_restricted_case_cannot_open_it_to_itself_or_anyone(world: World) -> None:
    """DISNAKER of the regency sees BP3MI's restricted cases there but may not read them. Lowering the case to
    STANDARD at triage would open it to every agency that sees it; a referral picks who reads it next, so referring
    it to itself (and accepting) or to a third agency would hand its content on: each is refused, and the content
    stays unread. (Triage is the intake: a handler of the region that names itself the holder holds it.)"""
    owner, disnaker = world.api.caller("BP3MI", "33"), world.api.caller("DISNAKER", "33.07")
    case = {"villageCode": THERE, "kind": "TRAFFICKING_SUSPECTED", "phase": "ABROAD", "channel": "EMBASSY",
            "destinationCountry": "MY", "description": f"Recruited by a sponsor, {MARK}X secret",
            "reporter": {"anonymous": True}}  # fmt: skip
    fresh = (await world.api.ok(owner, OPEN, {"in": case}))["openCase"]
    triage = (
        "mutation T($id: ID!, $v: Int!, $in: TriageCaseInput) { triageCase(id: $id, version: $v, input: $in) { id } }"
    )
    for change in ({"confidentiality": "STANDARD"}, {"confidentiality": "STANDARD", "ownerAgency": "KP2MI"}):
        body = await world.api(disnaker, triage, {"id": fresh["id"], "v": 1, "in": change})
        assert [e["extensions"].get("reason") for e in body.get("errors", [])] == ["restricted_case"], (change, body)
    version = (await world.api.ok(owner, TRIAGE, {"id": fresh["id"], "v": 1}))["triageCase"]["version"]
    for to in ("DISNAKER", "KEMENPPPA"):
        body = await world.api(disnaker, REFER, {"id": fresh["id"], "v": version, "to": to, "why": "take it"})
        assert [e["extensions"].get("reason") for e in body.get("errors", [])] == ["restricted_case"], (to, body)
    body = await world.api(disnaker, READ, {"id": fresh["id"]})
    assert body["data"]["case"]["version"] == version
    assert MARK + "X" not in json.dumps(body)
