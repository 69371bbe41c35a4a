"""The pillars subgraph's mutations: each opens the caller's unit of work and hands the use case its command."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from demimas_pillars.domain.commands import (
    AddMilestone,
    CompleteMilestone,
    CreatePilot,
    EndThematicStatus,
    Enrol,
    LinkActivity,
    MoveEnrolment,
    MoveReturnee,
    RecordActivity,
    SetPilotStatus,
    SetThematicStatus,
)
from demimas_pillars.domain.vocabulary import (
    EnrolmentProgramme,
    EnrolmentStatus,
    PilotStatus,
    ReintegrationStatus,
    ThematicProgramme,
)
from demimas_pillars.entrypoints.graphql.common import Ctx, parse_id
from demimas_pillars.entrypoints.graphql.enums import (
    EnrolmentProgrammeEnum,
    EnrolmentStatusEnum,
    PilotStatusEnum,
    ReintegrationStatusEnum,
)
from demimas_pillars.entrypoints.graphql.graph import Activity, PilotProject
from demimas_pillars.entrypoints.graphql.inputs import (
    IDEMPOTENCY_KEY,
    ActivityInput,
    MilestoneInput,
    PilotProjectInput,
    activity_of,
    milestone_of,
    pilot_of,
)
from demimas_pillars.entrypoints.graphql.people import Enrolment, Returnee
from demimas_pillars.entrypoints.graphql.thematic import THEMATIC_WRITE, ThematicStatus, ThematicStatusInput
from demimas_pillars.service_layer import activities as activity_flow
from demimas_pillars.service_layer import enrolments as enrolment_flow
from demimas_pillars.service_layer import pilots as pilot_flow
from demimas_pillars.service_layer import thematic as thematic_flow

__all__ = ["Mutation"]

WRITE, PILOT_WRITE = [["pillars:write"]], [["pilot:write"]]


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=WRITE, description="Record one delivery of a pillar in a village.")
    async def record_activity(self, info: Ctx, input: ActivityInput) -> Activity | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = RecordActivity(activity_of(info, input), input.idempotency_key)
        a = await ctx.run(activity_flow.record_activity, cmd, principal, ctx.delivery)
        return Activity.from_domain(a)

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="Start a joint pilot project.")
    async def create_pilot_project(self, info: Ctx, input: PilotProjectInput) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = CreatePilot(pilot_of(info, input), input.idempotency_key)
        created = await ctx.run(pilot_flow.create_pilot, cmd, principal, ctx.delivery)
        return PilotProject.from_domain(created, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE)
    async def add_milestone(
        self,
        info: Ctx,
        pilot_id: strawberry.ID,
        input: MilestoneInput,
        idempotency_key: Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)] = None,
    ) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = AddMilestone(parse_id(pilot_id, "pilotId"), milestone_of(input), idempotency_key)
        p = await ctx.run(pilot_flow.add_milestone, cmd, principal, ctx.delivery)
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(
        requires_scopes=[["pilot:write"], ["pillars:write"]],
        description="By the milestone's responsible agency or the coordinator.",
    )
    async def complete_milestone(
        self, info: Ctx, pilot_id: strawberry.ID, milestone_id: strawberry.ID, completed_on: dt.date
    ) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = CompleteMilestone(parse_id(pilot_id, "pilotId"), parse_id(milestone_id, "milestoneId"), completed_on)
        p = await ctx.run(pilot_flow.complete, cmd, principal, ctx.delivery)
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="Count an activity towards a pilot.")
    async def link_activity(
        self, info: Ctx, pilot_id: strawberry.ID, activity_id: strawberry.ID
    ) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = LinkActivity(parse_id(pilot_id, "pilotId"), parse_id(activity_id, "activityId"))
        p = await ctx.run(pilot_flow.link_activity, cmd, principal, ctx.delivery)
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="The coordinator moves the pilot on.")
    async def set_pilot_status(
        self,
        info: Ctx,
        id: strawberry.ID,
        status: PilotStatusEnum,  # type: ignore[valid-type]
        reason: str | None = None,
    ) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = SetPilotStatus(parse_id(id), PilotStatus(status), reason)
        p = await ctx.run(pilot_flow.set_status, cmd, principal, ctx.delivery)
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=WRITE, description="Enrol a registered worker or family member.")
    async def enrol(
        self,
        info: Ctx,
        person_id: strawberry.ID,
        programme: EnrolmentProgrammeEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Enrolment | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = Enrol(parse_id(person_id, "personId"), EnrolmentProgramme(programme), note)
        e = await ctx.run(enrolment_flow.enrol, cmd, principal, ctx.delivery)
        return Enrolment.from_domain(e)

    @strawberry.federation.field(requires_scopes=WRITE)
    async def update_enrolment(
        self,
        info: Ctx,
        id: strawberry.ID,
        status: EnrolmentStatusEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Enrolment | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = MoveEnrolment(parse_id(id), EnrolmentStatus(status), note)
        e = await ctx.run(enrolment_flow.move_enrolment, cmd, principal, ctx.delivery)
        return Enrolment.from_domain(e)

    @strawberry.federation.field(requires_scopes=WRITE, description="Move a returnee through the reintegration queue.")
    async def update_reintegration(
        self,
        info: Ctx,
        worker_id: strawberry.ID,
        status: ReintegrationStatusEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Returnee | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = MoveReturnee(parse_id(worker_id, "workerId"), ReintegrationStatus(status), note)
        entry = await ctx.run(enrolment_flow.move_returnee, cmd, principal, ctx.delivery)
        return Returnee.from_entry(entry)

    @strawberry.federation.field(
        requires_scopes=THEMATIC_WRITE,
        description="Put a village in a thematic programme, or correct the day or reference of its ACTIVE status "
        "(one per village and programme; a new version). By the programme's owning agency only.",
    )
    async def set_thematic_status(self, info: Ctx, input: ThematicStatusInput) -> ThematicStatus | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = SetThematicStatus(input.village_code.strip(), ThematicProgramme(input.programme), input.since,
                                input.reference)  # fmt: skip
        s = await ctx.run(thematic_flow.set_thematic_status, cmd, principal, ctx.delivery)
        return ThematicStatus.from_domain(s)

    @strawberry.federation.field(
        requires_scopes=THEMATIC_WRITE, description="End a thematic status. By the programme's owning agency only."
    )
    async def end_thematic_status(
        self, info: Ctx, id: strawberry.ID, ended_on: dt.date, reason: str
    ) -> ThematicStatus | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = EndThematicStatus(parse_id(id), ended_on, reason)
        s = await ctx.run(thematic_flow.end_thematic_status, cmd, principal, ctx.delivery)
        return ThematicStatus.from_domain(s)
