"""Joint pilot projects: created by an agency with `pilot:write` that takes part (as coordinator or partner),
followed by milestones that their responsible agency (or the coordinator) completes, activities linked to them, and
a status the coordinator moves. Creating a pilot and adding a milestone take an optional idempotency key (see
service_layer/activities.py): a retry returns the pilot without making the row twice."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.errors import BadUserInput, Forbidden
from demimas_pillars.adapters import activities as activity_repo
from demimas_pillars.adapters import pilots as repo
from demimas_pillars.adapters.idempotency import claim
from demimas_pillars.adapters.tables import SCHEMA, milestones
from demimas_pillars.domain.idempotency import check_key, key_owner, milestone_fingerprint, pilot_fingerprint
from demimas_pillars.domain.pilot import Milestone, Pilot, check_milestone, check_pilot, complete_milestone, move
from demimas_pillars.domain.vocabulary import PilotStatus
from demimas_pillars.service_layer.delivery import DeliverySettings, check_village
from demimas_pillars.service_layer.events import milestone_completed, pilot_created

__all__ = ["add_milestone", "complete", "create_pilot", "link_activity", "set_status"]

WRITE = "pilot:write"


def _involved(principal: Principal, pilot: Pilot) -> None:
    agencies = {pilot.coordinator, *(p.agency for p in pilot.partners)}
    if principal.agency.value not in agencies:
        raise Forbidden(f"{principal.agency.value} takes no part in this pilot", reason="not_a_partner")


async def create_pilot(
    engine: AsyncEngine,
    principal: Principal,
    pilot: Pilot,
    settings: DeliverySettings,
    *,
    idempotency_key: str | None = None,
) -> Pilot:
    """With `idempotency_key`, the pilot (as it is now) an earlier attempt with that key created, if any."""
    principal.require_scope(WRITE)
    check_key(idempotency_key)
    check_village(pilot.village_code)
    principal.require_region(pilot.village_code, field="villageCode")
    check_pilot(pilot)
    if pilot.coordinator != principal.agency.value:
        raise Forbidden(
            f"{principal.agency.value} cannot start a pilot coordinated by {pilot.coordinator}: the coordinator starts"
            " it and names the partners",
            field="coordinator",
            reason="not_the_coordinator",
        )
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        if idempotency_key is not None:
            earlier = await claim(
                uow.connection,
                agency=key_owner(principal),
                key=idempotency_key,
                operation="createPilotProject",
                fingerprint=pilot_fingerprint(pilot),
                resource_id=pilot.id,
                at=pilot.created_at,
            )
            if earlier is not None:
                [created] = await repo.load_pilots(uow.connection, [earlier])
                return created  # leaving without commit: nothing written
        await repo.insert_pilot(uow.connection, pilot, principal.sub)
        uow.publish(pilot_created(pilot, principal.actor))
        await uow.commit()
    return pilot


async def _load(uow: UnitOfWork, principal: Principal, pilot_id: uuid.UUID) -> Pilot:
    [pilot] = await repo.load_pilots(uow.connection, [pilot_id], for_update=True)
    principal.require_visible(pilot.village_code, f"pilot project {pilot_id}", field="id")  # as an unknown id
    return pilot


async def add_milestone(
    engine: AsyncEngine,
    principal: Principal,
    pilot_id: uuid.UUID,
    milestone: Milestone,
    settings: DeliverySettings,
    *,
    idempotency_key: str | None = None,
) -> Pilot:
    """With `idempotency_key`, the pilot as it is when an earlier attempt with that key added the milestone."""
    principal.require_scope(WRITE)
    check_key(idempotency_key)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        pilot = await _load(uow, principal, pilot_id)
        _involved(principal, pilot)
        if idempotency_key is not None:
            earlier = await claim(
                uow.connection,
                agency=key_owner(principal),
                key=idempotency_key,
                operation="addMilestone",
                fingerprint=milestone_fingerprint(pilot_id, milestone),
                resource_id=milestone.id,
                at=settings.clock(),
            )
            if earlier is not None:
                return pilot  # already has the milestone; leaving without commit: nothing written
        if pilot.status not in (PilotStatus.PLANNED, PilotStatus.ACTIVE):
            raise BadUserInput(f"the pilot is {pilot.status}; milestones can no longer be added", field="pilotId")
        check_milestone(milestone, pilot)
        seq = await uow.connection.scalar(
            select(func.coalesce(func.max(milestones.c.seq), 0) + 1).where(milestones.c.pilot_id == pilot.id)
        )
        await repo.insert_milestone(uow.connection, pilot.id, int(seq or 1), milestone)
        await uow.commit()
    return await _reload(engine, pilot_id)


async def complete(
    engine: AsyncEngine,
    principal: Principal,
    pilot_id: uuid.UUID,
    milestone_id: uuid.UUID,
    completed_on: dt.date,
    settings: DeliverySettings,
) -> Pilot:
    """By the milestone's responsible agency or the pilot's coordinator (`pilot:write` or `pillars:write`)."""
    if not (principal.has_scope(WRITE) or principal.has_scope("pillars:write")):
        principal.require_scope(WRITE)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        pilot = await _load(uow, principal, pilot_id)
        target = next((m for m in pilot.milestones if m.id == milestone_id), None)
        if target is not None and principal.agency.value not in (target.responsible_agency, pilot.coordinator):
            raise Forbidden(
                f"only {target.responsible_agency} or the coordinator completes this milestone",
                reason="not_responsible",
            )
        done = complete_milestone(pilot, milestone_id, completed_on, principal.agency.value, today=settings.today())
        await repo.save_milestone(uow.connection, done)
        uow.publish(milestone_completed(pilot, done, principal.actor))
        await uow.commit()
    return await _reload(engine, pilot_id)


async def link_activity(
    engine: AsyncEngine, principal: Principal, pilot_id: uuid.UUID, activity_id: uuid.UUID, settings: DeliverySettings
) -> Pilot:
    principal.require_scope(WRITE)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        pilot = await _load(uow, principal, pilot_id)
        _involved(principal, pilot)
        [activity] = await activity_repo.load_activities(uow.connection, [activity_id])
        # as an unknown activity is answered (adapters/activities.py), never saying where it took place
        principal.require_visible(activity.village_code, f"activity {activity_id}", field="id")
        if activity.village_code != pilot.village_code:
            raise BadUserInput("the activity took place in another village than the pilot", field="activityId")
        await repo.link_activity(uow.connection, pilot.id, activity.id)
        await uow.commit()
    return await _reload(engine, pilot_id)


async def set_status(
    engine: AsyncEngine,
    principal: Principal,
    pilot_id: uuid.UUID,
    status: PilotStatus,
    reason: str | None,
    settings: DeliverySettings,
) -> Pilot:
    principal.require_scope(WRITE)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        pilot = await _load(uow, principal, pilot_id)
        if principal.agency.value != pilot.coordinator:
            raise Forbidden(f"only the coordinator ({pilot.coordinator}) moves the pilot", reason="not_coordinator")
        await repo.save_status(uow.connection, move(pilot, status, reason))
        await uow.commit()
    return await _reload(engine, pilot_id)


async def _reload(engine: AsyncEngine, pilot_id: uuid.UUID) -> Pilot:
    async with engine.connect() as conn:
        [pilot] = await repo.load_pilots(conn, [pilot_id])
    return pilot
