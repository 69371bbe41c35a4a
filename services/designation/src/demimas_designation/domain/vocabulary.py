"""The designation workflow's words (docs/designation.md)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Criterion",
    "CriterionStatus",
    "DesignationStatus",
    "EvidenceKind",
    "EvidenceSource",
    "Programme",
    "ProposalStatus",
]


class ProposalStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    VERIFIED = "VERIFIED"
    ASSESSED = "ASSESSED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"

    @property
    def open(self) -> bool:
        """Still on its way to a decision (one open proposal per village)."""
        return self not in (ProposalStatus.APPROVED, ProposalStatus.REJECTED, ProposalStatus.WITHDRAWN)


class DesignationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


class Programme(StrEnum):
    DEMIMAS = "DEMIMAS"
    DESMIGRATIF = "DESMIGRATIF"
    """Villages carried over from the former Desa Migran Produktif programme (2017-2024)."""


class Criterion(StrEnum):
    """The six criteria of KP2MI and the two minimum conditions at hand-over."""

    TASK_FORCE = "TASK_FORCE"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    EMPOWERMENT_PROGRAMMES = "EMPOWERMENT_PROGRAMMES"
    PROCEDURAL_SHARE = "PROCEDURAL_SHARE"
    RETURNEE_BUSINESS_GROUP = "RETURNEE_BUSINESS_GROUP"
    SUSTAINED_PROTECTION = "SUSTAINED_PROTECTION"
    HAS_PMI_RESIDENTS = "HAS_PMI_RESIDENTS"
    VILLAGE_REGULATION = "VILLAGE_REGULATION"


class CriterionStatus(StrEnum):
    MET = "MET"
    NOT_MET = "NOT_MET"
    UNKNOWN = "UNKNOWN"


class EvidenceSource(StrEnum):
    REGISTRY_DATA = "REGISTRY_DATA"
    DOCUMENT = "DOCUMENT"
    FIELD_VISIT = "FIELD_VISIT"


class EvidenceKind(StrEnum):
    TASK_FORCE_DECREE = "TASK_FORCE_DECREE"
    """SK kepala desa forming the village PMI-protection task force (satgas): number, date, term end."""
    VILLAGE_REGULATION = "VILLAGE_REGULATION"
    """Peraturan desa (Perdes) on PMI protection: number and date."""
    SERVICE_INFRASTRUCTURE = "SERVICE_INFRASTRUCTURE"
    EMPOWERMENT_PROGRAMME = "EMPOWERMENT_PROGRAMME"
    RETURNEE_BUSINESS_GROUP = "RETURNEE_BUSINESS_GROUP"
    FIELD_VISIT = "FIELD_VISIT"
