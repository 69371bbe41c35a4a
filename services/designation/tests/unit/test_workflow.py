"""Proposal lifecycle, evidence checks, the assessment against the criteria, and designations."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from demimas_common.errors import BadUserInput, Conflict
from demimas_designation.domain.assessment import Evidence, VillageCounts, assess, check_evidence
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Proposal, check_decree
from demimas_designation.domain.vocabulary import (
    Criterion,
    CriterionStatus,
    DesignationStatus,
    EvidenceKind,
    Programme,
    ProposalStatus,
)

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
DIGEST = "a" * 64
WHY = "17 residents work in Malaysia as production operators, mostly SMA/SMK graduates"


def proposal() -> Proposal:
    return Proposal.draft(uuid.uuid4(), "16.06.13.2001", WHY, "16.06", agency="DISNAKER", sub="d1", at=NOW)


def full_evidence() -> list[Evidence]:
    def ev(kind: EvidenceKind, **kw: object) -> Evidence:
        values: dict[str, object] = {
            "title": kind.value.lower(),
            "document_date": dt.date(2026, 6, 1),
            "sha256": DIGEST,
        }
        values.update(kw)
        return Evidence(uuid.uuid4(), kind, **values)  # type: ignore[arg-type]

    return [
        ev(EvidenceKind.TASK_FORCE_DECREE, number="141/2026", term_end=dt.date(2029, 6, 1)),
        ev(EvidenceKind.VILLAGE_REGULATION, number="Perdes 3/2026"),
        ev(EvidenceKind.SERVICE_INFRASTRUCTURE),
        ev(EvidenceKind.EMPOWERMENT_PROGRAMME),
        ev(EvidenceKind.RETURNEE_BUSINESS_GROUP),
        ev(EvidenceKind.FIELD_VISIT, note="met the satgas"),
    ]


def test_the_happy_path_keeps_every_transition() -> None:
    p = proposal()
    p.submit(agency="DISNAKER", sub="d1", at=NOW)
    p.verify(agency="BP3MI", sub="b1", at=NOW, note="checked with the village head")
    p.mark_assessed(agency="BP3MI", sub="b1", at=NOW)
    p.approve(check_decree("SK 12/2026", TODAY, TODAY), eligible=True, override_reason=None, agency="KP2MI", sub="k",
              at=NOW)  # fmt: skip
    assert p.status is ProposalStatus.APPROVED
    assert [t.status for t in p.history] == list(ProposalStatus)[:5]
    assert [t.agency for t in p.history] == ["DISNAKER", "DISNAKER", "BP3MI", "BP3MI", "KP2MI"]
    assert p.decree is not None
    assert p.eligibility_override is None
    assert not p.status.open


@pytest.mark.parametrize(
    "steps",
    [
        ["verify"],  # a draft cannot be verified
        ["submit", "assess"],  # not verified yet
        ["submit", "verify", "approve"],  # not assessed yet
        ["submit", "withdraw", "submit"],  # closed
    ],
)
def test_illegal_transitions_are_conflicts(steps: list[str]) -> None:
    p = proposal()
    actions = {
        "submit": lambda: p.submit(agency="DISNAKER", sub="d1", at=NOW),
        "verify": lambda: p.verify(agency="BP3MI", sub="b1", at=NOW),
        "assess": lambda: p.mark_assessed(agency="BP3MI", sub="b1", at=NOW),
        "withdraw": lambda: p.withdraw(None, agency="DISNAKER", sub="d1", at=NOW),
        "approve": lambda: p.approve(
            check_decree("SK 1", TODAY, TODAY), eligible=True, override_reason=None, agency="KP2MI", sub="k", at=NOW
        ),
    }
    for step in steps[:-1]:
        actions[step]()
    before = (p.status, len(p.history))
    with pytest.raises(Conflict) as failure:
        actions[steps[-1]]()
    assert failure.value.extensions["reason"] == "illegal_transition"
    assert (p.status, len(p.history)) == before  # nothing half-done


def test_rejection_needs_a_reason_and_approval_of_an_ineligible_village_an_override() -> None:
    p = proposal()
    p.submit(agency="DISNAKER", sub="d1", at=NOW)
    with pytest.raises(BadUserInput) as failure:
        p.reject("  ", agency="KP2MI", sub="k", at=NOW)
    assert failure.value.field == "reason"
    p.verify(agency="BP3MI", sub="b1", at=NOW)
    p.mark_assessed(agency="BP3MI", sub="b1", at=NOW)
    decree = check_decree("SK 12/2026", TODAY, TODAY)
    with pytest.raises(BadUserInput) as failure:
        p.approve(decree, eligible=False, override_reason=None, agency="KP2MI", sub="k", at=NOW)
    assert failure.value.field == "overrideReason"
    p.approve(decree, eligible=False, override_reason="Perdes signed, filing pending", agency="KP2MI", sub="k", at=NOW)
    assert p.eligibility_override == "Perdes signed, filing pending"


@pytest.mark.parametrize(
    ("number", "date", "field"),
    [("", TODAY, "decreeNumber"), ("SK 1", TODAY + dt.timedelta(days=1), "decreeDate")],
)
def test_decrees_are_checked(number: str, date: dt.date, field: str) -> None:
    with pytest.raises(BadUserInput) as failure:
        check_decree(number, date, TODAY)
    assert failure.value.field == field


def test_a_short_justification_is_refused() -> None:
    with pytest.raises(BadUserInput):
        Proposal.draft(uuid.uuid4(), "16.06.13.2001", "because", "16.06", agency="DISNAKER", sub="d1", at=NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sha256": "ABC"}, "sha256"),
        ({"document_date": TODAY + dt.timedelta(days=3)}, "documentDate"),
        ({"number": None}, "number"),
        ({"term_end": None}, "termEnd"),
        ({"term_end": dt.date(2029, 6, 2)}, "termEnd"),  # more than 3 years
        ({"term_end": dt.date(2026, 5, 1)}, "termEnd"),  # before the decree
    ],
)
def test_evidence_is_checked(changes: dict[str, object], field: str) -> None:
    decree = full_evidence()[0]
    bad = Evidence(**{**{k: getattr(decree, k) for k in decree.__slots__}, **changes})  # type: ignore[arg-type]
    with pytest.raises(BadUserInput) as failure:
        check_evidence(bad, TODAY)
    assert failure.value.field == field
    assert check_evidence(decree, TODAY) is decree


def test_assessment_of_the_seed_village() -> None:
    counts = VillageCounts(total=17, departed=17, procedural=15)
    result = assess(counts, full_evidence(), threshold=0.8, today=TODAY)
    assert result.eligible
    assert result.result(Criterion.HAS_PMI_RESIDENTS).value == "17"
    share = result.result(Criterion.PROCEDURAL_SHARE)
    assert (share.status, share.value) == (CriterionStatus.MET, "0.8824")
    assert [r.criterion for r in result.results] == list(Criterion)


def test_assessment_without_evidence_or_departures() -> None:
    result = assess(VillageCounts(total=3, departed=0, procedural=0), [], threshold=0.8, today=TODAY)
    assert not result.eligible
    statuses = {r.criterion: r.status for r in result.results}
    assert statuses[Criterion.HAS_PMI_RESIDENTS] is CriterionStatus.MET
    assert statuses[Criterion.PROCEDURAL_SHARE] is CriterionStatus.UNKNOWN
    assert statuses[Criterion.VILLAGE_REGULATION] is CriterionStatus.UNKNOWN
    low = assess(VillageCounts(total=10, departed=10, procedural=5), full_evidence(), threshold=0.8, today=TODAY)
    assert low.result(Criterion.PROCEDURAL_SHARE).status is CriterionStatus.NOT_MET
    later = dt.date(2029, 7, 1)  # the task force's term has ended, the field visit is old
    old = assess(VillageCounts(total=10, departed=10, procedural=9), full_evidence(), threshold=0.8, today=later)
    assert old.result(Criterion.TASK_FORCE).status is CriterionStatus.NOT_MET
    assert old.result(Criterion.SUSTAINED_PROTECTION).status is CriterionStatus.NOT_MET


def test_designation_lifecycle() -> None:
    d = Designation(uuid.uuid4(), "16.06.13.2001", check_decree("SK 12/2026", TODAY, TODAY), Programme.DEMIMAS)
    with pytest.raises(BadUserInput):
        d.suspend("", agency="KP2MI", sub="k", at=NOW)
    d.suspend("satgas dissolved", agency="KP2MI", sub="k", at=NOW)
    d.reinstate(None, agency="KP2MI", sub="k", at=NOW)
    d.revoke("village merged", agency="KP2MI", sub="k", at=NOW)
    assert d.status is DesignationStatus.REVOKED
    with pytest.raises(Conflict):
        d.reinstate(None, agency="KP2MI", sub="k", at=NOW)
    assert [t.status for t in d.history] == [DesignationStatus.SUSPENDED, DesignationStatus.ACTIVE,
                                             DesignationStatus.REVOKED]  # fmt: skip
