"""Protection cases in a village's pillar progress: the cases service's `demimas.cases.case.*` events kept as each
case's last known status, opening day and latest resolution day, from which `pillarProgress` counts the cases
opened and resolved in its window for the pillar that handles them (`CASES_PILLAR`).

Which pillar: all ten pillars are KP2MI's service pillars; three serve the Aman (SAFE) EMAS pillar (procedural
migration service, prevention of non-procedural migration and trafficking, departure and return monitoring). A case
is the village's protection work when a migrant or a family is in trouble, which is what the prevention pillar's
task force does (its activities already report `TRAFFICKING_CASES_REFERRED`), so every case counts there, once,
whatever its kind; the other pillars count none.

Converging whatever the delivery order or repetition: the status comes from the event of highest rank, rank =
(version, not an `overdue` event), so an escalation that keeps the case's version ranks below the change it followed
and one that takes a new version above what came before; the opening day from `opened`; the resolution day from the
`resolved` of highest version. A case counts as resolved in a window when its latest resolution falls in it and it
has not been reopened since (status RESOLVED or CLOSED). Dates are UTC, as the window's.

Pure: the consumer (service_layer/consumers.py) reads and writes the record through the unit of work."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from demimas_common.errors import BadUserInput
from demimas_pillars.domain.vocabulary import ServicePillar

__all__ = ["CASES_PILLAR", "FINISHED", "CaseRecord", "apply_case_event", "case_id"]

CASES_PILLAR = ServicePillar.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION
"""The pillar whose progress counts the village's protection cases."""
CASE_EVENTS = frozenset({"opened", "triaged", "referred", "referral_accepted", "referral_declined",
                         "referral_completed", "resolved", "closed", "reopened", "overdue"})  # fmt: skip
STATUSES = frozenset({"OPEN", "TRIAGED", "REFERRED", "IN_PROGRESS", "RESOLVED", "CLOSED", "REOPENED"})
FINISHED = frozenset({"RESOLVED", "CLOSED"})


@dataclass(frozen=True, slots=True)
class CaseRecord:
    village_code: str
    kind: str
    status: str
    version: int
    from_overdue: bool
    """Whether status and version came from an `overdue` event (it ranks below a change of the same version)."""
    opened_on: dt.date | None = None
    resolved_on: dt.date | None = None
    resolved_version: int = 0

    @property
    def resolved(self) -> bool:
        """Resolved and not reopened since (its resolution day is `resolved_on`)."""
        return self.status in FINISHED and self.resolved_on is not None


def case_id(event_id: str, data: Mapping[str, Any]) -> uuid.UUID:
    """The case an event is about; an event without a valid one is refused."""
    try:
        return uuid.UUID(str(data["caseId"]))
    except (KeyError, ValueError) as exc:
        raise BadUserInput(f"case event {event_id} without a valid caseId", field="caseId") from exc


def apply_case_event(current: CaseRecord | None, event_type: str, at: dt.datetime,
                     data: Mapping[str, Any]) -> CaseRecord:  # fmt: skip
    """The case's record after one event (equal to `current` when the event changes nothing, e.g. a stale copy)."""
    kind = event_type.rsplit(".", 1)[-1]
    if not event_type.startswith("demimas.cases.case.") or kind not in CASE_EVENTS:
        raise BadUserInput(f"not a case event: {event_type!r}", field="type")
    try:
        version = int(data["version"])
        village, case_kind, status = str(data["villageCode"]), str(data["kind"]), str(data["status"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadUserInput(f"case event without {exc}: villageCode, kind, status and version are required") from exc
    if status not in STATUSES:
        raise BadUserInput(f"unknown case status {status!r}", field="status")
    overdue = kind == "overdue"
    record = current
    if record is None:
        record = CaseRecord(village, case_kind, status, version, overdue)
    elif (version, not overdue) > (record.version, not record.from_overdue):
        record = replace(record, village_code=village, kind=case_kind, status=status, version=version,
                         from_overdue=overdue)  # fmt: skip
    day = at.astimezone(dt.UTC).date()
    if kind == "opened" and record.opened_on is None:
        record = replace(record, opened_on=day)
    if kind == "resolved" and version > record.resolved_version:
        record = replace(record, resolved_on=day, resolved_version=version)
    return record
