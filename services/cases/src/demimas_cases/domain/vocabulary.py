"""The words of protection cases: kinds, phases, channels, statuses, confidentiality and the overdue items."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CaseChannel",
    "CaseKind",
    "CasePhase",
    "CaseStatus",
    "Confidentiality",
    "OverdueKind",
    "PersonRole",
    "ReferralStatus",
    "Sex",
]


class CaseKind(StrEnum):
    COMPLAINT = "COMPLAINT"  # pengaduan: unpaid wages, contract breaches, agency (P3MI) misconduct
    LEGAL_AID = "LEGAL_AID"  # bantuan hukum (UU 16/2011)
    TRAFFICKING_SUSPECTED = "TRAFFICKING_SUSPECTED"  # dugaan TPPO (UU 21/2007)
    NONPROCEDURAL_DEPARTURE = "NONPROCEDURAL_DEPARTURE"  # keberangkatan nonprosedural
    ABUSE_ABROAD = "ABUSE_ABROAD"
    REPATRIATION = "REPATRIATION"  # pemulangan, deportees
    FAMILY_WELFARE = "FAMILY_WELFARE"  # the family left behind, children above all


class CasePhase(StrEnum):
    BEFORE_DEPARTURE = "BEFORE_DEPARTURE"
    ABROAD = "ABROAD"
    AFTER_RETURN = "AFTER_RETURN"


class CaseChannel(StrEnum):
    VILLAGE_TASK_FORCE = "VILLAGE_TASK_FORCE"  # satgas desa
    HOTLINE = "HOTLINE"
    WALK_IN = "WALK_IN"
    EMBASSY = "EMBASSY"  # an Indonesian mission abroad
    ONLINE = "ONLINE"


class CaseStatus(StrEnum):
    OPEN = "OPEN"
    TRIAGED = "TRIAGED"
    REFERRED = "REFERRED"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"


class Confidentiality(StrEnum):
    STANDARD = "STANDARD"
    RESTRICTED = "RESTRICTED"  # identities and description: the owner and agencies that accepted a referral only


class ReferralStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    COMPLETED = "COMPLETED"


class OverdueKind(StrEnum):
    TRIAGE = "TRIAGE"
    REFERRAL_RESPONSE = "REFERRAL_RESPONSE"
    RESOLUTION = "RESOLUTION"


class PersonRole(StrEnum):
    WORKER = "WORKER"  # a registered migrant worker
    FAMILY_MEMBER = "FAMILY_MEMBER"  # a registered family member
    UNREGISTERED = "UNREGISTERED"  # someone the registry does not know, with minimal data


class Sex(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
