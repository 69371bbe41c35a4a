"""Thematic statuses through the gateway over the real services, with the agencies' own tokens: each programme's
owning agency sets and ends its statuses and no other agency can (KP2MI included), a regional token neither sets
outside its region nor sees another region's statuses, the overlap query (`programmeVillages`) joins the
designation subgraph's `designation` and the registry's `name` to the pillars' list and filters by programmes (all of
them), designation (a village designated through the real designation workflow) and region, and every change is an
event on the stream (read back from JetStream), a refusal none.

Villages: Betung district (16.07.05) of Banyuasin, which no other test names (a district of Musi Banyuasin, 16.06,
would leave integration tests too few fresh villages there)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import Endpoints, ask

from .test_gateway_pillars import until

pytestmark = pytest.mark.integration

DISTRICT = "16.07.05"
PULAU_RAJAK, BUKIT, SRI_KEMBANG = "16.07.05.2002", "16.07.05.2003", "16.07.05.2004"
TODAY = dt.date.today()
SINCE = (TODAY - dt.timedelta(days=60)).isoformat()

SET = """mutation S($in: ThematicStatusInput!) { setThematicStatus(input: $in) {
    id villageCode programme agency since reference status version } }"""
END = """mutation E($id: ID!, $on: Date!, $why: String!) { endThematicStatus(id: $id, endedOn: $on, reason: $why) {
    id status endedOn endReason version } }"""
STATUSES = """query V($v: String!) { village(code: $v) { code thematicStatuses(includeEnded: true) {
    programme agency since reference status } } }"""
OVERLAP = """query O($f: ProgrammeVillageFilter, $after: String) {
  programmeVillages(filter: $f, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor designated programmes
            node { code name designation { status } thematicStatuses { programme agency } } } } }"""


def given(village: str, programme: str, reference: str = "SK Bupati 400.2/118/2026") -> dict[str, Any]:
    return {"in": {"villageCode": village, "programme": programme, "since": SINCE, "reference": reference}}


async def ok(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    _, answer = await ask(endpoints.gateway, query, variables, token=token)
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def refused(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The one error of a refused mutation (its field null)."""
    _, answer = await ask(endpoints.gateway, query, variables, token=token)
    assert answer["data"] == {"setThematicStatus": None} or answer["data"] == {"endThematicStatus": None}, answer
    [error] = answer["errors"]
    found: dict[str, Any] = error
    return found


