"""The protection cases service's events reach the designation and pillars services through their declared
consumers (`case-stats`, `case-counts`) and come back through the gateway: the village's assessment cites its case
figures under SUSTAINED_PROTECTION, and its pillar progress counts the cases on the prevention (Aman) pillar. The
events are published on the stream as the cases service's relay would publish them."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

VILLAGE = "16.06.13.2008"  # Ulak Teberau, Musi Banyuasin: no other end-to-end test uses it
NOW = dt.datetime.now(dt.UTC)
QUERY = """query Q($v: String!) { village(code: $v) {
  criteriaAssessment { results { criterion status note
    caseFigures { handled opened resolved open overdue medianDaysToResolution } } }
  pillarProgress { pillarsServed pillars { pillar emasPillar casesOpened casesResolved } } } }"""


def case_events() -> list[CloudEvent]:
    """Three cases: resolved and closed in the window, overdue in triage, and open since before the window."""
    day = dt.timedelta(days=1)
    out: list[CloudEvent] = []

    def case(kind: str, opened: dt.datetime, *steps: tuple[str, str, dt.datetime, dict[str, Any]]) -> None:
        base = {"caseId": str(uuid.uuid4()), "villageCode": VILLAGE, "kind": kind, "phase": "ABROAD",
                "ownerAgency": "BP3MI", "confidentiality": "STANDARD"}  # fmt: skip
        due = {"triageDueAt": (opened + day).isoformat(), "resolutionDueAt": (opened + 30 * day).isoformat()}
        first = {**base, "status": "OPEN", "version": 1, "channel": "VILLAGE_TASK_FORCE", "people": 1, **due}
        out.append(replace(new_event("demimas.cases.case.opened", base["caseId"], first), time=opened))
        for version, (name, status, at, extra) in enumerate(steps, start=2):
            data = {**base, "status": status, "version": version, **extra}
            out.append(replace(new_event(f"demimas.cases.case.{name}", base["caseId"], data), time=at))

    case(
        "COMPLAINT",
        NOW - 10 * day,
        ("triaged", "TRIAGED", NOW - 9 * day, {}),
        ("resolved", "RESOLVED", NOW - 2 * day, {"resolutionDays": 8}),
        ("closed", "CLOSED", NOW - day, {}),
    )
    overdue = {"item": "TRIAGE", "dueAt": (NOW - 4 * day).isoformat(), "heldBy": "BP3MI", "referralId": None,
               "escalatedTo": "KP2MI"}  # fmt: skip
    case("ABUSE_ABROAD", NOW - 5 * day, ("overdue", "OPEN", NOW - 3 * day, overdue))
    case("LEGAL_AID", NOW - 400 * day, ("triaged", "TRIAGED", NOW - 399 * day, {}))
    return out


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Events travel JetStream -> consumer: poll until `check` returns something truthy."""
    for _ in range(600):  # 60 s: a loaded CI machine can be slow; a passing check returns at once
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_case_events_feed_the_assessment_and_the_aman_pillar(
    stack: TestStack, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    nc = await connect(stack.nats_url, name="e2e-cases")
    js = nc.jetstream()
    await ensure_stream(js)
    for event in case_events():
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    await nc.close()
    kp2mi = mint("KP2MI")

    async def answered() -> dict[str, Any] | None:
        _, answer = await ask(endpoints.gateway, QUERY, {"v": VILLAGE}, token=kp2mi)
        assert "errors" not in answer, answer
        village: dict[str, Any] = answer["data"]["village"]
        [sustained] = [r for r in village["criteriaAssessment"]["results"] if r["criterion"] == "SUSTAINED_PROTECTION"]
        cases = [p for p in village["pillarProgress"]["pillars"] if p["casesOpened"] is not None]
        done = sustained["caseFigures"]["handled"] == 3 and cases and cases[0]["casesResolved"] == 1
        return village if done else None

    village = await until(answered, "both consumers applied the case events")
    [sustained] = [r for r in village["criteriaAssessment"]["results"] if r["criterion"] == "SUSTAINED_PROTECTION"]
    assert sustained == {"criterion": "SUSTAINED_PROTECTION", "status": "UNKNOWN", "note": "no field visit recorded",
                         "caseFigures": {"handled": 3, "opened": 2, "resolved": 1, "open": 2, "overdue": 1,
                                         "medianDaysToResolution": 8.0}}  # fmt: skip
    progress = village["pillarProgress"]
    assert [p for p in progress["pillars"] if p["casesOpened"] is not None] == [
        {"pillar": "NONPROCEDURAL_AND_TRAFFICKING_PREVENTION", "emasPillar": "SAFE", "casesOpened": 2,
         "casesResolved": 1}
    ]  # fmt: skip
    assert progress["pillarsServed"] == 0  # cases are not activities

    without_stats = mint("KP2MI", scopes=DEFAULT_GRANTS[Agency.KP2MI] - {"stats:read", "case:read"})
    _, narrowed = await ask(endpoints.gateway, QUERY, {"v": VILLAGE}, token=without_stats)
    pillars = narrowed["data"]["village"]["pillarProgress"]["pillars"]
    assert {p["casesOpened"] for p in pillars} == {None}
    results = narrowed["data"]["village"]["criteriaAssessment"]["results"]
    assert {r["caseFigures"] is None for r in results} == {True}
    assert {e["extensions"]["code"] for e in narrowed["errors"]} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
