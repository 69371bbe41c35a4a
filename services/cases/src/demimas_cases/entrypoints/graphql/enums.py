"""The cases vocabulary as GraphQL enums."""

from __future__ import annotations

import strawberry

from demimas_cases.domain import vocabulary as v
from demimas_common.auth.principal import Agency

__all__ = [
    "AgencyEnum",
    "CaseChannelEnum",
    "CaseKindEnum",
    "CasePhaseEnum",
    "CaseStatusEnum",
    "ConfidentialityEnum",
    "OverdueKindEnum",
    "PersonRoleEnum",
    "ReferralStatusEnum",
    "SexEnum",
]

AgencyEnum = strawberry.enum(Agency, name="Agency", description="The agencies of the programme (docs/contracts.md).")
CaseKindEnum = strawberry.enum(v.CaseKind, name="CaseKind", description="What a protection case is about.")
CasePhaseEnum = strawberry.enum(v.CasePhase, name="CasePhase", description="When in migration the case arose.")
CaseChannelEnum = strawberry.enum(v.CaseChannel, name="CaseChannel", description="How the case was heard.")
CaseStatusEnum = strawberry.enum(
    v.CaseStatus, name="CaseStatus", description="OPEN, TRIAGED, REFERRED, IN_PROGRESS, RESOLVED, CLOSED; REOPENED."
)
ConfidentialityEnum = strawberry.enum(
    v.Confidentiality,
    name="Confidentiality",
    description="RESTRICTED: identities and description only for the owner and agencies that accepted a referral.",
)
ReferralStatusEnum = strawberry.enum(v.ReferralStatus, name="ReferralStatus")
OverdueKindEnum = strawberry.enum(v.OverdueKind, name="OverdueKind", description="Which service clock ran out.")
PersonRoleEnum = strawberry.enum(v.PersonRole, name="CasePersonRole")
SexEnum = strawberry.enum(v.Sex, name="Sex")
