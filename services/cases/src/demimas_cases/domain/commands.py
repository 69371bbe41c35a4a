"""What callers ask the cases service to do, as plain values (from GraphQL input, the demo loader or a test).
Every change of a case names the version the caller saw (optimistic concurrency: a stale one is a CONFLICT)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from demimas_cases.domain.case import Case
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_cases.domain.vocabulary import CaseKind, CasePhase, Confidentiality

__all__ = [
    "AddNote",
    "AnswerReferral",
    "ChangeCase",
    "OpenCase",
    "RecordCaseAccess",
    "RecordReferralOutcome",
    "ReferCase",
    "RegisterLegalAid",
    "TriageCase",
]


@dataclass(frozen=True, slots=True)
class OpenCase:
    case: Case
    confidentiality_given: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class TriageCase:
    case_id: uuid.UUID
    version: int
    owner: str | None = None
    kind: CaseKind | None = None
    phase: CasePhase | None = None
    confidentiality: Confidentiality | None = None


@dataclass(frozen=True, slots=True)
class ReferCase:
    case_id: uuid.UUID
    version: int
    referral_id: uuid.UUID
    reason: str
    to_agency: str | None = None
    legal_aid_organisation_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AnswerReferral:
    referral_id: uuid.UUID
    version: int
    accept: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RecordReferralOutcome:
    referral_id: uuid.UUID
    version: int
    outcome: str


@dataclass(frozen=True, slots=True)
class AddNote:
    case_id: uuid.UUID
    version: int
    note_id: uuid.UUID
    text: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeCase:
    """resolveCase (with `text`: the resolution), closeCase, reopenCase (with `text`: why, kept as a note)."""

    case_id: uuid.UUID
    version: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterLegalAid:
    organisation: LegalAidOrganisation


@dataclass(frozen=True, slots=True)
class RecordCaseAccess:
    case_ids: tuple[str, ...]
    fields: tuple[str, ...]
    worker_ids: tuple[str, ...] = ()
    family_member_ids: tuple[str, ...] = ()
    operation: str | None = None