async def overlap(endpoints: Endpoints, token: str, f: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """(totalCount, every edge of every page)."""
    edges: list[dict[str, Any]] = []
    after, total = None, None
    while True:
        page = (await ok(endpoints, OVERLAP, {"f": f, "after": after}, token))["programmeVillages"]
        total = page["totalCount"] if total is None else total
        assert page["totalCount"] == total
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return total, edges
        after = page["pageInfo"]["endCursor"]


async def stream_events(stack: TestStack, start: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(headers, CloudEvent) of each thematic-status event of this test's villages after stream sequence `start`."""
    nc = await connect(stack.nats_url, name="e2e-thematic")
    found = []
    try:
        js = nc.jetstream()
        seq = start + 1
        while True:
            try:
                msg = await js.get_msg(STREAM, seq, subject="demimas.pillars.thematic_status.>", next=True)
            except NotFoundError:
                break
            assert msg.seq is not None
            assert msg.data is not None
            event = json.loads(msg.data)
            if event["data"]["villageCode"].startswith(DISTRICT + "."):
                found.append((dict(msg.headers or {}), event))
            seq = msg.seq + 1
    finally:
        await nc.close()
    return found


async def last_sequence(stack: TestStack) -> int:
    nc = await connect(stack.nats_url, name="e2e-thematic")
    try:
        return int((await nc.jetstream().stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()


async def designate(endpoints: Endpoints, mint: Callable[..., str], village: str) -> None:
    """Through the designation workflow: Banyuasin's regency office proposes, the provincial office verifies and
    assesses, KP2MI approves."""
    disnaker, bp3mi, kp2mi = mint("DISNAKER", region="16.07"), mint("BP3MI", region="16"), mint("KP2MI")
    why = "Residents work in Malaysia and Taiwan, mostly SMA/SMK graduates"
    propose = "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
    pid = (await ok(endpoints, propose, {"v": village, "j": why}, disnaker))["proposeVillage"]["id"]
    await ok(endpoints, "mutation S($id: ID!) { submitProposal(id: $id) { status } }", {"id": pid}, disnaker)
    await ok(endpoints, "mutation V($id: ID!) { verifyProposal(id: $id) { status } }", {"id": pid}, bp3mi)
    await ok(endpoints, "mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", {"id": pid}, bp3mi)
    approve = ('mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: "SK 58/2026", '
               'decreeDate: $d, overrideReason: "evidence filed on paper") { status } }')  # fmt: skip
    await ok(endpoints, approve, {"id": pid, "d": TODAY.isoformat()}, kp2mi)


async def test_owners_set_and_end_statuses_and_the_overlap_query_finds_pilot_sites(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    start = await last_sequence(stack)
    pppa, bnn, kemendes, kp2mi = mint("KEMENPPPA"), mint("BNN"), mint("KEMENDES"), mint("KP2MI")
    polkam = mint("KEMENKO_POLKAM")

    # Pulau Rajak is designated through the designation workflow; pillars learns it from the events
    await designate(endpoints, mint, PULAU_RAJAK)
    progress = "query P($v: String!) { village(code: $v) { pillarProgress { portfolio { status } } } }"

    async def portfolio_open() -> bool:
        data = await ok(endpoints, progress, {"v": PULAU_RAJAK}, kp2mi)
        portfolio = data["village"]["pillarProgress"]["portfolio"]
        return bool(portfolio and portfolio["status"] == "OPEN")

    await until(portfolio_open, "the designation opened Pulau Rajak's portfolio")

    # the owners set their programmes' statuses
    drppa = (await ok(endpoints, SET, given(PULAU_RAJAK, "DRPPA"), pppa))["setThematicStatus"]
    assert {k: drppa[k] for k in ("villageCode", "programme", "agency", "since", "status", "version")} == {
        "villageCode": PULAU_RAJAK, "programme": "DRPPA", "agency": "KEMENPPPA", "since": SINCE, "status": "ACTIVE",
        "version": 1}  # fmt: skip
    await ok(endpoints, SET, given(PULAU_RAJAK, "DESA_BERSINAR", "Keputusan Kepala BNN 12/2026"), bnn)
    await ok(endpoints, SET, given(BUKIT, "DRPPA"), pppa)
    await ok(endpoints, SET, given(SRI_KEMBANG, "DESA_TEMATIK", "Kepmendes 45/2026"), kemendes)
    bumdes = await ok(endpoints, SET, given(SRI_KEMBANG, "BUMDES", "Kepmendes 46/2026"), kemendes)
    corrected = await ok(endpoints, SET, given(PULAU_RAJAK, "DRPPA", "SK Bupati 400.2/119/2026"), pppa)
    assert (corrected["setThematicStatus"]["id"], corrected["setThematicStatus"]["version"]) == (drppa["id"], 2)

    # nobody else sets or ends them: not KP2MI, not another owner, not the owner's office of another region
    for token, programme in ((kp2mi, "DRPPA"), (bnn, "DRPPA"), (polkam, "DESA_TEMATIK")):
        error = await refused(endpoints, SET, given(BUKIT, programme), token)
        assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("FORBIDDEN", "not_programme_owner")
        assert "only" in error["message"]
    error = await refused(endpoints, SET, given(BUKIT, "DESA_BERSINAR"), mint("BNN", region="33"))
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("FORBIDDEN", "villageCode")
    bumdes_id = bumdes["setThematicStatus"]["id"]
    end = {"id": bumdes_id, "on": TODAY.isoformat(), "why": "BUMDes unit merged into the district cooperative"}
    error = await refused(endpoints, END, end, kp2mi)
    assert error["extensions"]["reason"] == "not_programme_owner"
    error = await refused(endpoints, END, end, mint("KEMENDES", region="33"))
    assert error["extensions"]["code"] == "NOT_FOUND"  # as an unknown id: nothing tells where it lies
    ended = (await ok(endpoints, END, end, kemendes))["endThematicStatus"]
    assert (ended["status"], ended["endedOn"], ended["version"]) == ("ENDED", TODAY.isoformat(), 2)

    # a village's statuses, for pillars:read or pilot:read
    statuses = (await ok(endpoints, STATUSES, {"v": SRI_KEMBANG}, polkam))["village"]["thematicStatuses"]
    assert [(s["programme"], s["status"]) for s in statuses] == [("DESA_TEMATIK", "ACTIVE"), ("BUMDES", "ENDED")]
    _, answer = await ask(endpoints.gateway, STATUSES, {"v": SRI_KEMBANG}, token=mint("AUDITOR"))
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHORIZED_FIELD_OR_TYPE"]

    # the overlap query, joined across three subgraphs
    here = {"regionPrefix": DISTRICT}
    total, edges = await overlap(endpoints, polkam, here)
    assert (total, [e["node"]["code"] for e in edges]) == (3, [PULAU_RAJAK, BUKIT, SRI_KEMBANG])
    first = edges[0]
    assert (first["designated"], first["programmes"]) == (True, ["DRPPA", "DESA_BERSINAR"])
    assert first["node"]["name"] == "Pulau Rajak"
    assert first["node"]["designation"] == {"status": "ACTIVE"}
    assert {s["programme"] for s in first["node"]["thematicStatuses"]} == {"DRPPA", "DESA_BERSINAR"}
    assert edges[2]["programmes"] == ["DESA_TEMATIK"]  # BUMDES ended
    cases = [
        ({"programmes": ["DRPPA"]}, [PULAU_RAJAK, BUKIT]),
        ({"programmes": ["DRPPA", "DESA_BERSINAR"]}, [PULAU_RAJAK]),
        ({"programmes": ["BUMDES"]}, []),
        ({"designated": True}, [PULAU_RAJAK]),
        ({"designated": False}, [BUKIT, SRI_KEMBANG]),
        ({"designated": False, "programmes": ["DRPPA"]}, [BUKIT]),
        ({"designated": True, "programmes": ["DESA_TEMATIK"]}, []),
    ]
    for f, expected in cases:
        total, edges = await overlap(endpoints, kp2mi, {**here, **f})
        assert (total, [e["node"]["code"] for e in edges]) == (len(expected), expected), f

    # regional tokens: their own region's statuses, never another region's
    total, edges = await overlap(endpoints, mint("DISNAKER", region="16.07"), here)
    assert total == 3
    elsewhere = mint("DISNAKER", region="33.07")
    assert await overlap(endpoints, elsewhere, here) == (0, [])
    total, edges = await overlap(endpoints, elsewhere, {})
    assert all(e["node"]["code"].startswith("33.07.") for e in edges)
    assert total == len(edges)
    data = (await ask(endpoints.gateway, STATUSES, {"v": PULAU_RAJAK}, token=elsewhere))[1].get("data")
    assert "Pulau Rajak" not in json.dumps(data)
    assert "DRPPA" not in json.dumps(data)

    # every change is an event on the stream, with its caller; the refusals none
    async def published() -> list[tuple[dict[str, str], dict[str, Any]]] | None:
        found = await stream_events(stack, start)
        return found if len(found) >= 7 else None

    found = await until(published, "the thematic-status events reached the stream")
    summary = [(e["type"].rsplit(".", 1)[1], e["data"]["villageCode"], e["data"]["programme"], e["data"]["version"],
                e["actoragency"]) for _, e in found]  # fmt: skip
    assert summary == [
        ("set", PULAU_RAJAK, "DRPPA", 1, "KEMENPPPA"),
        ("set", PULAU_RAJAK, "DESA_BERSINAR", 1, "BNN"),
        ("set", BUKIT, "DRPPA", 1, "KEMENPPPA"),
        ("set", SRI_KEMBANG, "DESA_TEMATIK", 1, "KEMENDES"),
        ("set", SRI_KEMBANG, "BUMDES", 1, "KEMENDES"),
        ("set", PULAU_RAJAK, "DRPPA", 2, "KEMENPPPA"),
        ("ended", SRI_KEMBANG, "BUMDES", 2, "KEMENDES"),
    ]
    headers, last = found[-1]
    assert headers.get("Ce-Type") == "demimas.pillars.thematic_status.ended"
    assert last["subject"] == bumdes_id
    assert last["data"] == {"statusId": bumdes_id, "villageCode": SRI_KEMBANG, "programme": "BUMDES",
                            "agency": "KEMENDES", "since": SINCE, "reference": "Kepmendes 46/2026", "status": "ENDED",
                            "version": 2, "endedOn": TODAY.isoformat()}  # fmt: skip
