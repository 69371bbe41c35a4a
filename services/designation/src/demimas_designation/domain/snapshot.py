"""The assessment that justified a decision, frozen when KP2MI approves or rejects a proposal (issue 20).

The live assessment (`Village.criteriaAssessment`) moves with the registry's numbers, the protection cases and new
evidence; a decision must stay explainable as it was taken. So the assessment made at the decision is kept with the
proposal: every criterion's status, value, source and note (with the protection-case figures it cited), the
procedural threshold in force, and the evidence it read (each document's kind, title, number, dates and SHA-256), as
they were. Stored as JSON (`to_json`/`from_json`), read whole."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from demimas_designation.domain.assessment import CaseFigures, CriteriaAssessment, CriterionResult, Evidence
from demimas_designation.domain.vocabulary import (
    Criterion,
    CriterionStatus,
    EvidenceKind,
    EvidenceSource,
    ProposalStatus,
)

__all__ = ["DecisionAssessment"]


@dataclass(frozen=True, slots=True)
class DecisionAssessment:
    proposal_id: uuid.UUID
    decision: ProposalStatus
    """APPROVED or REJECTED."""
    assessed_at: dt.datetime
    procedural_threshold: float
    assessment: CriteriaAssessment
    evidence: tuple[Evidence, ...]

    @property
    def eligible(self) -> bool:
        return self.assessment.eligible

    def results_json(self) -> list[dict[str, Any]]:
        return [_result_json(r) for r in self.assessment.results]

    def evidence_json(self) -> list[dict[str, Any]]:
        return [_evidence_json(e) for e in self.evidence]

    @classmethod
    def from_json(
        cls,
        proposal_id: uuid.UUID,
        decision: str,
        assessed_at: dt.datetime,
        procedural_threshold: float,
        results: list[dict[str, Any]],
        evidence: list[dict[str, Any]],
    ) -> DecisionAssessment:
        return cls(
            proposal_id=proposal_id,
            decision=ProposalStatus(decision),
            assessed_at=assessed_at,
            procedural_threshold=procedural_threshold,
            assessment=CriteriaAssessment(tuple(_result(r) for r in results)),
            evidence=tuple(_evidence(e) for e in evidence),
        )


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _result_json(r: CriterionResult) -> dict[str, Any]:
    cases = r.cases
    return {
        "criterion": r.criterion.value,
        "status": r.status.value,
        "source": r.source.value,
        "value": r.value,
        "note": r.note,
        "cases": None
        if cases is None
        else {
            "window_days": cases.window_days,
            "handled": cases.handled,
            "opened": cases.opened,
            "resolved": cases.resolved,
            "open": cases.open,
            "overdue": cases.overdue,
            "median_days_to_resolution": cases.median_days_to_resolution,
        },
    }


def _result(raw: dict[str, Any]) -> CriterionResult:
    cases = raw.get("cases")
    return CriterionResult(
        criterion=Criterion(raw["criterion"]),
        status=CriterionStatus(raw["status"]),
        source=EvidenceSource(raw["source"]),
        value=raw.get("value"),
        note=raw.get("note"),
        cases=None if cases is None else CaseFigures(**cases),
    )


def _evidence_json(e: Evidence) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "kind": e.kind.value,
        "title": e.title,
        "document_date": e.document_date.isoformat(),
        "sha256": e.sha256,
        "number": e.number,
        "term_end": _date(e.term_end),
        "note": e.note,
    }


def _evidence(raw: dict[str, Any]) -> Evidence:
    return Evidence(
        id=uuid.UUID(raw["id"]),
        kind=EvidenceKind(raw["kind"]),
        title=raw["title"],
        document_date=dt.date.fromisoformat(raw["document_date"]),
        sha256=raw["sha256"],
        number=raw.get("number"),
        term_end=dt.date.fromisoformat(raw["term_end"]) if raw.get("term_end") else None,
        note=raw.get("note"),
    )
