"""The pillars service through the gateway over the real registry, designation and pillars services: a designation
opens the village's portfolio, a return from the registry enters the reintegration queue, agencies record activities
for their pillars, and the pilot tracker's main query joins all three services in one request."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Endpoints, ask, forged_token

pytestmark = pytest.mark.integration

VILLAGE = "16.06.13.2003"  # Tanjung Durian, Musi Banyuasin
_serial = itertools.count(8101)
TODAY = dt.date.today()

TRACKER = """
query Tracker($region: String!) {
  pilotProjects(filter: {regionPrefix: $region, status: ACTIVE}, first: 10) {
    edges { node {
      title status coordinator
      partners { agency programme commitment }
      milestones { title dueDate responsibleAgency completedOn overdue }
      activities { pillar title agency }
      village {
        code name
        migrantStats { total }
        designation { status decreeNumber }
        pillarProgress { coverage pillarsServed portfolio { status }
                         pillars { pillar emasPillar activities peopleReached outputs { kind value } } }
      }
    } }
    pageInfo { hasNextPage }
  }
  overdueMilestones(agency: KEMENDES) { daysOverdue milestone { title } pilot { title } }
}"""


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Events travel outbox -> JetStream -> consumer: poll until `check` returns something truthy."""
    for _ in range(600):  # 60 s: a loaded CI machine can be slow; a passing check returns at once
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def mutate(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    _, answer = await ask(endpoints.gateway, query, variables, token=token)
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def designate(endpoints: Endpoints, mint: Callable[..., str], village: str) -> None:
    disnaker, bp3mi, kp2mi = mint("DISNAKER", region="16.06"), mint("BP3MI", region="16"), mint("KP2MI")
    why = "Residents work in Malaysia and Hong Kong, mostly SMA/SMK graduates"
    proposed = await mutate(endpoints, "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, "
                            "justification: $j) { id } }", {"v": village, "j": why}, disnaker)  # fmt: skip
    pid = proposed["proposeVillage"]["id"]
    await mutate(endpoints, "mutation S($id: ID!) { submitProposal(id: $id) { status } }", {"id": pid}, disnaker)
    await mutate(endpoints, "mutation V($id: ID!) { verifyProposal(id: $id) { status } }", {"id": pid}, bp3mi)
    await mutate(endpoints, "mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", {"id": pid}, bp3mi)
    approve = ("mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: \"SK 31/2026\", "
               "decreeDate: $d, overrideReason: \"evidence filed on paper\") { status } }")  # fmt: skip
    await mutate(endpoints, approve, {"id": pid, "d": TODAY.isoformat()}, kp2mi)


async def returnee(endpoints: Endpoints, token: str, village: str) -> str:
    nik = f"160613470394{next(_serial):04d}"
    data = {"nik": nik, "fullName": "Rina Wati", "sex": "FEMALE", "birthDate": "1994-03-07",
            "educationLevel": "SMA", "villageCode": village}  # fmt: skip
    created = await mutate(endpoints, "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
                           {"in": data}, token)  # fmt: skip
    worker: str = created["registerWorker"]["id"]
    departure = {"destinationCountry": "HK", "sector": "INFORMAL", "occupation": "caregiver", "scheme": "P_TO_P",
                 "procedural": True, "departureDate": "2024-02-01"}  # fmt: skip
    await mutate(endpoints, "mutation D($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in)"
                 " { id } }", {"id": worker, "in": departure}, token)  # fmt: skip
    back = {"returnDate": (TODAY - dt.timedelta(days=20)).isoformat(), "reason": "CONTRACT_ENDED"}
    back_mutation = "mutation B($id: ID!, $in: ReturnInput!) { recordReturn(workerId: $id, input: $in) { id } }"
    await mutate(endpoints, back_mutation,
                 {"id": worker, "in": back}, token)  # fmt: skip
    return worker


COMPLETE = (
    "mutation M($p: ID!, $m: ID!, $d: Date!) "
    "{ completeMilestone(pilotId: $p, milestoneId: $m, completedOn: $d) { id } }"
)
RECORD = "mutation A($in: ActivityInput!) { recordActivity(input: $in) { id peopleReached emasPillar } }"


async def test_the_pilot_tracker_joins_village_designation_numbers_progress_and_milestones(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, polkam, pppa = mint("KP2MI"), mint("KEMENKO_POLKAM"), mint("KEMENPPPA")
    await designate(endpoints, mint, VILLAGE)
    progress = "query P($v: String!) { village(code: $v) { pillarProgress { portfolio { status } } } }"

    async def portfolio_open() -> bool:
        _, answer = await ask(endpoints.gateway, progress, {"v": VILLAGE}, token=kp2mi)
        portfolio = answer["data"]["village"]["pillarProgress"]["portfolio"]
        return bool(portfolio and portfolio["status"] == "OPEN")

    await until(portfolio_open, "the designation opened the portfolio")
    worker = await returnee(endpoints, kp2mi, VILLAGE)
    queue = (
        "query Q($v: String!) { village(code: $v) { reintegrationQueue { edges { node { status worker { id } } } } } }"
    )

    async def queued() -> list[Any]:
        _, answer = await ask(endpoints.gateway, queue, {"v": VILLAGE}, token=kp2mi)
        assert "errors" not in answer, answer
        edges = answer["data"]["village"]["reintegrationQueue"]["edges"]
        return [e["node"] for e in edges if e["node"]["worker"]["id"] == worker]

    assert await until(queued, "the return reached the queue") == [{"status": "WAITING", "worker": {"id": worker}}]
    reintegration = {"villageCode": VILLAGE, "pillar": "REINTEGRATION", "title": "Pendampingan usaha purna PMI",
                     "occurredOn": (TODAY - dt.timedelta(days=3)).isoformat(),
                     "participants": {"workerIds": [worker], "anonymous": [{"sex": "MALE", "group": "RETURNEE",
                                                                             "count": 6}]},
                     "outputs": [{"kind": "RETURNEES_REINTEGRATED", "value": 1}]}  # fmt: skip
    recorded = await mutate(endpoints, RECORD, {"in": reintegration}, kp2mi)
    assert recorded["recordActivity"]["peopleReached"] == 7
    assert (await queued())[0]["status"] == "IN_PROGRESS"
    parenting = {"villageCode": VILLAGE, "pillar": "FAMILY_STRENGTHENING", "title": "Community parenting",
                 "occurredOn": TODAY.isoformat(), "programme": "DRPPA",
                 "participants": {"anonymous": [{"sex": "FEMALE", "group": "WORKER_FAMILY", "count": 15}]},
                 "outputs": [{"kind": "FAMILIES_COUNSELLED", "value": 12}]}  # fmt: skip
    family = await mutate(endpoints, RECORD, {"in": parenting}, pppa)
    create = """mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id milestones { id title } } }"""
    pilot_input = {
        "villageCode": VILLAGE, "title": "Pilot Demimas terpadu Tanjung Durian",
        "startDate": (TODAY - dt.timedelta(days=90)).isoformat(),
        "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Community parenting"},
                     {"agency": "BNN", "programme": "DESA_BERSINAR", "commitment": "Prevention sessions"},
                     {"agency": "KEMENDES", "programme": "BUMDES", "commitment": "A returnee business unit"},
                     {"agency": "KEMENIMIPAS", "programme": "DESA_BINAAN_IMIGRASI", "commitment": "Pimpasa on call"}],
        "milestones": [{"title": "Baseline survey", "dueDate": (TODAY - dt.timedelta(days=60)).isoformat(),
                        "responsibleAgency": "KEMENPPPA"},
                       {"title": "BUMDes unit registered", "dueDate": (TODAY - dt.timedelta(days=7)).isoformat(),
                        "responsibleAgency": "KEMENDES"}],
    }  # fmt: skip
    created = (await mutate(endpoints, create, {"in": pilot_input}, polkam))["createPilotProject"]
    pid, baseline = created["id"], created["milestones"][0]["id"]
    complete = COMPLETE
    await mutate(endpoints, complete, {"p": pid, "m": baseline, "d": (TODAY - dt.timedelta(days=61)).isoformat()}, pppa)
    link = "mutation L($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
    await mutate(endpoints, link, {"p": pid, "a": family["recordActivity"]["id"]}, pppa)
    await mutate(
        endpoints, "mutation S($p: ID!) { setPilotStatus(id: $p, status: ACTIVE) { status } }", {"p": pid}, polkam
    )

    _, tracked = await ask(endpoints.gateway, TRACKER, {"region": VILLAGE}, token=polkam)
    assert "errors" not in tracked, tracked
    [node] = [e["node"] for e in tracked["data"]["pilotProjects"]["edges"]]
    assert (node["title"], node["status"], node["coordinator"]) == (pilot_input["title"], "ACTIVE", "KEMENKO_POLKAM")
    assert [p["agency"] for p in node["partners"]] == ["BNN", "KEMENDES", "KEMENIMIPAS", "KEMENPPPA"]
    assert [(m["title"], m["overdue"]) for m in node["milestones"]] == [("Baseline survey", False),
                                                                         ("BUMDes unit registered", True)]  # fmt: skip
    assert node["activities"] == [{"pillar": "FAMILY_STRENGTHENING", "title": "Community parenting",
                                   "agency": "KEMENPPPA"}]  # fmt: skip
    village = node["village"]
    assert (village["name"], village["migrantStats"]["total"]) == ("Tanjung Durian", 1)  # registry
    assert village["designation"] == {"status": "ACTIVE", "decreeNumber": "SK 31/2026"}  # designation
    progress_of = village["pillarProgress"]  # pillars
    served_count = (progress_of["pillarsServed"], progress_of["coverage"], progress_of["portfolio"])
    assert served_count == (2, 0.2, {"status": "OPEN"})
    served = {p["pillar"]: p for p in progress_of["pillars"] if p["activities"]}
    assert served["REINTEGRATION"]["peopleReached"] == 7
    assert served["REINTEGRATION"]["emasPillar"] == "PROSPEROUS"
    assert served["FAMILY_STRENGTHENING"]["outputs"] == [{"kind": "FAMILIES_COUNSELLED", "value": 12}]
    overdue = tracked["data"]["overdueMilestones"]
    assert {"daysOverdue": 7, "milestone": {"title": "BUMDes unit registered"},
            "pilot": {"title": pilot_input["title"]}} in overdue  # fmt: skip

    page = """query A($v: String!, $after: String) { village(code: $v) { activities(first: 1, after: $after) {
        edges { node { pillar participants { registered workers { id } } } } pageInfo { hasNextPage endCursor } } } }"""
    _, first = await ask(endpoints.gateway, page, {"v": VILLAGE}, token=kp2mi)
    activities = first["data"]["village"]["activities"]
    assert [e["node"]["pillar"] for e in activities["edges"]] == ["FAMILY_STRENGTHENING"]  # newest first
    assert activities["pageInfo"]["hasNextPage"] is True
    _, second = await ask(endpoints.gateway, page, {"v": VILLAGE, "after": activities["pageInfo"]["endCursor"]},
                          token=kp2mi)  # fmt: skip
    [edge] = second["data"]["village"]["activities"]["edges"]
    assert edge["node"] == {"pillar": "REINTEGRATION", "participants": {"registered": 1, "workers": [{"id": worker}]}}
    _, counts_only = await ask(endpoints.gateway, page, {"v": VILLAGE, "after": activities["pageInfo"]["endCursor"]},
                               token=mint("KEMENDES"))  # fmt: skip
    assert counts_only["data"]["village"]["activities"]["edges"][0]["node"]["participants"] == {
        "registered": 1, "workers": None}  # fmt: skip
    assert counts_only["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"  # no registry:read

    enrol = "mutation E($p: ID!) { enrol(personId: $p, programme: ENTREPRENEURSHIP) { id status worker { id } } }"
    enrolled = await mutate(endpoints, enrol, {"p": worker}, kp2mi)
    assert enrolled["enrol"]["worker"] == {"id": worker}
    joined = "query W($id: ID!) { worker(id: $id) { fullName enrolments { programme status } } }"
    _, answer = await ask(endpoints.gateway, joined, {"id": worker}, token=kp2mi)
    assert answer["data"]["worker"]["enrolments"] == [{"programme": "ENTREPRENEURSHIP", "status": "ENROLLED"}]


def error_of(answer: dict[str, Any]) -> tuple[str, str | None]:
    ext = answer["errors"][0]["extensions"]
    return ext["code"], ext.get("field")


async def test_bad_input_to_every_pillars_mutation_is_refused_with_its_field(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, polkam, bnn = mint("KP2MI"), mint("KEMENKO_POLKAM"), mint("BNN")
    village = "16.06.13.2004"
    good = {"villageCode": village, "pillar": "ENTREPRENEURSHIP", "title": "Pelatihan wirausaha",
            "occurredOn": TODAY.isoformat(), "outputs": [{"kind": "BUSINESSES_STARTED", "value": 2}]}  # fmt: skip
    cases: list[tuple[str, dict[str, Any], tuple[str, str | None]]] = [
        (kp2mi, {**good, "outputs": [{"kind": "TRAFFICKING_CASES_REFERRED", "value": 1}]},
         ("BAD_USER_INPUT", "outputs.kind")),
        (kp2mi, {**good, "occurredOn": (TODAY + dt.timedelta(days=3)).isoformat()}, ("BAD_USER_INPUT", "occurredOn")),
        (kp2mi, {**good, "villageCode": "16.06.13.9999"}, ("BAD_USER_INPUT", "villageCode")),
        (kp2mi, {**good, "participants": {"workerIds": [str(uuid.uuid4())]}},
         ("BAD_USER_INPUT", "participants.workerIds")),
        (kp2mi, {**good, "participants": {"workerIds": ["nope"]}}, ("BAD_USER_INPUT", "participants.workerIds")),
        (bnn, good, ("FORBIDDEN", None)),  # BNN does not deliver entrepreneurship
        (mint("BP3MI", region="33"), good, ("FORBIDDEN", "villageCode")),  # outside its province
    ]  # fmt: skip
    for token, payload, expected in cases:
        _, answer = await ask(endpoints.gateway, RECORD, {"in": payload}, token=token)
        assert error_of(answer) == expected, (payload, answer)
        assert answer["data"] == {"recordActivity": None}

    create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id } }"
    pilot = {"villageCode": village, "title": "Pilot", "startDate": TODAY.isoformat(),
             "partners": [{"agency": "BNN", "commitment": "Prevention sessions"}]}  # fmt: skip
    for payload, expected in [
        ({**pilot, "partners": []}, ("BAD_USER_INPUT", "partners")),
        ({**pilot, "milestones": [{"title": "Early", "dueDate": "2020-01-01", "responsibleAgency": "BNN"}]},
         ("BAD_USER_INPUT", "milestones.dueDate")),
        ({**pilot, "milestones": [{"title": "Outsider", "dueDate": TODAY.isoformat(),
                                   "responsibleAgency": "KEMENDES"}]},
         ("BAD_USER_INPUT", "milestones.responsibleAgency")),
    ]:  # fmt: skip
        _, answer = await ask(endpoints.gateway, create, {"in": payload}, token=polkam)
        assert error_of(answer) == expected, answer
    made = await mutate(endpoints, "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id "
                        "milestones { id } } }", {"in": {**pilot, "milestones": [{"title": "Survey", "dueDate":
                        TODAY.isoformat(), "responsibleAgency": "BNN"}]}}, polkam)  # fmt: skip
    pid, mid = made["createPilotProject"]["id"], made["createPilotProject"]["milestones"][0]["id"]
    complete = COMPLETE
    _, future = await ask(endpoints.gateway, complete, {"p": pid, "m": mid, "d": "2999-01-01"}, token=bnn)
    assert error_of(future) == ("BAD_USER_INPUT", "completedOn")
    _, unknown = await ask(endpoints.gateway, complete, {"p": pid, "m": str(uuid.uuid4()), "d": TODAY.isoformat()},
                           token=bnn)  # fmt: skip
    assert error_of(unknown) == ("BAD_USER_INPUT", "milestoneId")
    status = 'mutation S($p: ID!, $s: PilotStatus!) { setPilotStatus(id: $p, status: $s, reason: "") { status } }'
    _, illegal = await ask(endpoints.gateway, status, {"p": pid, "s": "COMPLETED"}, token=polkam)
    assert error_of(illegal)[0] == "CONFLICT"
    _, no_reason = await ask(endpoints.gateway, status, {"p": pid, "s": "CANCELLED"}, token=polkam)
    assert error_of(no_reason) == ("BAD_USER_INPUT", "reason")
    milestone = "mutation A($p: ID!, $in: MilestoneInput!) { addMilestone(pilotId: $p, input: $in) { id } }"
    _, early = await ask(endpoints.gateway, milestone, {"p": pid, "in": {"title": "Too early", "dueDate": "2001-01-01",
                         "responsibleAgency": "BNN"}}, token=polkam)  # fmt: skip
    assert error_of(early) == ("BAD_USER_INPUT", "milestones.dueDate")
    elsewhere = await mutate(endpoints, RECORD, {"in": {**good, "villageCode": "16.06.13.2005"}}, kp2mi)
    link = "mutation L($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
    _, wrong = await ask(endpoints.gateway, link, {"p": pid, "a": elsewhere["recordActivity"]["id"]}, token=polkam)
    assert error_of(wrong) == ("BAD_USER_INPUT", "activityId")

    enrol = "mutation E($p: ID!) { enrol(personId: $p, programme: ENTREPRENEURSHIP) { id } }"
    _, nobody = await ask(endpoints.gateway, enrol, {"p": str(uuid.uuid4())}, token=kp2mi)
    assert error_of(nobody) == ("BAD_USER_INPUT", "personId")
    update = "mutation U($id: ID!) { updateEnrolment(id: $id, status: COMPLETED) { id } }"
    _, missing = await ask(endpoints.gateway, update, {"id": str(uuid.uuid4())}, token=kp2mi)
    assert error_of(missing)[0] == "NOT_FOUND"
    queue = "mutation Q($w: ID!) { updateReintegration(workerId: $w, status: REINTEGRATED) { status } }"
    _, absent = await ask(endpoints.gateway, queue, {"w": str(uuid.uuid4())}, token=kp2mi)
    assert error_of(absent) == ("NOT_FOUND", "workerId")
    _, forged = await ask(endpoints.gateway, RECORD, {"in": good}, token=forged_token(kp2mi))
    assert error_of(forged)[0] == "UNAUTHENTICATED"
    _, no_scope = await ask(endpoints.gateway, create, {"in": pilot}, token=mint("BP3MI", region="16"))
    assert error_of(no_scope)[0] == "UNAUTHORIZED_FIELD_OR_TYPE"  # BP3MI has pilot:read, not pilot:write
