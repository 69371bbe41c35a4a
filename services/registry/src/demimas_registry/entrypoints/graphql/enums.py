"""The registry vocabulary as GraphQL enums, shared by the object types and the inputs."""

from __future__ import annotations

import strawberry

from demimas_registry.domain.vocabulary import (
    ConsentGiver,
    EducationLevel,
    PlacementScheme,
    Relation,
    ReturnReason,
    Sector,
    Sex,
    VillageKind,
    WorkerStatus,
)

__all__ = [
    "ConsentGiverEnum",
    "EducationEnum",
    "RelationEnum",
    "ReturnReasonEnum",
    "SchemeEnum",
    "SectorEnum",
    "SexEnum",
    "VillageKindEnum",
    "WorkerStatusEnum",
]

WorkerStatusEnum = strawberry.enum(WorkerStatus)
SexEnum = strawberry.enum(Sex)
EducationEnum = strawberry.enum(EducationLevel, name="EducationLevel")
SectorEnum = strawberry.enum(Sector)
SchemeEnum = strawberry.enum(PlacementScheme)
ReturnReasonEnum = strawberry.enum(ReturnReason)
RelationEnum = strawberry.enum(Relation)
ConsentGiverEnum = strawberry.enum(ConsentGiver)
VillageKindEnum = strawberry.enum(VillageKind)
