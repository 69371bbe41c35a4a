"""The case-stats projection's rules: each protection case of the cases service (`demimas.cases.case.*`) kept as its
last known state, from which a village's case figures for the `SUSTAINED_PROTECTION` criterion are computed.

Every case event carries the case's base data (village, kind, status after the change, version). The projection
converges whatever the delivery order or repetition:
- the base data come from the event of highest rank, rank = (version, not an `overdue` event). The cases service's
  sweep may or may not count an escalation as a new version; ranking an escalation below a change of the same
  version makes both readings converge (a change always outranks the escalation that followed it at that version,
  and an escalation with a higher version outranks what came before it);
- the opening time comes from `opened`, the resolution (time and days) from the `resolved` of highest version;
- an `overdue` event adds an escalation (item, referral, version); an escalation is *answered* by a later event
  (higher version) that settles its item: any change after the opening settles TRIAGE; `referral_accepted`,
  `referral_declined` or `referral_completed` of the same referral settles REFERRAL_RESPONSE; `resolved` and
  `closed` settle every item (RESOLUTION included). What is kept is, per item, the highest version that answered it,
  so an answer delivered before its escalation still answers it. A case is *overdue* while one of its escalations
  is unanswered; after a reopening a new escalation (a higher version) is overdue again.

`apply_case_events` is what the consumer asks of this module: the stored states of a batch's cases and the batch's
events in stream order give the states that changed (sorted by case id, the order the store locks and writes in).
`case_figures` is what the assessment asks: a village's figures from its cases' states as of a day.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from demimas_common.errors import BadUserInput
from demimas_designation.domain.assessment import CASE_WINDOW_DAYS, CaseFigures

__all__ = [
    "CASE_EVENTS",
    "CaseEvent",
    "CaseState",
    "Escalation",
    "apply_case_event",
    "apply_case_events",
    "case_figures",
    "case_id",
]

CASE_EVENTS = frozenset({"opened", "triaged", "referred", "referral_accepted", "referral_declined",
                         "referral_completed", "resolved", "closed", "reopened", "overdue"})  # fmt: skip
STATUSES = frozenset({"OPEN", "TRIAGED", "REFERRED", "IN_PROGRESS", "RESOLVED", "CLOSED", "REOPENED"})
FINISHED = frozenset({"RESOLVED", "CLOSED"})
ITEMS = frozenset({"TRIAGE", "REFERRAL_RESPONSE", "RESOLUTION"})
EVERY_ITEM = "*"
"""The answer key of `resolved` and `closed`: they settle every item of the case."""
REFERRAL_ANSWERS = frozenset({"referral_accepted", "referral_declined", "referral_completed"})
CaseEvent = tuple[uuid.UUID, str, dt.datetime, Mapping[str, Any]]
"""(case id, event type, event time, event data)."""


@dataclass(frozen=True, slots=True, order=True)
class Escalation:
    """One `overdue` event: an item of the case passed its clock and was escalated."""

    item: str
    referral_id: str | None
    version: int
    due_at: dt.datetime
    held_by: str

    @property
    def key(self) -> str:
        """What answers it: the item, per referral for a referral's response."""
        return f"{self.item}:{self.referral_id}" if self.item == "REFERRAL_RESPONSE" else self.item


@dataclass(frozen=True, slots=True)
class CaseState:
    village_code: str
    kind: str
    status: str
    version: int
    from_overdue: bool
    """Whether the base data came from an `overdue` event (it ranks below a change of the same version)."""
    changed_at: dt.datetime
    """When the event that set the base data happened (for a finished case: when it was resolved or closed)."""
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolved_version: int = 0
    resolution_days: float | None = None
    escalations: frozenset[Escalation] = frozenset()
    answers: tuple[tuple[str, int], ...] = ()
    """Per answer key (an item, `REFERRAL_RESPONSE:<referral id>` or `*`), the highest version that answered it."""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def answered(self, escalation: Escalation) -> bool:
        answers = dict(self.answers)
        return max(answers.get(escalation.key, 0), answers.get(EVERY_ITEM, 0)) > escalation.version

    @property
    def open_escalations(self) -> list[Escalation]:
        """The escalations no later event has answered, oldest first."""
        return sorted(e for e in self.escalations if not self.answered(e))

    @property
    def overdue(self) -> bool:
        return bool(self.open_escalations)


