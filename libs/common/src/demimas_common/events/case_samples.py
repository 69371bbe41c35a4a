"""Plausible lives of protection cases as the cases service publishes them, for the tests of the services that
consume `demimas.cases.case.*` (designation's `case-stats`, pillars' `case-counts`): schema-valid payloads with
versions 1, 2, ..., and what must be true of each case at the end, worked out here step by step rather than by any
consumer's rules. Escalations (`overdue`) either keep the case's version or take a new one (`bump`), as the cases
service's sweep may do either. Test support, like `demimas_common.db.fake_uow`: no service calls it.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from demimas_common.events.envelope import CloudEvent, new_event

__all__ = ["CaseTruth", "Step", "case_history", "cloud_events"]

Step = tuple[str, dict[str, Any], dt.datetime]
"""(event type, data, time)."""


@dataclass
class CaseTruth:
    case_id: str
    village_code: str
    status: str = "OPEN"
    version: int = 1
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolution_days: float | None = None
    pending: set[str] = field(default_factory=set)
    """Escalated items nothing has settled yet."""

    @property
    def finished(self) -> bool:
        return self.status in ("RESOLVED", "CLOSED")

    @property
    def overdue(self) -> bool:
        return bool(self.pending)


def case_history(rng: random.Random, village: str, start: dt.datetime, *, bump: bool) -> tuple[list[Step], CaseTruth]:
    """One case's events in publication order and its truth; `bump`: escalations take a new version."""
    case = str(uuid.uuid4())
    truth = CaseTruth(case, village)
    kind = rng.choice(["COMPLAINT", "LEGAL_AID", "TRAFFICKING_SUSPECTED", "ABUSE_ABROAD", "REPATRIATION"])
    base = {"caseId": case, "villageCode": village, "kind": kind, "phase": "ABROAD", "ownerAgency": "BP3MI",
            "confidentiality": "RESTRICTED" if kind == "TRAFFICKING_SUSPECTED" else "STANDARD"}  # fmt: skip
    steps: list[Step] = []
    clock = [start]

    def later() -> dt.datetime:
        clock[0] += dt.timedelta(hours=rng.randint(1, 72))
        return clock[0]

    def change(name: str, status: str, **extra: Any) -> None:
        truth.version += 1
        truth.status = status
        at = later()
        steps.append((f"demimas.cases.case.{name}", {**base, "status": status, "version": truth.version, **extra}, at))
        truth.pending.discard("TRIAGE")  # any step after the opening settles the triage
        if name in ("resolved", "closed"):
            truth.pending.clear()
        if name == "resolved":
            truth.resolved_at, truth.resolution_days = at, extra["resolutionDays"]

    def escalate(item: str, referral: str | None = None) -> None:
        if bump:
            truth.version += 1
        at = later()
        data = {**base, "status": truth.status, "version": truth.version, "item": item,
                "dueAt": (at - dt.timedelta(hours=1)).isoformat(), "heldBy": "BP3MI", "referralId": referral,
                "escalatedTo": "KP2MI"}  # fmt: skip
        steps.append(("demimas.cases.case.overdue", data, at))
        truth.pending.add(f"{item}:{referral}" if referral else item)

    opened_at = later()
    truth.opened_at = opened_at
    opened = {**base, "status": "OPEN", "version": 1, "channel": "HOTLINE", "people": 1,
              "triageDueAt": (opened_at + dt.timedelta(hours=24)).isoformat(),
              "resolutionDueAt": (opened_at + dt.timedelta(days=30)).isoformat()}  # fmt: skip
    steps.append(("demimas.cases.case.opened", opened, opened_at))
    if rng.random() < 0.3:
        escalate("TRIAGE")
    if rng.random() < 0.1:
        return steps, truth
    change("triaged", "TRIAGED")
    for _ in range(rng.randint(0, 2)):
        referral = str(uuid.uuid4())
        change("referred", "REFERRED", referralId=referral, toAgency="KEMENPPPA", legalAidOrganisationId=None,
               dueAt=(clock[0] + dt.timedelta(hours=72)).isoformat())  # fmt: skip
        if rng.random() < 0.3:
            escalate("REFERRAL_RESPONSE", referral)
        answer = rng.random()
        ids = {"referralId": referral, "toAgency": "KEMENPPPA", "legalAidOrganisationId": None}
        if answer < 0.5:
            change("referral_accepted", "IN_PROGRESS", **ids)
            truth.pending.discard(f"REFERRAL_RESPONSE:{referral}")
            if rng.random() < 0.5:
                change("referral_completed", "IN_PROGRESS", **ids)
        elif answer < 0.8:
            change("referral_declined", "TRIAGED", **ids)
            truth.pending.discard(f"REFERRAL_RESPONSE:{referral}")
        else:
            return steps, truth  # the referral is never answered
    for _ in range(2):  # a resolution, maybe a reopening and another one
        if rng.random() < 0.3:
            escalate("RESOLUTION")
        if rng.random() < 0.2:
            return steps, truth
        change("resolved", "RESOLVED", resolutionDays=round(rng.uniform(1, 60), 1))
        if rng.random() < 0.5:
            change("closed", "CLOSED")
        if rng.random() < 0.7:
            return steps, truth
        change("reopened", "REOPENED")
    return steps, truth


def cloud_events(steps: list[Step]) -> list[CloudEvent]:
    """The steps as the cases service's outbox would publish them (subject: the case id)."""
    return [replace(new_event(kind, data["caseId"], data), time=at) for kind, data, at in steps]
