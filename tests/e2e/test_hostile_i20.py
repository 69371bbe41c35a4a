"""A hostile tester's attacks on the additions of issue 20 through the gateway, with the agencies' own tokens:
each test here failed before the fix committed with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import Endpoints, ask
from tests.e2e.test_gateway_audit import abroad, until
from tests.e2e.test_gateway_conventions import ELSEWHERE, HOME, PLACEMENT, REGISTER, only_error, person, registered

pytestmark = pytest.mark.integration


async def test_a_regional_audit_token_counts_no_audit_event(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    """Audit records lie in no region: a token with a region gets no `AuditEvent` (the access rules drop every edge),
    and `personalDataAccesses` answers it no count either. `auditEvents { totalCount }` counted them all the same,
    so a regional audit token counted, by type, subject, agency, village or correlation id, the events of the whole
    country (how many workers of a village were registered, when a worker was read, ...)."""
    worker = await abroad(endpoints, mint("KP2MI"))  # a worker of 16.06.13.2006: registered, departed
    query = "query($s: String!) { auditEvents(filter: {subject: $s}) { totalCount edges { node { id } } } }"

    async def recorded() -> int:
        _, national = await ask(endpoints.gateway, query, {"s": worker}, token=mint("AUDITOR"))
        return int(national["data"]["auditEvents"]["totalCount"])

    await until(recorded, "the worker's events reached the audit store")
    _, regional = await ask(endpoints.gateway, query, {"s": worker}, token=mint("AUDITOR", region="16"))
    assert regional["data"]["auditEvents"]["edges"] == []
    assert regional["data"]["auditEvents"]["totalCount"] == 0, regional


async def test_a_duplicate_nik_is_no_lookup_by_nik_without_pii_read_a_purpose_and_a_record(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """`workerByNik` finds a person by NIK only with `pii:read` and a purpose, and records the read. Registering the
    NIK again (its sex and birth date are written in the NIK itself; any name) found the same person through
    `registerWorker`'s CONFLICT (`existingWorkerId`) without a purpose, without pii:read and without any record: a
    regency office, or a token of it narrowed to the registry's read and write, looked up whoever holds a NIK and
    then read the worker's name and village with `worker(id)`, and no auditor could ever see it."""
    kp2mi, auditor = mint("KP2MI"), mint("AUDITOR")
    values = person(HOME)
    existing = await registered(endpoints, kp2mi, values)
    no_pii = mint("DISNAKER", region="16.06", scopes=["registry:read", "registry:write"])
    for token, purpose in ((mint("DISNAKER", region="16.06"), None), (no_pii, PLACEMENT)):
        _, body = await ask(endpoints.gateway, REGISTER, {"in": values}, token=token, purpose=purpose)
        conflict = only_error(body)
        assert conflict["extensions"]["code"] == "CONFLICT"
        assert existing not in str(body), body

    # With pii:read and a purpose: named, and recorded as a read of the worker's NIK, as workerByNik is.
    named = mint("DISNAKER", region="16.06")
    _, body = await ask(endpoints.gateway, REGISTER, {"in": values}, token=named, purpose=PLACEMENT)
    assert only_error(body)["extensions"]["existingWorkerId"] == existing
    accesses = """query A($id: ID!) { personalDataAccesses(filter: {workerId: $id}, first: 50) {
        edges { node { agency purpose fields operation } } } }"""

    async def recorded() -> list[dict[str, Any]]:
        _, answer = await ask(endpoints.gateway, accesses, {"id": existing}, token=auditor)
        return [e["node"] for e in answer["data"]["personalDataAccesses"]["edges"] if e["node"]["operation"] == "R"]

    [read] = await until(recorded, "the duplicate NIK's answer reached the audit store as a read")
    assert (read["agency"], read["purpose"], read["fields"]) == ("DISNAKER", PLACEMENT, ["nik"])


async def test_a_refused_registration_names_no_worker_of_another_region_in_the_change_feed(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    """Registering a NIK held by a worker of another region is FORBIDDEN without an id, region or date; the attempt
    is recorded as `demimas.registry.registration.refused`, whose subject and `workerId` are the existing worker's
    and whose `villageCode` is the office's own village. The change feed (and a webhook) handed that event to the
    office that tried, and so the id the answer withholds: the NIK's holder in another province, found by one
    refused registration and one page of changes."""
    nc = await connect(stack.nats_url, name="e2e-hostile")
    try:
        start = int((await nc.jetstream().stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()
    values = person(HOME)
    existing = await registered(endpoints, mint("KP2MI"), values)
    office = mint("DISNAKER", region="33.07")
    _, body = await ask(endpoints.gateway, REGISTER, {"in": values | {"villageCode": ELSEWHERE}}, token=office)
    assert only_error(body)["extensions"]["reason"] == "NIK_NOT_REGISTRABLE"
    query = """query F($after: String) { changes(after: $after, types: ["demimas.registry.registration.refused"],
        first: 1000) { edges { node { subject villageCode data } } } }"""

    async def refusals(token: str) -> list[dict[str, Any]]:
        _, answer = await ask(endpoints.gateway, query, {"after": str(start)}, token=token)
        assert "errors" not in answer, answer
        return [e["node"] for e in answer["data"]["changes"]["edges"] if e["node"]["villageCode"] == ELSEWHERE]

    national = await until(lambda: refusals(mint("KP2MI")), "the refusal reached the stream")
    assert existing in str(national)  # KP2MI, national, sees every worker
    seen = await refusals(office)
    assert existing not in str(seen), seen


async def test_the_live_assessment_needs_the_scopes_of_the_numbers_it_quotes(
    endpoints: Endpoints, mint: Callable[..., str], designation_url: str
) -> None:
    """`Village.criteriaAssessment` quotes the registry's numbers (how many migrants, how many departed procedurally)
    and the proposal's evidence: any token read it, one narrowed to `pillars:write` included. It now needs
    `stats:read` or a designation scope, through the gateway and at the designation subgraph itself."""
    query = '{ village(code: "16.06.13.2001") { code criteriaAssessment { eligible results { criterion value } } } }'
    _, body = await ask(endpoints.gateway, query, token=mint("KEMENDES"))
    assert body["data"]["village"]["criteriaAssessment"]["results"], body
    narrowed = mint("KEMENDES", scopes=["pillars:read", "pillars:write"])
    _, body = await ask(endpoints.gateway, query, token=narrowed)
    assert body["data"]["village"] == {"code": "16.06.13.2001", "criteriaAssessment": None}, body
    assert body["errors"][0]["path"] == ["village", "criteriaAssessment"]
    entities = """query($r: [_Any!]!) { _entities(representations: $r) {
        ... on Village { criteriaAssessment { results { value } } } } }"""
    representations = {"r": [{"__typename": "Village", "code": "16.06.13.2001"}]}
    async with httpx.AsyncClient() as direct:
        answer = await direct.post(
            designation_url,
            json={"query": entities, "variables": representations},
            headers={"Authorization": f"Bearer {narrowed}"},
        )
    assert answer.json()["data"]["_entities"] == [{"criteriaAssessment": None}], answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer.text
    proposer = mint("DISNAKER", region="16.06", scopes=["designation:propose"])
    _, body = await ask(endpoints.gateway, query, token=proposer)
    assert body["data"]["village"]["criteriaAssessment"]["results"], body
