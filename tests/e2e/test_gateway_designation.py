"""The designation workflow through the gateway over the real registry and designation services: registry events
feed the designation's projection, and one query joins the registry's numbers with the designation's assessment."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Endpoints, ask, forged_token

pytestmark = pytest.mark.integration

_serial = itertools.count(8001)
JOINED = """
query V($code: String!) {
  village(code: $code) {
    name
    migrantStats { total departed proceduralDeparted }
    criteriaAssessment { eligible results { criterion status value } }
    proposals { status history { status agency } }
  }
}"""


async def register_abroad(endpoints: Endpoints, token: str, village: str, procedural: bool) -> None:
    nik = f"160613470394{next(_serial):04d}"
    register = "mutation R($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"
    data = {"nik": nik, "fullName": "Siti Aminah", "sex": "FEMALE", "birthDate": "1994-03-07",
            "educationLevel": "SMK", "villageCode": village}  # fmt: skip
    _, created = await ask(endpoints.gateway, register, {"input": data}, token=token)
    worker = created["data"]["registerWorker"]["id"]
    depart = "mutation D($id: ID!, $input: DepartureInput!) { recordDeparture(workerId: $id, input: $input) { id } }"
    departure = {"destinationCountry": "MY", "sector": "FORMAL", "occupation": "operator",
                 "scheme": "P_TO_P", "procedural": procedural, "departureDate": "2026-01-05"}  # fmt: skip
    _, departed = await ask(endpoints.gateway, depart, {"id": worker, "input": departure}, token=token)
    assert "errors" not in departed, departed


async def test_proposal_to_decree_with_registry_data_joined(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    kp2mi, disnaker, bp3mi = mint("KP2MI"), mint("DISNAKER", region="16.06"), mint("BP3MI", region="16")
    village = "16.06.13.2001"
    for procedural in (True, True, False):
        await register_abroad(endpoints, kp2mi, village, procedural)
    # the designation service learns the numbers from the registry's events (outbox -> JetStream -> consumer): up to
    # a minute on a loaded CI machine (10 s could be outrun), at once when they are there
    for _ in range(600):
        _, answer = await ask(endpoints.gateway, JOINED, {"code": village}, token=kp2mi)
        stats = answer["data"]["village"]["migrantStats"]
        results = {r["criterion"]: r for r in answer["data"]["village"]["criteriaAssessment"]["results"]}
        share = stats["proceduralDeparted"] / stats["departed"] if stats["departed"] else None
        expected = (str(stats["total"]), None if share is None else f"{share:.4f}")
        if (results["HAS_PMI_RESIDENTS"]["value"], results["PROCEDURAL_SHARE"]["value"]) == expected:
            break
        await asyncio.sleep(0.1)
    assert results["HAS_PMI_RESIDENTS"]["value"] == str(stats["total"])
    share = stats["proceduralDeparted"] / stats["departed"]
    assert results["PROCEDURAL_SHARE"]["value"] == f"{share:.4f}"

    propose = (
        "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id status } }"
    )
    why = "Residents work in Malaysia as production operators, mostly SMA/SMK graduates"
    _, proposed = await ask(endpoints.gateway, propose, {"v": village, "j": why}, token=disnaker)
    assert "errors" not in proposed, proposed
    pid = proposed["data"]["proposeVillage"]["id"]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("mutation S($id: ID!) { submitProposal(id: $id) { status } }", disnaker, {"id": pid}),
        ("mutation V($id: ID!) { verifyProposal(id: $id, note: \"visited\") { status } }", bp3mi, {"id": pid}),
        ("mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", bp3mi, {"id": pid}),
        ("mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: \"SK 12/2026\", decreeDate: $d,"
         " overrideReason: \"evidence filed on paper\") { status decreeNumber } }", kp2mi,
         {"id": pid, "d": dt.date.today().isoformat()}),
    ]  # fmt: skip
    for query, token, variables in steps:
        _, answer = await ask(endpoints.gateway, query, variables, token=token)
        assert "errors" not in answer, answer
    _, joined = await ask(endpoints.gateway, JOINED, {"code": village}, token=kp2mi)
    proposals = joined["data"]["village"]["proposals"]
    assert proposals[0]["status"] == "APPROVED"
    assert [h["agency"] for h in proposals[0]["history"]] == ["DISNAKER", "DISNAKER", "BP3MI", "BP3MI", "KP2MI"]
    assert joined["data"]["village"]["name"] == "Ulak Paceh"
    current = "query C($code: String!) { village(code: $code) { designation { id status decreeNumber } } }"
    _, designated = await ask(endpoints.gateway, current, {"code": village}, token=kp2mi)
    designation = designated["data"]["village"]["designation"]
    assert (designation["status"], designation["decreeNumber"]) == ("ACTIVE", "SK 12/2026")
    suspend = 'mutation S($id: ID!) { suspendDesignation(id: $id, reason: "satgas dissolved") { status } }'
    _, suspended = await ask(endpoints.gateway, suspend, {"id": designation["id"]}, token=kp2mi)
    assert suspended["data"] == {"suspendDesignation": {"status": "SUSPENDED"}}
    listing = """{ designations(filter: {regencyCode: "16.06"}, first: 100) { edges { node { villageCode status } }
        pageInfo { hasNextPage } } designationSummary(regionPrefix: "16.06.13.2001") { villages provinces regencies
        byStatus { status count } }
        proposals(filter: {status: APPROVED, regionPrefix: "16.06.13.2001"}) { edges { node { villageCode } } } }"""
    _, listed = await ask(endpoints.gateway, listing, token=kp2mi)
    assert "errors" not in listed, listed
    assert {"villageCode": village, "status": "SUSPENDED"} in [
        e["node"] for e in listed["data"]["designations"]["edges"]
    ]
    summary = listed["data"]["designationSummary"]
    assert (summary["villages"], summary["provinces"], summary["regencies"]) == (1, 1, 1)
    assert summary["byStatus"] == [{"status": "SUSPENDED", "count": 1}]
    assert {"villageCode": village} in [e["node"] for e in listed["data"]["proposals"]["edges"]]
    _, refused = await ask(endpoints.gateway, suspend, {"id": designation["id"]}, token=disnaker)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"  # no designation:decide

    # the auditor follows the decree: the village's events (villageCode), the designation's consequence in the
    # pillars service (the portfolio it opened, caused by the designation), and that flow by its correlation id
    auditor = mint("AUDITOR")
    by_village = """query A($v: String!) { auditEvents(filter: {villageCode: $v,
        type: "demimas.designation.village.designated"}) { edges { node { id correlationId
        consequences { id type correlationId causedBy { id } } } } } }"""

    async def opened() -> list[tuple[dict[str, Any], dict[str, Any]]]:
        _, answer = await ask(endpoints.gateway, by_village, {"v": village}, token=auditor)
        assert "errors" not in answer, answer
        nodes = [e["node"] for e in answer["data"]["auditEvents"]["edges"]]
        return [(n, c) for n in nodes for c in n["consequences"] if c["type"] == "demimas.pillars.portfolio.opened"]

    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(300):  # the pillars service opens the portfolio when the designation's event reaches it
        found = await opened()
        if found:
            break
        await asyncio.sleep(0.1)
    [(decree, portfolio)] = found
    assert portfolio["causedBy"] == {"id": decree["id"]}  # the forward link is the backward one reversed
    flow = portfolio["correlationId"]
    assert flow in (decree["correlationId"], decree["id"])
    by_flow = (
        "query F($c: String!) { auditEvents(filter: {correlationId: $c}) { edges { node { id correlationId } } } }"
    )
    _, answer = await ask(endpoints.gateway, by_flow, {"c": flow}, token=auditor)
    nodes = answer["data"]["auditEvents"]["edges"]
    assert portfolio["id"] in [n["node"]["id"] for n in nodes]
    assert {n["node"]["correlationId"] for n in nodes} == {flow}
    _, refused = await ask(endpoints.gateway, by_flow, {"c": flow}, token=kp2mi)  # KP2MI holds no audit:read
    assert refused["data"] == {"auditEvents": None}


async def test_workflow_refusals_through_the_gateway(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    propose = 'mutation P($v: String!) { proposeVillage(villageCode: $v, justification: "%s") { id } }' % ("x" * 30)
    _, outside = await ask(endpoints.gateway, propose, {"v": "33.07.01.2001"}, token=mint("DISNAKER", region="16.06"))
    assert outside["data"] == {"proposeVillage": None}
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, unauthorised = await ask(endpoints.gateway, propose, {"v": "16.06.13.2001"}, token=mint("KEMENDES"))
    assert unauthorised["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    bad_id = 'mutation { submitProposal(id: "' + str(uuid.uuid4()) + '") { id } }'
    _, missing = await ask(endpoints.gateway, bad_id, token=mint("DISNAKER", region="16.06"))
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bad_input_to_the_workflow_names_the_field(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    disnaker, bp3mi, kp2mi = mint("DISNAKER", region="16.06"), mint("BP3MI", region="16"), mint("KP2MI")
    propose = 'mutation P($j: String!) { proposeVillage(villageCode: "16.06.03.2008", justification: $j) { id } }'
    _, short = await ask(endpoints.gateway, propose, {"j": "because"}, token=disnaker)
    assert (short["errors"][0]["extensions"]["code"], short["errors"][0]["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "justification",
    )
    _, proposed = await ask(endpoints.gateway, propose, {"j": "13 residents work in Turkey, Bulgaria and Dubai"},
                            token=disnaker)  # fmt: skip
    pid = proposed["data"]["proposeVillage"]["id"]
    evidence = "mutation E($id: ID!, $in: EvidenceInput!) { addEvidence(proposalId: $id, input: $in) { id } }"
    bad_digest = {"kind": "FIELD_VISIT", "title": "visit", "documentDate": "2026-06-01", "sha256": "not-a-digest"}
    _, refused = await ask(endpoints.gateway, evidence, {"id": pid, "in": bad_digest}, token=disnaker)
    assert refused["errors"][0]["extensions"]["field"] == "sha256"
    future = {**bad_digest, "sha256": "c" * 64, "documentDate": "2999-01-01"}
    _, refused = await ask(endpoints.gateway, evidence, {"id": pid, "in": future}, token=disnaker)
    assert refused["errors"][0]["extensions"]["field"] == "documentDate"
    for query, token in (
        (f'mutation {{ submitProposal(id: "{pid}") {{ id }} }}', disnaker),
        (f'mutation {{ verifyProposal(id: "{pid}") {{ id }} }}', bp3mi),
        (f'mutation {{ assessProposal(id: "{pid}") {{ eligible }} }}', bp3mi),
    ):
        _, answer = await ask(endpoints.gateway, query, token=token)
        assert "errors" not in answer, answer
    approve = f'mutation {{ approveProposal(id: "{pid}", decreeNumber: "SK 9", decreeDate: "2999-01-01") {{ id }} }}'
    _, refused = await ask(endpoints.gateway, approve, token=kp2mi)
    assert refused["errors"][0]["extensions"]["field"] == "decreeDate"
    reject = f'mutation {{ rejectProposal(id: "{pid}", reason: " ") {{ id }} }}'
    _, refused = await ask(endpoints.gateway, reject, token=kp2mi)
    assert refused["errors"][0]["extensions"]["field"] == "reason"
    _, forged = await ask(endpoints.gateway, reject, token=forged_token(kp2mi))
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


LINKED = """
query L($id: ID!) {
  proposal(id: $id) {
    status
    village { code name }
    evidence { id kind number sha256 documentDate termEnd }
    decisionAssessment { decision eligible proceduralThreshold results { criterion status source value }
      evidence { id number } }
  }
}"""
DESIGNATED = """
query D($code: String!) {
  village(code: $code) {
    criteriaAssessment { results { criterion value } }
    designation { id village { code name } proposal { id status }
      assessment { decision eligible results { criterion status source value } evidence { id number } } }
  }
}"""


async def test_links_and_the_frozen_assessment_through_the_gateway(
    endpoints: Endpoints, mint: Callable[..., str], designation_url: str
) -> None:
    """Issue 20: a proposal shows its evidence, its village (the registry's) and, once decided, the assessment that
    justified the decision; the designation links to its village, its proposal and that assessment, which stays as it
    was when the registry's numbers change; a rejection keeps its assessment too. Agencies' own tokens throughout."""
    kp2mi, disnaker, bp3mi = mint("KP2MI"), mint("DISNAKER", region="16.06"), mint("BP3MI", region="16")
    code, other = "16.06.10.2003", "16.06.10.2004"  # Suka Jaya and Suka Makmur: used by no other test
    propose = "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
    why = "Residents work in Malaysia as plantation workers, mostly SMP/SMA graduates"
    add = "mutation E($id: ID!, $in: EvidenceInput!) { addEvidence(proposalId: $id, input: $in) { id } }"
    decree = {"kind": "TASK_FORCE_DECREE", "title": "SK Kades satgas PMI", "number": "141/2026",
              "documentDate": "2026-06-01", "termEnd": "2029-05-31", "sha256": "a" * 64}  # fmt: skip
    visit = {"kind": "FIELD_VISIT", "title": "Kunjungan lapangan", "documentDate": dt.date.today().isoformat(),
             "sha256": "b" * 64}  # fmt: skip
    ids: dict[str, str] = {}
    for village in (code, other):
        _, proposed = await ask(endpoints.gateway, propose, {"v": village, "j": why}, token=disnaker)
        assert "errors" not in proposed, proposed
        ids[village] = proposed["data"]["proposeVillage"]["id"]
        for item, token in ((decree, disnaker), (visit, bp3mi)):
            _, added = await ask(endpoints.gateway, add, {"id": ids[village], "in": item}, token=token)
            assert "errors" not in added, added
        for query, token in (("mutation S($id: ID!) { submitProposal(id: $id) { id } }", disnaker),
                             ("mutation V($id: ID!) { verifyProposal(id: $id) { id } }", bp3mi)):  # fmt: skip
            _, answer = await ask(endpoints.gateway, query, {"id": ids[village]}, token=token)
            assert "errors" not in answer, answer
    pid = ids[code]
    _, before = await ask(endpoints.gateway, LINKED, {"id": pid}, token=disnaker)
    assert "errors" not in before, before
    proposal = before["data"]["proposal"]
    assert proposal["village"] == {"code": code, "name": "Suka Jaya"}  # joined from the registry
    assert [(e["kind"], e["number"], e["sha256"]) for e in proposal["evidence"]] == [
        ("TASK_FORCE_DECREE", "141/2026", "a" * 64), ("FIELD_VISIT", None, "b" * 64)]  # fmt: skip
    assert proposal["decisionAssessment"] is None  # nothing decided yet
    steps = [
        ("mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", bp3mi, {}),
        ("mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: \"SK 31/2026\", decreeDate: $d,"
         " overrideReason: \"documents filed on paper\") { status } }", kp2mi, {"d": dt.date.today().isoformat()}),
    ]  # fmt: skip
    for query, token, variables in steps:
        _, answer = await ask(endpoints.gateway, query, {"id": pid, **variables}, token=token)
        assert "errors" not in answer, answer
    _, rejected = await ask(endpoints.gateway, 'mutation R($id: ID!) { rejectProposal(id: $id, reason: "no PMI'
                            ' residents on record") { status } }', {"id": ids[other]}, token=kp2mi)  # fmt: skip
    assert rejected["data"] == {"rejectProposal": {"status": "REJECTED"}}, rejected

    _, decided = await ask(endpoints.gateway, LINKED, {"id": pid}, token=bp3mi)
    frozen = decided["data"]["proposal"]["decisionAssessment"]
    assert (frozen["decision"], frozen["eligible"], frozen["proceduralThreshold"]) == ("APPROVED", False, 0.8)
    results = {r["criterion"]: r for r in frozen["results"]}
    assert results["TASK_FORCE"] == {"criterion": "TASK_FORCE", "status": "MET", "source": "DOCUMENT",
                                     "value": "141/2026"}  # fmt: skip
    assert (results["HAS_PMI_RESIDENTS"]["status"], results["HAS_PMI_RESIDENTS"]["value"]) == ("UNKNOWN", None)
    assert sorted(e["id"] for e in frozen["evidence"]) == sorted(e["id"] for e in proposal["evidence"])
    _, other_decided = await ask(endpoints.gateway, LINKED, {"id": ids[other]}, token=disnaker)
    assert other_decided["data"]["proposal"]["decisionAssessment"]["decision"] == "REJECTED"

    # a resident registered after the decision: the live assessment follows, the frozen one does not
    await register_abroad(endpoints, kp2mi, code, procedural=True)
    for _ in range(600):  # the event travels to the designation service: up to a minute on a loaded machine
        _, seen = await ask(endpoints.gateway, DESIGNATED, {"code": code}, token=kp2mi)
        live = {r["criterion"]: r["value"] for r in seen["data"]["village"]["criteriaAssessment"]["results"]}
        if live["HAS_PMI_RESIDENTS"] == "1":
            break
        await asyncio.sleep(0.1)
    assert live["HAS_PMI_RESIDENTS"] == "1"
    designation = seen["data"]["village"]["designation"]
    assert designation["village"] == {"code": code, "name": "Suka Jaya"}
    assert designation["proposal"] == {"id": pid, "status": "APPROVED"}
    assert designation["assessment"] == {k: frozen[k] for k in designation["assessment"]}
    assert {r["criterion"]: r["value"] for r in designation["assessment"]["results"]}["HAS_PMI_RESIDENTS"] is None

    # the same scopes and region rule as the proposal's other fields, on every path
    _, kemendes = await ask(endpoints.gateway, DESIGNATED, {"code": code}, token=mint("KEMENDES"))
    refused = {tuple(e["path"]) for e in kemendes["errors"]}
    assert refused == {("village", "designation", "proposal"), ("village", "designation", "assessment")}
    assert kemendes["data"]["village"]["designation"]["village"]["code"] == code
    _, elsewhere = await ask(endpoints.gateway, LINKED, {"id": pid}, token=mint("BP3MI", region="33"))
    assert elsewhere["data"] == {"proposal": None}
    assert "errors" not in elsewhere, elsewhere
    entities = "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Proposal { evidence { id } } } }"
    async with httpx.AsyncClient(base_url=designation_url.removesuffix("/graphql")) as designation:
        for token, seen in ((mint("DISNAKER", region="33.07"), None), (mint("DISNAKER", region="16.06"), 2)):
            _, direct = await ask(designation, entities, {"r": [{"__typename": "Proposal", "id": pid}]}, token=token)
            found = direct["data"]["_entities"][0]
            assert (found if found is None else len(found["evidence"])) == seen, direct
