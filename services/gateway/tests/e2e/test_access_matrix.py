"""The access matrix: every agency of docs/contracts.md (and an anonymous caller) x every personal or restricted field
and every guarded mutation of the running services, through the gateway as `make run` builds it, asserting exactly
which fields come back and which are refused (null with `UNAUTHORIZED_FIELD_OR_TYPE` at their path).

The expected answers come from the grants table of docs/contracts.md written out below, not from the code's grants:
a difference between the two fails here. To extend the matrix for a new service, add its rows to `ROWS` (a query
and, per path from the outside in, the scope groups that path needs) and start the service in conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

GRANTS: dict[str | None, frozenset[str]] = {
    agency: frozenset(scopes.split())
    for agency, scopes in {
        "KP2MI": "registry:read registry:write stats:read pii:read family:read designation:propose designation:verify"
        " designation:decide pillars:read pillars:write pilot:read pilot:write subject:report case:read case:write"
        " feeds:manage feeds:read",
        "BP3MI": "registry:read registry:write stats:read pii:read family:read designation:verify pillars:read"
        " pillars:write pilot:read case:read case:write feeds:manage feeds:read",
        "DISNAKER": "registry:read registry:write stats:read pii:read designation:propose pillars:read case:read"
        " case:write feeds:manage feeds:read",
        "KEMENPPPA": "registry:read stats:read family:read pillars:read pillars:write pilot:read pilot:write"
        " case:read case:write feeds:manage feeds:read",
        "KEMENDES": "stats:read pillars:read pillars:write pilot:read pilot:write feeds:manage feeds:read",
        "BNN": "stats:read pillars:read pillars:write pilot:read pilot:write case:read case:write feeds:manage"
        " feeds:read",
        "KEMENIMIPAS": "registry:read stats:read pillars:read pillars:write pilot:read pilot:write case:read"
        " case:write feeds:manage feeds:read",
        "KEMENKO_POLKAM": "stats:read pillars:read pilot:read pilot:write",
        "AUDITOR": "audit:read stats:read",
    }.items()
}
GRANTS[None] = frozenset()  # no token
REGIONAL = {"BP3MI": "16.06", "DISNAKER": "16.06"}
VILLAGE = "16.06.13.2001"
AUTHENTICATED: tuple[frozenset[str], ...] = (frozenset(),)  # @authenticated: any token
PROPOSALS = (frozenset({"designation:propose"}), frozenset({"designation:verify"}), frozenset({"designation:decide"}))


def scopes(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(g.split()) for g in groups)


@dataclass(frozen=True)
class Row:
    name: str
    query: str
    guards: tuple[tuple[tuple[str | int, ...], tuple[frozenset[str], ...]], ...]
    """(path, scope groups: any one suffices) from the outside in; the first path a caller fails is refused."""


WORKER = "query W($id: ID!) { worker(id: $id) { id %s } }"
ON_WORKER = (("worker",), scopes("registry:read"))
ROWS = [
    Row("worker", WORKER % "", (ON_WORKER,)),
    *(
        Row(f"worker.{f}", WORKER % f, (ON_WORKER, (("worker", f), scopes("pii:read"))))
        for f in ("nik", "birthDate", "phone", "address", "passportNumber")
    ),
    Row("worker.family", WORKER % "family { id }", (ON_WORKER, (("worker", "family"), scopes("family:read")))),
    Row(
        "worker.enrolments",
        WORKER % "enrolments { id }",
        (ON_WORKER, (("worker", "enrolments"), scopes("pillars:read"))),
    ),
    Row(
        "village.migrantStats",
        f'{{ village(code: "{VILLAGE}") {{ code migrantStats {{ total }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "migrantStats"), scopes("stats:read"))),
    ),
    Row(
        "region.migrantStats",
        '{ region(code: "16.06") { code migrantStats { total } } }',
        ((("region",), AUTHENTICATED), (("region", "migrantStats"), scopes("stats:read"))),
    ),
    Row(
        "village.workers",
        f'{{ village(code: "{VILLAGE}") {{ code workers(first: 1) {{ totalCount }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "workers"), scopes("registry:read"))),
    ),
    Row(
        "village.pillarProgress",
        f'{{ village(code: "{VILLAGE}") {{ code pillarProgress {{ __typename }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "pillarProgress"), scopes("pillars:read"))),
    ),
    Row(
        "village.criteriaAssessment",
        f'{{ village(code: "{VILLAGE}") {{ code criteriaAssessment {{ eligible }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "criteriaAssessment"), (*scopes("stats:read"), *PROPOSALS))),
    ),
    Row("proposals", "{ proposals(first: 1) { __typename } }", ((("proposals",), PROPOSALS),)),
    Row("designations", "{ designations(first: 1) { __typename } }", ((("designations",), AUTHENTICATED),)),
    Row("pilotProjects", "{ pilotProjects(first: 1) { __typename } }", ((("pilotProjects",), scopes("pilot:read")),)),
    Row("servicePillars", "{ servicePillars { __typename } }", ((("servicePillars",), scopes("pillars:read")),)),
    Row(
        "village.thematicStatuses",
        f'{{ village(code: "{VILLAGE}") {{ code thematicStatuses {{ programme }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "thematicStatuses"), scopes("pillars:read", "pilot:read"))),
    ),
    Row(
        "programmeVillages",
        "{ programmeVillages(first: 1) { totalCount } }",
        ((("programmeVillages",), scopes("pillars:read", "pilot:read")),),
    ),
]
# Protection cases: STANDARD cases about the worker (`$case`) and about its family member (`$familyCase`), referred to
# KEMENPPPA, KEMENIMIPAS and BNN, so that every agency holding case:read sees them (and, with the purpose
# PROTECTION_CASE every request here sends, reads their content).
CASE = "query C($case: ID!) { case(id: $case) { id %s } }"
ON_CASE = (("case",), scopes("case:read"))
ROWS += [
    Row("case", CASE % "", (ON_CASE,)),
    *(
        Row(f"case.{f}", CASE % f"{f} {sub}".strip(), (ON_CASE, (("case", f), scopes("case:read"))))
        for f, sub in (
            ("description", ""),
            ("reporter", "{ anonymous }"),
            ("notes", "{ text }"),
            ("people", "{ role }"),
        )
    ),
    Row(
        "case.referrals.reason",
        CASE % "referrals { reason }",
        (ON_CASE, (("case", "referrals", 0, "reason"), scopes("case:read"))),
    ),
    Row(
        "case.people.worker",
        CASE % "people { worker { id } }",
        (ON_CASE, (("case", "people", 0, "worker"), scopes("registry:read"))),
    ),
    Row(
        "case.people.familyMember",
        CASE.replace("$case", "$familyCase") % "people { familyMember { id } }",
        (ON_CASE, (("case", "people", 0, "familyMember"), scopes("registry:read family:read"))),
    ),
    Row("cases", "{ cases(first: 1) { totalCount } }", ((("cases",), scopes("case:read")),)),
    Row("overdueCases", "{ overdueCases(first: 1) { totalCount } }", ((("overdueCases",), scopes("case:read")),)),
    Row(
        "legalAidOrganisations",
        "{ legalAidOrganisations { id } }",
        ((("legalAidOrganisations",), scopes("case:read")),),
    ),
    Row(
        "caseTrail",
        "query T($case: ID!) { caseTrail(id: $case) { step } }",
        ((("caseTrail",), scopes("audit:read")),),
    ),
    Row(
        "personalDataAccesses",
        "query P($id: ID!) { personalDataAccesses(filter: {workerId: $id}, first: 1) { totalCount } }",
        ((("personalDataAccesses",), scopes("audit:read")),),
    ),
    Row(
        "auditEvents.consequences",
        f'{{ auditEvents(filter: {{villageCode: "{VILLAGE}"}}, first: 1) '
        "{ edges { node { consequences { id } } } } }",
        ((("auditEvents",), scopes("audit:read")),),
    ),
    Row(
        "village.caseStats",
        f'{{ village(code: "{VILLAGE}") {{ code caseStats {{ open }} }} }}',
        ((("village",), AUTHENTICATED), (("village", "caseStats"), scopes("stats:read", "case:read"))),
    ),
    Row(
        "worker.cases",
        WORKER % "cases { id }",
        (ON_WORKER, (("worker", "cases"), scopes("registry:read case:read"))),
    ),
    Row(
        "worker.family.cases",
        WORKER % "family { id cases { id } }",
        (
            ON_WORKER,
            (("worker", "family"), scopes("family:read")),
            (("worker", "family", 0, "cases"), scopes("registry:read family:read case:read")),
        ),
    ),
]
# Issue 20's links and snapshots: a proposal of DESIGNATED with evidence, approved (`$proposal`; the `proposal_id`
# fixture), so that its designation, its village and its frozen assessment are there to be refused or returned.
DESIGNATED = "16.06.10.2005"  # Suka Maju, in the regional callers' regency; designated by no other test
PROPOSAL = "query P($proposal: ID!) { proposal(id: $proposal) { id %s } }"
ON_PROPOSAL = (("proposal",), PROPOSALS)
DESIGNATION = f'{{ village(code: "{DESIGNATED}") {{ code designation {{ id %s }} }} }}'
ON_DESIGNATION = ((("village",), AUTHENTICATED), (("village", "designation"), AUTHENTICATED))
ROWS += [
    *(
        Row(f"proposal.{f}", PROPOSAL % f"{f} {sub}", (ON_PROPOSAL, (("proposal", f), PROPOSALS)))
        for f, sub in (("evidence", "{ id sha256 }"), ("decisionAssessment", "{ eligible }"), ("village", "{ code }"))
    ),
    *(
        Row(f"designation.{f}", DESIGNATION % f"{f} {sub}", (*ON_DESIGNATION, (("village", "designation", f), g)))
        for f, sub, g in (
            ("proposal", "{ id }", PROPOSALS),
            ("assessment", "{ eligible results { criterion } evidence { id } }", PROPOSALS),
            ("village", "{ code }", AUTHENTICATED),
        )
    ),
]
# Webhooks and the change feed: an agency's own endpoints, and the events its other grants let it see.
ROWS += [
    Row(
        "webhookEndpoints",
        "{ webhookEndpoints(first: 1) { totalCount } }",
        ((("webhookEndpoints",), scopes("feeds:manage")),),
    ),
    Row("changes", "{ changes(first: 1) { pageInfo { endCursor } } }", ((("changes",), scopes("feeds:read")),)),
]
NOBODY = str(uuid.UUID(int=1))
MUTATIONS = [
    Row(
        "updateWorker",
        f'mutation {{ updateWorker(id: "{NOBODY}", input: {{fullName: "X"}}) {{ id }} }}',
        ((("updateWorker",), scopes("registry:write")),),
    ),
    Row(
        "submitProposal",
        f'mutation {{ submitProposal(id: "{NOBODY}") {{ id }} }}',
        ((("submitProposal",), scopes("designation:propose")),),
    ),
    Row(
        "verifyProposal",
        f'mutation {{ verifyProposal(id: "{NOBODY}") {{ id }} }}',
        ((("verifyProposal",), scopes("designation:verify")),),
    ),
    Row(
        "rejectProposal",
        f'mutation {{ rejectProposal(id: "{NOBODY}", reason: "no") {{ id }} }}',
        ((("rejectProposal",), scopes("designation:decide")),),
    ),
    Row(
        # a village code the service refuses: even the programme's owner sets nothing
        "setThematicStatus",
        'mutation { setThematicStatus(input: {villageCode: "00.00.00.0000", programme: DRPPA, since: "2026-01-02", '
        'reference: "SK 1/2026"}) { id } }',
        ((("setThematicStatus",), scopes("pillars:write", "pilot:write")),),
    ),
    Row(
        "endThematicStatus",
        f'mutation {{ endThematicStatus(id: "{NOBODY}", endedOn: "2026-01-02", reason: "closed") {{ id }} }}',
        ((("endThematicStatus",), scopes("pillars:write", "pilot:write")),),
    ),
    Row(
        "setPilotStatus",
        f'mutation {{ setPilotStatus(id: "{NOBODY}", status: ACTIVE) {{ id }} }}',
        ((("setPilotStatus",), scopes("pilot:write")),),
    ),
    *(
        Row(
            name,
            f'mutation {{ {name}(pilotId: "{NOBODY}", villageCode: "{VILLAGE}") {{ id }} }}',
            (((name,), scopes("pilot:write")),),
        )
        for name in ("addPilotVillage", "removePilotVillage")
    ),
    *(
        Row(name, f"mutation {{ {name}({arguments}) {{ id }} }}", (((name,), scopes("case:write")),))
        for name, arguments in (
            # an input the service refuses: even an allowed caller opens nothing
            (
                "openCase",
                'input: {villageCode: "00.00.00.0000", kind: COMPLAINT, phase: ABROAD, channel: HOTLINE, '
                'description: "nothing to see", reporter: {anonymous: true}}',
            ),
            ("triageCase", f'id: "{NOBODY}", version: 1'),
            ("referCase", f'id: "{NOBODY}", version: 1, input: {{toAgency: BNN, reason: "help"}}'),
            ("acceptReferral", f'referralId: "{NOBODY}", version: 1'),
            ("declineReferral", f'referralId: "{NOBODY}", version: 1, reason: "not ours"'),
            ("recordReferralOutcome", f'referralId: "{NOBODY}", version: 1, outcome: "done"'),
            ("addCaseNote", f'caseId: "{NOBODY}", version: 1, text: "a note"'),
            ("resolveCase", f'id: "{NOBODY}", version: 1, resolution: "done"'),
            ("closeCase", f'id: "{NOBODY}", version: 1'),
            ("reopenCase", f'id: "{NOBODY}", version: 1, reason: "again"'),
            ("registerLegalAidOrganisation", 'input: {name: "LBH", accreditationNumber: "X-1", regionsServed: []}'),
        )
    ),
    *(
        Row(name, f"mutation {{ {name}({arguments}){selection} }}", (((name,), scopes("feeds:manage")),))
        for name, arguments, selection in (
            # an input the service refuses: even an allowed caller registers nothing
            ("createWebhookEndpoint", 'input: {url: "http://127.0.0.1:9/x", eventTypes: []}', " { secret }"),
            ("rotateWebhookSecret", f'id: "{NOBODY}"', " { secret }"),
            ("disableWebhookEndpoint", f'id: "{NOBODY}"', " { id }"),
            ("enableWebhookEndpoint", f'id: "{NOBODY}"', " { id }"),
            ("updateWebhookEndpoint", f'id: "{NOBODY}", input: {{description: "x"}}', " { id }"),
            ("deleteWebhookEndpoint", f'id: "{NOBODY}"', ""),
            ("replayWebhookEndpoint", f'id: "{NOBODY}", since: "2026-01-01T00:00:00Z"', ""),
            ("redeliver", f'deliveryId: "{NOBODY}"', " { id }"),
        )
    ),
]


def refused_at(row: Row, agency: str | None) -> tuple[str | int, ...] | None:
    granted = GRANTS[agency]
    for path, groups in row.guards:
        if agency is None or not any(group <= granted for group in groups):
            return path
    return None


@pytest.fixture(scope="module")
async def worker_id(secured_gateway: httpx.AsyncClient, matrix_mint: Callable[..., str]) -> str:
    """A worker of VILLAGE with one (adult) family member."""
    register = "mutation R($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"
    worker = {
        "nik": "1606134703940123",
        "fullName": "Siti Aminah",
        "sex": "FEMALE",
        "birthDate": "1994-03-07",
        "educationLevel": "SMK",
        "villageCode": VILLAGE,
        "phone": "0812-3456-7890",
        "address": "Dusun II",
        "passportNumber": "C1234567",
    }
    body = await post(secured_gateway, register, {"input": worker}, matrix_mint("KP2MI"))
    assert "errors" not in body, body
    found = str(body["data"]["registerWorker"]["id"])
    member = {"relation": "SPOUSE", "fullName": "Ahmad Fauzi", "birthDate": "1990-01-01"}
    add = "mutation F($id: ID!, $in: FamilyMemberInput!) { addFamilyMember(workerId: $id, input: $in) { id } }"
    body = await post(secured_gateway, add, {"id": found, "in": member}, matrix_mint("KP2MI"))
    assert "errors" not in body, body
    return found


async def _open_case(http: httpx.AsyncClient, token: str, person: dict[str, str]) -> str:
    """A STANDARD case about one person, referred to the three referral-only agencies, with a note: every agency
    with case:read sees it. Opened once the cases service knows the person (the registry's events reach it
    asynchronously)."""
    case = {"villageCode": VILLAGE, "kind": "COMPLAINT", "phase": "ABROAD", "channel": "HOTLINE",
            "destinationCountry": "MY", "description": "Wages unpaid for four months", "confidentiality": "STANDARD",
            "reporter": {"anonymous": False, "name": "Satgas desa"}, "people": [person]}  # fmt: skip
    for _ in range(600):  # the cases service learns the person from the registry's events: 60 s on a loaded machine
        body = await post(http, "mutation O($in: OpenCaseInput!) { openCase(input: $in) { id } }", {"in": case}, token)
        if "is known to the cases service" not in str(body.get("errors", "")):
            break
        await asyncio.sleep(0.1)
    assert "errors" not in body, body
    found = str(body["data"]["openCase"]["id"])
    steps = ["mutation { triageCase(id: $id, version: 1) { id } }"]
    steps += [f'mutation {{ referCase(id: $id, version: {v}, input: {{toAgency: {a}, reason: "needs {a}"}}) {{ id }} }}'
              for v, a in ((2, "KEMENPPPA"), (3, "KEMENIMIPAS"), (4, "BNN"))]  # fmt: skip
    steps += ['mutation { addCaseNote(caseId: $id, version: 5, text: "called the family") { id } }']
    for step in steps:
        body = await post(http, step.replace("mutation {", "mutation M($id: ID!) {"), {"id": found}, token)
        assert "errors" not in body, body
    return found


@pytest.fixture(scope="module")
async def case_ids(
    secured_gateway: httpx.AsyncClient, matrix_mint: Callable[..., str], worker_id: str
) -> dict[str, str]:
    """`$case`: a case about the worker; `$familyCase`: one about its family member (one person each, so that a
    refused person is refused once)."""
    kp2mi = matrix_mint("KP2MI")
    family = await post(secured_gateway, "query W($id: ID!) { worker(id: $id) { family { id } } }", {"id": worker_id},
                        kp2mi)  # fmt: skip
    member = family["data"]["worker"]["family"][0]["id"]
    return {
        "case": await _open_case(secured_gateway, kp2mi, {"role": "WORKER", "id": worker_id}),
        "familyCase": await _open_case(secured_gateway, kp2mi, {"role": "FAMILY_MEMBER", "id": member}),
    }


@pytest.fixture(scope="module")
async def proposal_id(secured_gateway: httpx.AsyncClient, matrix_mint: Callable[..., str]) -> str:
    """A proposal of DESIGNATED with one piece of evidence, taken through the workflow by the agencies that do each
    step and approved by KP2MI: DESIGNATED is designated, and the proposal's assessment frozen."""
    disnaker, bp3mi, kp2mi = (matrix_mint(a, region=REGIONAL.get(a)) for a in ("DISNAKER", "BP3MI", "KP2MI"))
    why = "Residents work in Malaysia as production operators, mostly SMK graduates"
    propose = "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
    body = await post(secured_gateway, propose, {"v": DESIGNATED, "j": why}, disnaker)
    assert "errors" not in body, body
    found = str(body["data"]["proposeVillage"]["id"])
    evidence = {"kind": "FIELD_VISIT", "title": "field visit", "documentDate": "2026-06-01", "sha256": "d" * 64}
    steps = [
        ("mutation E($id: ID!, $in: EvidenceInput!) { addEvidence(proposalId: $id, input: $in) { id } }", disnaker,
         {"in": evidence}),
        ("mutation S($id: ID!) { submitProposal(id: $id) { id } }", disnaker, {}),
        ("mutation V($id: ID!) { verifyProposal(id: $id) { id } }", bp3mi, {}),
        ("mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", bp3mi, {}),
        ('mutation D($id: ID!) { approveProposal(id: $id, decreeNumber: "SK 9/2026", decreeDate: "2026-06-02",'
         ' overrideReason: "matrix") { id } }', kp2mi, {}),
    ]  # fmt: skip
    for query, token, variables in steps:
        body = await post(secured_gateway, query, {"id": found, **variables}, token)
        assert "errors" not in body, body
    return found


