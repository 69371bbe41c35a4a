"""The case-stats projection's rules converge on each case's true state whatever the order and repetition of delivery
(escalations with or without a version of their own); a village's figures count what the docs say; the
SUSTAINED_PROTECTION criterion cites them and is not met while a case is overdue."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest

from demimas_common.errors import BadUserInput
from demimas_common.events.case_samples import CaseTruth, Step, case_history, cloud_events
from demimas_common.events.schemas import validate_event
from demimas_designation.domain.assessment import CaseFigures, Evidence, VillageCounts, assess
from demimas_designation.domain.case_stats import CaseState, apply_case_event, apply_case_events, case_figures
from demimas_designation.domain.vocabulary import Criterion, CriterionStatus, EvidenceKind
from demimas_designation.service_layer.case_stats import apply_event, apply_events
from demimas_designation.service_layer.proposals import WorkflowSettings, assessment_of

from .fakes import FakeDesignationUoW

CODE = "16.06.13.2001"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def replay(delivered: list[Step]) -> dict[str, CaseState]:
    states: dict[str, CaseState] = {}
    for kind, data, at in delivered:
        case = data["caseId"]
        states[case] = apply_case_event(states.get(case), kind, at, data)
    return states


def histories(seed: int, n: int, *, bump: bool, start: dt.datetime = NOW - dt.timedelta(days=200)) -> list[Any]:
    rng = random.Random(seed)
    return [case_history(rng, CODE, start + dt.timedelta(days=i), bump=bump) for i in range(n)]


def assert_true(state: CaseState | None, truth: CaseTruth) -> None:
    assert state is not None
    got = (state.status, state.version, state.opened_at, state.finished, state.overdue)
    assert got == (truth.status, truth.version, truth.opened_at, truth.finished, truth.overdue), truth.case_id
    if truth.resolved_at is not None:
        assert (state.resolved_at, state.resolution_days) == (truth.resolved_at, truth.resolution_days)


def test_the_generated_events_follow_the_contract() -> None:
    for bump in (False, True):
        for steps, _ in histories(3, 30, bump=bump):
            for event in cloud_events(steps):
                validate_event(event)


@pytest.mark.parametrize("bump", [False, True], ids=["escalation-keeps-version", "escalation-bumps-version"])
@pytest.mark.parametrize("seed", range(25))
def test_random_orders_and_duplicates_converge_on_each_cases_truth(seed: int, bump: bool) -> None:
    rng = random.Random(1000 + seed)
    cases = histories(seed, 25, bump=bump)
    delivered = [step for steps, _ in cases for step in steps]
    delivered += rng.sample(delivered, len(delivered) // 3)  # redeliveries
    rng.shuffle(delivered)
    states = replay(delivered)
    in_order = replay([step for steps, _ in cases for step in steps])
    for _, truth in cases:
        assert_true(states.get(truth.case_id), truth)
        assert states[truth.case_id] == in_order[truth.case_id]  # the very same state, not just the same answers
    assert case_figures(states.values(), TODAY) == case_figures(in_order.values(), TODAY)


def test_an_escalation_is_answered_by_a_later_step_even_when_the_answer_arrives_first() -> None:
    case = str(uuid.uuid4())
    base = {"caseId": case, "villageCode": CODE, "kind": "COMPLAINT", "phase": "ABROAD", "ownerAgency": "BP3MI",
            "confidentiality": "STANDARD"}  # fmt: skip
    referral = str(uuid.uuid4())
    overdue = {**base, "status": "REFERRED", "version": 3, "item": "REFERRAL_RESPONSE", "referralId": referral,
               "dueAt": NOW.isoformat(), "heldBy": "KEMENPPPA", "escalatedTo": "KP2MI"}  # fmt: skip
    accepted = {**base, "status": "IN_PROGRESS", "version": 4, "referralId": referral, "toAgency": "KEMENPPPA",
                "legalAidOrganisationId": None}  # fmt: skip
    other = {**accepted, "referralId": str(uuid.uuid4())}
    escalated = apply_case_event(None, "demimas.cases.case.overdue", NOW, overdue)
    assert escalated.overdue
    assert [e.held_by for e in escalated.open_escalations] == ["KEMENPPPA"]
    assert apply_case_event(escalated, "demimas.cases.case.referral_accepted", NOW, other).overdue  # not this one
    answered_first = apply_case_event(None, "demimas.cases.case.referral_accepted", NOW, accepted)
    both = apply_case_event(answered_first, "demimas.cases.case.overdue", NOW, overdue)
    assert not both.overdue
    assert both == apply_case_event(escalated, "demimas.cases.case.referral_accepted", NOW, accepted)
    assert (both.status, both.version) == ("IN_PROGRESS", 4)


def test_a_reopened_case_is_no_longer_resolved_and_a_new_escalation_counts_again() -> None:
    case = str(uuid.uuid4())
    base = {"caseId": case, "villageCode": CODE, "kind": "COMPLAINT", "phase": "ABROAD", "ownerAgency": "BP3MI",
            "confidentiality": "STANDARD"}  # fmt: skip
    day = dt.timedelta(days=1)
    steps: list[Step] = [
        ("demimas.cases.case.opened", {**base, "status": "OPEN", "version": 1}, NOW - 40 * day),
        ("demimas.cases.case.resolved", {**base, "status": "RESOLVED", "version": 2, "resolutionDays": 10},
         NOW - 30 * day),
        ("demimas.cases.case.reopened", {**base, "status": "REOPENED", "version": 3}, NOW - 20 * day),
        ("demimas.cases.case.overdue", {**base, "status": "REOPENED", "version": 3, "item": "RESOLUTION",
         "referralId": None, "dueAt": (NOW - 2 * day).isoformat(), "heldBy": "BP3MI"}, NOW - day),
    ]  # fmt: skip
    state = replay(steps)[case]
    assert (state.status, state.overdue, state.resolved_at) == ("REOPENED", True, NOW - 30 * day)
    figures = case_figures([state], TODAY)
    assert (figures.opened, figures.resolved, figures.open, figures.overdue, figures.handled) == (1, 0, 1, 1, 1)
    again = ("demimas.cases.case.resolved", {**base, "status": "RESOLVED", "version": 4, "resolutionDays": 39}, NOW)
    state = replay([*steps, again])[case]
    assert (state.overdue, state.resolved_at, state.resolution_days) == (False, NOW, 39.0)
    assert case_figures([state], TODAY) == CaseFigures(365, handled=1, opened=1, resolved=1, open=0, overdue=0,
                                                       median_days_to_resolution=39.0)  # fmt: skip


def test_figures_count_the_window_ending_today() -> None:
    long_ago = NOW - dt.timedelta(days=400)

    def state(status: str, opened: dt.datetime, changed: dt.datetime, resolved: dt.datetime | None) -> CaseState:
        return CaseState(CODE, "COMPLAINT", status, 3, False, changed, opened, resolved, 2 if resolved else 0, 5.0)

    states = [
        state("RESOLVED", long_ago, long_ago, long_ago),  # finished before the window: not counted at all
        state("TRIAGED", long_ago, long_ago, None),  # opened before the window, still open: handled
        state("CLOSED", long_ago, NOW, long_ago),  # resolved long ago, closed now: handled, not resolved in it
        state("RESOLVED", NOW - dt.timedelta(days=364), NOW, NOW),  # opened on the window's first day
    ]
    assert case_figures(states, TODAY) == CaseFigures(365, handled=3, opened=1, resolved=1, open=1, overdue=0,
                                                      median_days_to_resolution=5.0)  # fmt: skip
    assert case_figures([], TODAY) == CaseFigures.none()


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("demimas.cases.personal_data.accessed", {"caseId": str(uuid.uuid4())}),
        ("demimas.cases.case.archived", {"villageCode": CODE, "kind": "COMPLAINT", "status": "OPEN", "version": 1}),
        ("demimas.cases.case.triaged", {"kind": "COMPLAINT", "status": "TRIAGED", "version": 2}),
        ("demimas.cases.case.triaged", {"villageCode": CODE, "kind": "COMPLAINT", "status": "LOST", "version": 2}),
        ("demimas.cases.case.overdue", {"villageCode": CODE, "kind": "COMPLAINT", "status": "OPEN", "version": 1,
                                        "item": "LUNCH", "dueAt": NOW.isoformat(), "heldBy": "BP3MI"}),
    ],
)  # fmt: skip
def test_malformed_events_are_refused(kind: str, data: dict[str, Any]) -> None:
    with pytest.raises(BadUserInput):
        apply_case_event(None, kind, NOW, data)


# --- the criterion


def visit(days_ago: int) -> Evidence:
    return Evidence(uuid.uuid4(), EvidenceKind.FIELD_VISIT, "visit", TODAY - dt.timedelta(days=days_ago), "a" * 64,
                    note="met the satgas")  # fmt: skip


@pytest.mark.parametrize(
    ("visits", "overdue", "status"),
    [
        ([], 0, CriterionStatus.UNKNOWN),
        ([visit(400)], 0, CriterionStatus.NOT_MET),
        ([visit(30)], 0, CriterionStatus.MET),
        ([visit(30)], 2, CriterionStatus.NOT_MET),
        ([visit(400)], 2, CriterionStatus.NOT_MET),
        ([], 2, CriterionStatus.UNKNOWN),
    ],
)
def test_sustained_protection_needs_a_recent_visit_and_no_overdue_case(
    visits: list[Evidence], overdue: int, status: CriterionStatus
) -> None:
    cases = CaseFigures(365, handled=5, opened=4, resolved=3, open=2, overdue=overdue)
    result = assess(VillageCounts(10, 10, 9), visits, threshold=0.8, today=TODAY, cases=cases)
    sustained = result.result(Criterion.SUSTAINED_PROTECTION)
    assert (sustained.status, sustained.cases) == (status, cases)
    if visits:
        assert sustained.value == visits[0].document_date.isoformat()
    if overdue and status is CriterionStatus.NOT_MET and visits[0].document_date > TODAY - dt.timedelta(days=365):
        assert sustained.note is not None
        assert "overdue" in sustained.note


def test_a_village_without_cases_is_not_penalised() -> None:
    without = assess(None, [visit(30)], threshold=0.8, today=TODAY)
    sustained = without.result(Criterion.SUSTAINED_PROTECTION)
    assert (sustained.status, sustained.cases, sustained.note) == (CriterionStatus.MET, CaseFigures.none(),
                                                                  "met the satgas")  # fmt: skip


# --- the consumer and the assessment through the service layer


async def test_the_consumer_keeps_the_cases_and_the_assessment_cites_them() -> None:
    uow = FakeDesignationUoW()
    cases = histories(5, 12, bump=False)
    events = [e for steps, _ in cases for e in cloud_events(steps)]
    async with uow:
        await apply_events(events[: len(events) // 2], uow)
        for event in events[len(events) // 2 :]:
            await apply_event(event, uow)
        await apply_event(events[0], uow)  # a late copy changes nothing
        await uow.commit()
    assert uow.pending_events == []  # the projection publishes nothing
    assert sorted(map(str, uow.case_stats.rows)) == sorted(t.case_id for _, t in cases)
    for _, truth in cases:
        assert_true(uow.case_stats.rows[uuid.UUID(truth.case_id)], truth)
    async with uow:
        result = await assessment_of(uow, CODE, WorkflowSettings(clock=lambda: NOW), TODAY)
    cited = result.result(Criterion.SUSTAINED_PROTECTION).cases
    assert cited is not None
    assert cited.overdue == sum(t.overdue for _, t in cases)
    assert cited.open == sum(not t.finished for _, t in cases)
    assert cited == case_figures(uow.case_stats.rows.values(), TODAY)
    assert apply_case_events(dict(uow.case_stats.rows), []) == []
