"""The pillars vocabulary as GraphQL enums."""

from __future__ import annotations

import strawberry

from demimas_common.auth.principal import Agency
from demimas_pillars.domain import vocabulary as v

__all__ = [
    "AgencyEnum",
    "EmasPillarEnum",
    "EnrolmentProgrammeEnum",
    "EnrolmentStatusEnum",
    "OutputKindEnum",
    "ParticipantGroupEnum",
    "PersonKindEnum",
    "PilotStatusEnum",
    "ReintegrationStatusEnum",
    "ServicePillarEnum",
    "SexEnum",
    "ThematicProgrammeEnum",
    "ThematicStatusStateEnum",
]

AgencyEnum = strawberry.enum(Agency, name="Agency", description="The agencies of the programme (docs/contracts.md).")
ServicePillarEnum = strawberry.enum(v.ServicePillar, name="ServicePillar", description="KP2MI's ten service pillars.")
EmasPillarEnum = strawberry.enum(v.EmasPillar, name="EmasPillar", description="Edukatif, Maju, Aman, Sejahtera.")
OutputKindEnum = strawberry.enum(v.OutputKind, name="OutputKind", description="What an activity produced.")
ThematicProgrammeEnum = strawberry.enum(v.ThematicProgramme, name="ThematicProgramme")
SexEnum = strawberry.enum(v.Sex, name="Sex")
ParticipantGroupEnum = strawberry.enum(v.ParticipantGroup, name="ParticipantGroup")
PersonKindEnum = strawberry.enum(v.PersonKind, name="PersonKind")
EnrolmentProgrammeEnum = strawberry.enum(v.EnrolmentProgramme, name="EnrolmentProgramme")
EnrolmentStatusEnum = strawberry.enum(v.EnrolmentStatus, name="EnrolmentStatus")
ReintegrationStatusEnum = strawberry.enum(v.ReintegrationStatus, name="ReintegrationStatus")
PilotStatusEnum = strawberry.enum(v.PilotStatus, name="PilotStatus")
ThematicStatusStateEnum = strawberry.enum(v.ThematicStatusState, name="ThematicStatusState")
