"""Evidence for the criteria, and the assessment of a village against the six criteria and the two minimum
conditions (docs/designation.md). "Has PMI residents" and "high share of procedural PMI" come from registry data (the
village-stats projection); "sustained protection" from field visits and the village's protection cases (the
case-stats projection); the others from documents. A village is eligible when every one is MET.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from demimas_common.errors import BadUserInput
from demimas_designation.domain.vocabulary import Criterion, CriterionStatus, EvidenceKind, EvidenceSource

__all__ = [
    "CASE_WINDOW_DAYS",
    "CaseFigures",
    "CriteriaAssessment",
    "CriterionResult",
    "Evidence",
    "VillageCounts",
    "assess",
    "check_evidence",
]

SHA256 = re.compile(r"^[0-9a-f]{64}$")
TASK_FORCE_MAX_TERM_YEARS = 3  # a satgas decree of the village head runs 3 years at most
FIELD_VISIT_VALID_DAYS = 365  # "sustained protection activity": a field visit in the last year
CASE_WINDOW_DAYS = 365  # the protection cases the assessment cites: those the village handled in the last year

DOCUMENT_CRITERIA = {
    Criterion.INFRASTRUCTURE: EvidenceKind.SERVICE_INFRASTRUCTURE,
    Criterion.EMPOWERMENT_PROGRAMMES: EvidenceKind.EMPOWERMENT_PROGRAMME,
    Criterion.RETURNEE_BUSINESS_GROUP: EvidenceKind.RETURNEE_BUSINESS_GROUP,
    Criterion.VILLAGE_REGULATION: EvidenceKind.VILLAGE_REGULATION,
}


@dataclass(frozen=True, slots=True)
class Evidence:
    id: uuid.UUID
    kind: EvidenceKind
    title: str
    document_date: dt.date
    sha256: str
    number: str | None = None
    term_end: dt.date | None = None
    note: str | None = None


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check_evidence(evidence: Evidence, today: dt.date) -> Evidence:
    """The evidence as recorded, or BadUserInput naming the field that is wrong."""
    if not evidence.title.strip() or len(evidence.title) > 300:
        raise BadUserInput("the title is required (300 characters at most)", field="title")
    if not SHA256.match(evidence.sha256):
        raise BadUserInput("sha256 must be the document's SHA-256 digest: 64 lowercase hexadecimal digits",
                           field="sha256")  # fmt: skip
    if evidence.document_date > today:
        raise BadUserInput(f"the document date {evidence.document_date.isoformat()} is in the future",
                           field="documentDate")  # fmt: skip
    numbered = evidence.kind in (EvidenceKind.TASK_FORCE_DECREE, EvidenceKind.VILLAGE_REGULATION)
    if numbered and not (evidence.number or "").strip():
        raise BadUserInput("a decree or regulation needs its number", field="number")
    if evidence.kind is EvidenceKind.TASK_FORCE_DECREE:
        if evidence.term_end is None:
            raise BadUserInput("the task-force decree needs the end of its term", field="termEnd")
        if evidence.term_end <= evidence.document_date:
            raise BadUserInput("the task force's term must end after the decree's date", field="termEnd")
        limit = _years_after(evidence.document_date, TASK_FORCE_MAX_TERM_YEARS)
        if evidence.term_end > limit:
            raise BadUserInput(f"a task force's term is {TASK_FORCE_MAX_TERM_YEARS} years at most: it must end by "
                               f"{limit.isoformat()}", field="termEnd")  # fmt: skip
    elif evidence.term_end is not None:
        raise BadUserInput("only a task-force decree has a term end", field="termEnd")
    return evidence


@dataclass(frozen=True, slots=True)
class VillageCounts:
    """From the village-stats projection: workers registered, departed at least once, of those procedurally."""

    total: int
    departed: int
    procedural: int


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """From the case-stats projection: the village's protection cases over the window ending on the assessment's
    day (`domain.case_stats.case_figures` says how each is counted)."""

    window_days: int
    handled: int
    opened: int
    resolved: int
    open: int
    overdue: int
    """Cases with an item past its clock, escalated to KP2MI, that no later step has settled."""
    median_days_to_resolution: float | None = None

    @staticmethod
    def none(window_days: int = CASE_WINDOW_DAYS) -> CaseFigures:
        """A village without protection cases."""
        return CaseFigures(window_days, handled=0, opened=0, resolved=0, open=0, overdue=0)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    criterion: Criterion
    status: CriterionStatus
    source: EvidenceSource
    value: str | None = None
    note: str | None = None
    cases: CaseFigures | None = None
    """The protection-case figures the result cites (`SUSTAINED_PROTECTION` only)."""


@dataclass(frozen=True, slots=True)
class CriteriaAssessment:
    results: tuple[CriterionResult, ...]

    @property
    def eligible(self) -> bool:
        return all(r.status is CriterionStatus.MET for r in self.results)

    def result(self, criterion: Criterion) -> CriterionResult:
        return next(r for r in self.results if r.criterion is criterion)


def assess(
    counts: VillageCounts | None,
    evidence: Iterable[Evidence],
    *,
    threshold: float,
    today: dt.date,
    cases: CaseFigures | None = None,
) -> CriteriaAssessment:
    """The village against every criterion; `cases` are its protection-case figures (None: no case is known, which
    does not count against it)."""
    items = list(evidence)
    results = [_residents(counts), _procedural(counts, threshold), _task_force(items, today)]
    for criterion, kind in DOCUMENT_CRITERIA.items():
        found = [e for e in items if e.kind is kind]
        if found:
            latest = max(found, key=lambda e: e.document_date)
            value = latest.number or latest.title
            results.append(CriterionResult(criterion, CriterionStatus.MET, EvidenceSource.DOCUMENT, value))
        else:
            results.append(CriterionResult(criterion, CriterionStatus.UNKNOWN, EvidenceSource.DOCUMENT, None,
                                           f"no {kind.value} evidence recorded"))  # fmt: skip
    results.append(_sustained(items, today, cases or CaseFigures.none()))
    order = list(Criterion)
    return CriteriaAssessment(tuple(sorted(results, key=lambda r: order.index(r.criterion))))


def _residents(counts: VillageCounts | None) -> CriterionResult:
    c, src = Criterion.HAS_PMI_RESIDENTS, EvidenceSource.REGISTRY_DATA
    if counts is None:
        return CriterionResult(c, CriterionStatus.UNKNOWN, src, None, "no registry data for the village yet")
    status = CriterionStatus.MET if counts.total > 0 else CriterionStatus.NOT_MET
    return CriterionResult(c, status, src, str(counts.total), "workers registered in the village")


def _procedural(counts: VillageCounts | None, threshold: float) -> CriterionResult:
    c, src = Criterion.PROCEDURAL_SHARE, EvidenceSource.REGISTRY_DATA
    if counts is None or counts.departed == 0:
        return CriterionResult(c, CriterionStatus.UNKNOWN, src, None, "nobody from the village has departed yet")
    share = counts.procedural / counts.departed
    status = CriterionStatus.MET if share >= threshold else CriterionStatus.NOT_MET
    note = f"{counts.procedural} of {counts.departed} departed procedurally; threshold {threshold:.2f}"
    return CriterionResult(c, status, src, f"{share:.4f}", note)


def _task_force(items: list[Evidence], today: dt.date) -> CriterionResult:
    c, src = Criterion.TASK_FORCE, EvidenceSource.DOCUMENT
    decrees = [e for e in items if e.kind is EvidenceKind.TASK_FORCE_DECREE]
    if not decrees:
        return CriterionResult(c, CriterionStatus.UNKNOWN, src, None, "no task-force decree recorded")
    latest = max(decrees, key=lambda e: e.document_date)
    if latest.term_end is not None and latest.term_end < today:
        return CriterionResult(c, CriterionStatus.NOT_MET, src, latest.number,
                               f"the task force's term ended on {latest.term_end.isoformat()}")  # fmt: skip
    return CriterionResult(c, CriterionStatus.MET, src, latest.number)


def _sustained(items: list[Evidence], today: dt.date, cases: CaseFigures) -> CriterionResult:
    """MET when the latest field visit is at most 365 days old AND no protection case of the village is overdue
    (an item past its clock, escalated, not settled since); a village without cases is not penalised. Without a
    field visit UNKNOWN, with an old one NOT_MET, whatever the cases. The value stays the visit's date; the case
    figures ride along in `cases` (the note says when they decided)."""
    c, src = Criterion.SUSTAINED_PROTECTION, EvidenceSource.FIELD_VISIT
    visits = [e for e in items if e.kind is EvidenceKind.FIELD_VISIT]
    if not visits:
        return CriterionResult(c, CriterionStatus.UNKNOWN, src, None, "no field visit recorded", cases)
    latest = max(visits, key=lambda e: e.document_date)
    value = latest.document_date.isoformat()
    if (today - latest.document_date).days > FIELD_VISIT_VALID_DAYS:
        return CriterionResult(c, CriterionStatus.NOT_MET, src, value, latest.note, cases)
    if cases.overdue:
        note = "protection cases of the village are overdue beyond their service clock (escalated to KP2MI)"
        return CriterionResult(c, CriterionStatus.NOT_MET, src, value, note, cases)
    return CriterionResult(c, CriterionStatus.MET, src, value, latest.note, cases)