def case_id(event_id: str, data: Mapping[str, Any]) -> uuid.UUID:
    """The case an event is about; an event without a valid one is refused."""
    try:
        return uuid.UUID(str(data["caseId"]))
    except (KeyError, ValueError) as exc:
        raise BadUserInput(f"case event {event_id} without a valid caseId", field="caseId") from exc


def _answer_keys(kind: str, data: Mapping[str, Any]) -> list[str]:
    """The items an event settles (see the module's docstring)."""
    if kind in ("opened", "overdue"):
        return []
    keys = ["TRIAGE"]
    if kind in REFERRAL_ANSWERS and data.get("referralId"):
        keys.append(f"REFERRAL_RESPONSE:{data['referralId']}")
    if kind in ("resolved", "closed"):
        keys.append(EVERY_ITEM)
    return keys


def _time(value: Any, name: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadUserInput(f"case event with an invalid {name}: {value!r}", field=name) from exc


def apply_case_event(current: CaseState | None, event_type: str, at: dt.datetime,
                     data: Mapping[str, Any]) -> CaseState:  # fmt: skip
    """The case's state after one event (equal to `current` when the event changes nothing, e.g. a stale copy)."""
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
    state = current
    if state is None:
        state = CaseState(village, case_kind, status, version, overdue, at)
    elif (version, not overdue) > (state.version, not state.from_overdue):
        state = replace(state, village_code=village, kind=case_kind, status=status, version=version,
                        from_overdue=overdue, changed_at=at)  # fmt: skip
    if kind == "opened" and state.opened_at is None:
        state = replace(state, opened_at=at)
    if kind == "resolved" and version > state.resolved_version:
        days = data.get("resolutionDays")
        state = replace(state, resolved_at=at, resolved_version=version,
                        resolution_days=float(days) if isinstance(days, int | float) else None)  # fmt: skip
    if overdue:
        item = str(data.get("item"))
        if item not in ITEMS:
            raise BadUserInput(f"unknown overdue item {item!r}", field="item")
        referral = data.get("referralId")
        escalation = Escalation(item, str(referral) if referral else None, version, _time(data.get("dueAt"), "dueAt"),
                                str(data.get("heldBy") or ""))  # fmt: skip
        if escalation not in state.escalations:
            state = replace(state, escalations=state.escalations | {escalation})
    answers = dict(state.answers)
    for key in _answer_keys(kind, data):
        answers[key] = max(answers.get(key, 0), version)
    if answers != dict(state.answers):
        state = replace(state, answers=tuple(sorted(answers.items())))
    return state


def apply_case_events(before: Mapping[uuid.UUID, CaseState],
                      events: Iterable[CaseEvent]) -> list[tuple[uuid.UUID, CaseState]]:  # fmt: skip
    """The events applied in order to the cases' stored states (`before`; a case missing there is new): the states
    that changed, by case id."""
    states: dict[uuid.UUID, CaseState] = dict(before)
    for case, event_type, at, data in events:
        states[case] = apply_case_event(states.get(case), event_type, at, data)
    return sorted(((c, s) for c, s in states.items() if s != before.get(c)), key=lambda cs: cs[0])


def case_figures(states: Iterable[CaseState], today: dt.date, window_days: int = CASE_WINDOW_DAYS) -> CaseFigures:
    """A village's case figures as of `today`, over the `window_days` ending today (dates in UTC, as the events'):
    - opened: cases opened in the window;
    - resolved: cases resolved in the window (their latest resolution) and not reopened since;
    - handled: cases the village dealt with in the window: still open, or opened, resolved or closed in it;
    - open: cases not resolved or closed; overdue: cases with an escalation no later event answered."""
    since = today - dt.timedelta(days=window_days - 1)

    def within(at: dt.datetime | None) -> bool:
        return at is not None and since <= at.astimezone(dt.UTC).date() <= today

    opened = resolved = handled = still_open = overdue = 0
    days: list[float] = []
    for s in states:
        opened += within(s.opened_at)
        was_resolved = s.finished and within(s.resolved_at)
        resolved += was_resolved
        if was_resolved and s.resolution_days is not None:
            days.append(s.resolution_days)
        still_open += not s.finished
        handled += (not s.finished) or within(s.opened_at) or within(s.changed_at)
        overdue += s.overdue
    median = statistics.median(days) if days else None
    return CaseFigures(window_days=window_days, handled=handled, opened=opened, resolved=resolved, open=still_open,
                       overdue=overdue, median_days_to_resolution=median)  # fmt: skip
