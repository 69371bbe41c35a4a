"""The subscriptions of designation, pillars, cases and audit, each asked straight at its subgraph over a real
WebSocket (`graphql-transport-ws`), while the changes are made through the gateway: for every field, an event
arrives; a caller outside the event's region never receives it; a caller without the scope is refused before the
stream opens. Each subscription starts `after` the stream's last sequence read beforehand, so that it receives the
test's events however long the subscription takes to start (the replay hands over to the live fan-out)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from demimas_common.subscriptions.client import WsClient
from tests.conftest import Endpoints

from .test_gateway_cases import case_input, open_case
from .test_gateway_pillars import RECORD, designate, mutate

pytestmark = pytest.mark.integration

PATIENCE = 30.0  # seconds a subscription may take to deliver what a test waits for on a loaded machine

VILLAGE = "16.06.13.2010"  # no other test designates it
TODAY = dt.date.today()


async def last_seq(stack: TestStack) -> str:
    nc = await connect(stack.nats_url, name="subscription-tests")
    try:
        return str((await nc.jetstream().stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


async def received(
    url: str,
    token: str,
    query: str,
    variables: dict[str, Any],
    seconds: float,
    until: Callable[[list[Any]], bool] | None = None,
) -> list[Any]:
    """What one subscription receives: its payloads' data, or the error message that ended it.

    Without `until`, whatever arrives within `seconds` (for what must *not* arrive). With `until`, reading goes on
    until `until(found)` holds, however long a loaded machine takes to replay the stream (up to `PATIENCE`), and then
    `seconds` more, so that an unexpected extra event is still seen."""
    found: list[Any] = []
    async with WsClient.connect(ws_url(url), headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.subscribe("1", query, variables)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (PATIENCE if until is not None else seconds)
        while (left := deadline - loop.time()) > 0:
            try:
                message = await ws.receive(left)
            except TimeoutError:
                break
            if message["type"] == "error":
                return [message]
            if message["type"] == "complete":
                break
            assert "errors" not in message["payload"], message
            found.append(next(iter(message["payload"]["data"].values())))
            if until is not None and until(found):
                until, deadline = None, min(deadline, loop.time() + seconds)
    return found


def having(key: str, value: Any, count: int = 1) -> Callable[[list[Any]], bool]:
    """`until` for `received`: `count` events whose `key` is `value` have arrived."""
    return lambda found: sum(1 for e in found if e.get(key) == value) >= count


def refused_with(found: list[Any]) -> str:
    [message] = found
    assert message["type"] == "error", message
    code: str = message["payload"][0]["extensions"]["code"]
    return code


PROPOSALS = "subscription($p: String, $a: String) { proposalChanged(regionPrefix: $p, after: $a) " \
            "{ cursor kind proposalId villageCode status proposal { id status } village { code } } }"  # fmt: skip
DESIGNATIONS = "subscription($a: String) { designationChanged(after: $a) " \
               "{ cursor kind villageCode status designation { decreeNumber } } }"  # fmt: skip
ACTIVITIES = "subscription($f: ActivityRecordedFilter, $a: String) { activityRecorded(filter: $f, after: $a) " \
             "{ cursor activityId villageCode pillar agency peopleReached activity { title } } }"  # fmt: skip
PILOTS = "subscription($a: String) { pilotProjectChanged(after: $a) " \
         "{ cursor kind pilotProjectId villageCode pilotProject { title } } }"  # fmt: skip
CASES = "subscription($f: CaseChangeFilter, $a: String) { caseChanged(filter: $f, after: $a) " \
        "{ cursor kind caseId villageCode status ownerAgency version case { id status } } }"  # fmt: skip
AUDIT = "subscription($f: AuditEventAppendedFilter, $a: String) { auditEventAppended(filter: $f, after: $a) " \
        "{ cursor eventId type subject actorAgency } }"  # fmt: skip


async def test_designation_subscriptions(
    stack: TestStack, endpoints: Endpoints, designation_url: str, mint: Callable[..., str]
) -> None:
    start = await last_seq(stack)
    await designate(endpoints, mint, VILLAGE)  # proposed, submitted, verified, assessed, approved: designated
    window = 1.5
    kp2mi, bp3mi_sumsel, bp3mi_jatim = mint("KP2MI"), mint("BP3MI", region="16"), mint("BP3MI", region="35")
    seen = await received(
        designation_url, kp2mi, PROPOSALS, {"a": start, "p": VILLAGE}, window, having("villageCode", VILLAGE, 4)
    )
    assert [e["kind"] for e in seen] == ["SUBMITTED", "VERIFIED", "ASSESSED", "APPROVED"]
    assert seen[-1]["proposal"]["status"] == "APPROVED"
    assert seen[-1]["village"] == {"code": VILLAGE}
    regional = await received(
        designation_url, bp3mi_sumsel, PROPOSALS, {"a": start}, window, having("villageCode", VILLAGE, 4)
    )
    assert [e["cursor"] for e in regional if e["villageCode"] == VILLAGE] == [e["cursor"] for e in seen]
    elsewhere = await received(designation_url, bp3mi_jatim, PROPOSALS, {"a": start}, window)
    assert all(e["villageCode"].startswith("35.") for e in elsewhere)
    assert refused_with(await received(designation_url, mint("KEMENDES"), PROPOSALS, {}, window, bool)) == "FORBIDDEN"

    designated = await received(
        designation_url, bp3mi_sumsel, DESIGNATIONS, {"a": start}, window, having("villageCode", VILLAGE)
    )
    mine = [e for e in designated if e["villageCode"] == VILLAGE]
    assert [(e["kind"], e["status"]) for e in mine] == [("DESIGNATED", "ACTIVE")]
    assert mine[0]["designation"] == {"decreeNumber": "SK 31/2026"}
    elsewhere = await received(designation_url, bp3mi_jatim, DESIGNATIONS, {"a": start}, window)
    assert all(e["villageCode"].startswith("35.") for e in elsewhere)


async def test_pillars_subscriptions(
    stack: TestStack, endpoints: Endpoints, pillars_url: str, mint: Callable[..., str]
) -> None:
    kp2mi, polkam = mint("KP2MI"), mint("KEMENKO_POLKAM")
    start = await last_seq(stack)
    activity = {"villageCode": VILLAGE, "pillar": "FAMILY_STRENGTHENING", "title": "Community parenting",
                "occurredOn": TODAY.isoformat(), "programme": "DRPPA",
                "participants": {"anonymous": [{"sex": "FEMALE", "group": "WORKER_FAMILY", "count": 15}]},
                "outputs": [{"kind": "FAMILIES_COUNSELLED", "value": 12}]}  # fmt: skip
    recorded = (await mutate(endpoints, RECORD, {"in": activity}, kp2mi))["recordActivity"]
    pilot = {"villageCode": VILLAGE, "title": "Pilot Demimas subscription test", "startDate": TODAY.isoformat(),
             "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Community parenting"}],
             "milestones": [{"title": "Baseline survey", "dueDate": TODAY.isoformat(),
                             "responsibleAgency": "KEMENPPPA"}]}  # fmt: skip
    create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id } }"
    created = (await mutate(endpoints, create, {"in": pilot}, polkam))["createPilotProject"]
    window = 1.5

    same_pillar = {"a": start, "f": {"pillar": "FAMILY_STRENGTHENING", "regionPrefix": "16.06"}}
    seen = await received(
        pillars_url, mint("BP3MI", region="16"), ACTIVITIES, same_pillar, window, having("activityId", recorded["id"])
    )
    [mine] = [e for e in seen if e["activityId"] == recorded["id"]]
    assert (mine["villageCode"], mine["agency"], mine["peopleReached"]) == (VILLAGE, "KP2MI", 15)
    assert mine["activity"] == {"title": "Community parenting"}
    other_pillar = {"a": start, "f": {"pillar": "REINTEGRATION"}}
    assert recorded["id"] not in [e["activityId"] for e in await received(pillars_url, kp2mi, ACTIVITIES, other_pillar,
                                                                          window)]  # fmt: skip
    elsewhere = await received(pillars_url, mint("DISNAKER", region="35.07"), ACTIVITIES, {"a": start}, window)
    assert all(e["villageCode"].startswith("35.07.") for e in elsewhere)
    assert refused_with(await received(pillars_url, mint("AUDITOR"), ACTIVITIES, {}, window, bool)) == "FORBIDDEN"

    pilots = await received(pillars_url, polkam, PILOTS, {"a": start}, window, having("pilotProjectId", created["id"]))
    [mine] = [e for e in pilots if e["pilotProjectId"] == created["id"]]
    assert (mine["kind"], mine["villageCode"]) == ("CREATED", VILLAGE)
    assert mine["pilotProject"] == {"title": "Pilot Demimas subscription test"}
    elsewhere = await received(pillars_url, mint("BP3MI", region="35"), PILOTS, {"a": start}, window)
    assert all(e["villageCode"].startswith("35.") for e in elsewhere)
    assert refused_with(await received(pillars_url, mint("DISNAKER", region="16.06"), PILOTS, {}, window, bool)) == (
        "FORBIDDEN"
    )


async def test_cases_and_audit_subscriptions(
    stack: TestStack, endpoints: Endpoints, cases_url: str, audit_url: str, mint: Callable[..., str]
) -> None:
    disnaker = mint("DISNAKER", region="16.06", purpose="PROTECTION_CASE")
    start = await last_seq(stack)
    opened = await open_case(endpoints.gateway, disnaker, case_input(VILLAGE))
    window = 1.5

    seen = await received(
        cases_url,
        mint("KP2MI"),
        CASES,
        {"a": start, "f": {"regionPrefix": "16.06"}},
        window,
        having("caseId", opened["id"]),
    )
    [mine] = [e for e in seen if e["caseId"] == opened["id"]]
    assert (mine["kind"], mine["villageCode"], mine["ownerAgency"]) == ("OPENED", VILLAGE, opened["ownerAgency"])
    assert mine["case"] == {"id": opened["id"], "status": opened["status"]}
    held = await received(cases_url, mint("KP2MI"), CASES, {"a": start, "f": {"assignedTo": "BNN"}}, window)
    assert opened["id"] not in [e["caseId"] for e in held]  # nobody referred it to BNN
    # KEMENPPPA sees only cases referred to it; a regional office of another region sees nothing of 16.06
    for outsider in (mint("KEMENPPPA"), mint("BP3MI", region="35")):
        assert opened["id"] not in [e["caseId"] for e in await received(cases_url, outsider, CASES, {"a": start},
                                                                        window)]  # fmt: skip
    assert refused_with(await received(cases_url, mint("AUDITOR"), CASES, {}, window, bool)) == "FORBIDDEN"

    auditor = mint("AUDITOR")
    appended = await received(
        audit_url,
        auditor,
        AUDIT,
        {"a": start, "f": {"type": "demimas.cases.case.>"}},
        window,
        having("subject", opened["id"]),
    )
    [event] = [e for e in appended if e["subject"] == opened["id"]]
    assert (event["type"], event["actorAgency"]) == ("demimas.cases.case.opened", "DISNAKER")
    assert refused_with(await received(audit_url, mint("KP2MI"), AUDIT, {}, window, bool)) == "FORBIDDEN"
