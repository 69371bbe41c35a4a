"""What callers ask the designation service to do, as plain values (from GraphQL input, the CLI or the demo)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from demimas_designation.domain.assessment import Evidence

__all__ = [
    "AddEvidence",
    "ApproveProposal",
    "AssessProposal",
    "ImportDesmigratif",
    "ProposeVillage",
    "ReinstateDesignation",
    "RejectProposal",
    "RevokeDesignation",
    "SubmitProposal",
    "SuspendDesignation",
    "VerifyProposal",
    "WithdrawProposal",
]


@dataclass(frozen=True, slots=True)
class ProposeVillage:
    village_code: str
    justification: str


@dataclass(frozen=True, slots=True)
class SubmitProposal:
    proposal_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class VerifyProposal:
    proposal_id: uuid.UUID
    note: str | None = None


@dataclass(frozen=True, slots=True)
class WithdrawProposal:
    proposal_id: uuid.UUID
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RejectProposal:
    proposal_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class AddEvidence:
    proposal_id: uuid.UUID
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class AssessProposal:
    proposal_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ApproveProposal:
    proposal_id: uuid.UUID
    decree_number: str
    decree_date: dt.date
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class SuspendDesignation:
    designation_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ReinstateDesignation:
    designation_id: uuid.UUID
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RevokeDesignation:
    designation_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ImportDesmigratif:
    """A CSV of `village_code, decree_number, decree_date` (villages carried over from Desmigratif)."""

    text: str