async def post(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, token: str | None) -> Any:
    headers = {"content-type": "application/json", "x-demimas-purpose": "PROTECTION_CASE"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(key, int) and isinstance(data, list):
            data = data[key] if key < len(data) else None
        elif isinstance(key, str) and isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


AGENCIES = [*(a for a in GRANTS if a is not None), None]


@pytest.mark.parametrize("agency", AGENCIES, ids=lambda a: a or "anonymous")
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
async def test_query_matrix(
    secured_gateway: httpx.AsyncClient,
    matrix_mint: Callable[..., str],
    worker_id: str,
    case_ids: dict[str, str],
    proposal_id: str,
    row: Row,
    agency: str | None,
) -> None:
    token = matrix_mint(agency, region=REGIONAL.get(agency)) if agency else None
    known = {"id": worker_id, "proposal": proposal_id, **case_ids}
    variables = {name: value for name, value in known.items() if f"${name}:" in row.query}
    body = await post(secured_gateway, row.query, variables, token)
    assert "data" in body, body
    refused = refused_at(row, agency)
    denials = [
        tuple(e["path"]) for e in body.get("errors", []) if e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    ]
    if refused is None:
        assert denials == [], body
        assert value_at(body["data"], row.guards[-1][0]) is not None, body  # the value itself came back
    else:
        assert denials == [refused], body
        assert value_at(body["data"], refused) is None


@pytest.mark.parametrize("agency", AGENCIES, ids=lambda a: a or "anonymous")
@pytest.mark.parametrize("row", MUTATIONS, ids=lambda r: r.name)
async def test_mutation_matrix(
    secured_gateway: httpx.AsyncClient, matrix_mint: Callable[..., str], row: Row, agency: str | None
) -> None:
    token = matrix_mint(agency, region=REGIONAL.get(agency)) if agency else None
    body = await post(secured_gateway, row.query, None, token)
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert body["data"] == {row.name: None}  # nobody's id: even an allowed caller changes nothing
    if refused_at(row, agency) is None:
        assert "UNAUTHORIZED_FIELD_OR_TYPE" not in codes, body  # reached the service, which answered
        assert codes, body
    else:
        assert codes == ["UNAUTHORIZED_FIELD_OR_TYPE"], body


# The feeds fields that name an endpoint or a delivery by id (queries and the nested delivery log): an allowed
# caller reaches the service, which answers NOT_FOUND for nobody's id (and alike for another agency's: see
# tests/e2e/test_region_walk.py), a refused one never reaches it.
BY_ID = [
    Row(
        "webhookEndpoint",
        f'{{ webhookEndpoint(id: "{NOBODY}") {{ id }} }}',
        ((("webhookEndpoint",), scopes("feeds:manage")),),
    ),
    Row(
        "webhookEndpoint.deliveries",
        f'{{ webhookEndpoint(id: "{NOBODY}") {{ deliveries(first: 1) {{ totalCount edges {{ node {{ attemptLog '
        "{ error } } } } } }",
        ((("webhookEndpoint",), scopes("feeds:manage")),),
    ),
    Row(
        "webhookDeliveries",
        f'{{ webhookDeliveries(endpointId: "{NOBODY}") {{ totalCount edges {{ node {{ attemptLog {{ error }} }} }} '
        "} }",
        ((("webhookDeliveries",), scopes("feeds:manage")),),
    ),
]


@pytest.mark.parametrize("agency", AGENCIES, ids=lambda a: a or "anonymous")
@pytest.mark.parametrize("row", BY_ID, ids=lambda r: r.name)
async def test_by_id_matrix(
    secured_gateway: httpx.AsyncClient, matrix_mint: Callable[..., str], row: Row, agency: str | None
) -> None:
    token = matrix_mint(agency, region=REGIONAL.get(agency)) if agency else None
    body = await post(secured_gateway, row.query, None, token)
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert not body.get("data"), body  # nobody's id: nothing comes back to anyone
    expected = "NOT_FOUND" if refused_at(row, agency) is None else "UNAUTHORIZED_FIELD_OR_TYPE"
    assert codes == [expected], body
