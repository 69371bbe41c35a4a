"""Joint pilot projects: created by an agency with `pilot:write` that takes part (as coordinator or partner),
followed by milestones that their responsible agency (or the coordinator) completes, activities linked to them, and
a status the coordinator moves. Creating a pilot and adding a milestone take an optional idempotency key (see
service_layer/activities.py): a retry returns the pilot without making the row twice. Every change answers with the
pilot as it is after it.

A pilot spans one or more villages (the lead first). Every village named at creation or added later must lie in the
caller's region; a regional caller reaches a pilot (by id) when any of its villages lies in its region, as the
queries show it (docs/pillars.md, "Multi-village pilots")."""

from __future__ import annotations

import uuid

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Forbidden, NotFound
from demimas_pillars.domain import pilot as rules
from demimas_pillars.domain.commands import (
    AddMilestone,
    AddPilotVillage,
    CompleteMilestone,
    CreatePilot,
    LinkActivity,
    RemovePilotVillage,
    SetPilotStatus,
)
from demimas_pillars.domain.events import (
    milestone_completed,
    pilot_created,
    pilot_status_changed,
    pilot_village_added,
    pilot_village_removed,
)
from demimas_pillars.domain.idempotency import check_key, key_owner, milestone_fingerprint, pilot_fingerprint
from demimas_pillars.domain.pilot import Pilot, check_milestone, check_pilot, complete_milestone, move
from demimas_pillars.domain.vocabulary import PilotStatus
from demimas_pillars.service_layer.delivery import DeliverySettings, check_village
from demimas_pillars.service_layer.ports import PillarsUoW

__all__ = [
    "add_milestone",
    "add_village",
    "complete",
    "create_pilot",
    "link_activity",
    "remove_village",
    "set_status",
    "visible",
]

WRITE = "pilot:write"


def visible(principal: Principal, pilot: Pilot) -> bool:
    """The region rule for a pilot: any of its villages inside the caller's region."""
    return any(principal.covers(code) for code in pilot.village_codes)


def _coordinator(principal: Principal, pilot: Pilot) -> None:
    if principal.agency.value != pilot.coordinator:
        raise Forbidden(f"only the coordinator ({pilot.coordinator}) changes the pilot's villages",
                        reason="not_coordinator")  # fmt: skip


def _involved(principal: Principal, pilot: Pilot) -> None:
    agencies = {pilot.coordinator, *(p.agency for p in pilot.partners)}
    if principal.agency.value not in agencies:
        raise Forbidden(f"{principal.agency.value} takes no part in this pilot", reason="not_a_partner")


async def create_pilot(cmd: CreatePilot, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    """With `cmd.idempotency_key`, the pilot (as it is now) an earlier attempt with that key created, if any."""
    pilot = cmd.pilot
    principal.require_scope(WRITE)
    check_key(cmd.idempotency_key)
    check_village(pilot.village_code)
    principal.require_region(pilot.village_code, field="villageCode")
    for code in pilot.villages:
        check_village(code, "villageCodes")
        principal.require_region(code, field="villageCodes")
    check_pilot(pilot)
    if pilot.coordinator != principal.agency.value:
        raise Forbidden(
            f"{principal.agency.value} cannot start a pilot coordinated by {pilot.coordinator}: the coordinator starts"
            " it and names the partners",
            field="coordinator",
            reason="not_the_coordinator",
        )
    if cmd.idempotency_key is not None:
        earlier = await uow.idempotency_keys.claim(
            agency=key_owner(principal),
            key=cmd.idempotency_key,
            operation="createPilotProject",
            fingerprint=pilot_fingerprint(pilot),
            resource_id=pilot.id,
            at=pilot.created_at,
        )
        if earlier is not None:
            [created] = await uow.pilots.get_many([earlier])
            return created  # no commit: nothing written
    await uow.pilots.add(pilot, principal.sub)
    uow.publish(pilot_created(pilot, principal.actor))
    await uow.commit()
    return pilot


async def _load(uow: PillarsUoW, principal: Principal, pilot_id: uuid.UUID) -> Pilot:
    [pilot] = await uow.pilots.get_many([pilot_id], for_update=True)
    if not visible(principal, pilot):  # as an unknown id, never saying where it is
        raise NotFound(f"no pilot project {pilot_id}", field="id")
    return pilot


async def _commit(uow: PillarsUoW, pilot_id: uuid.UUID) -> Pilot:
    """Commit, answering with the pilot as the change left it."""
    [pilot] = await uow.pilots.get_many([pilot_id])
    await uow.commit()
    return pilot


async def add_milestone(cmd: AddMilestone, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    """With `cmd.idempotency_key`, the pilot as it is when an earlier attempt with that key added the milestone."""
    principal.require_scope(WRITE)
    check_key(cmd.idempotency_key)
    pilot = await _load(uow, principal, cmd.pilot_id)
    _involved(principal, pilot)
    if cmd.idempotency_key is not None:
        earlier = await uow.idempotency_keys.claim(
            agency=key_owner(principal),
            key=cmd.idempotency_key,
            operation="addMilestone",
            fingerprint=milestone_fingerprint(cmd.pilot_id, cmd.milestone),
            resource_id=cmd.milestone.id,
            at=settings.clock(),
        )
        if earlier is not None:
            return pilot  # already has the milestone; no commit: nothing written
    if pilot.status not in (PilotStatus.PLANNED, PilotStatus.ACTIVE):
        raise BadUserInput(f"the pilot is {pilot.status}; milestones can no longer be added", field="pilotId")
    check_milestone(cmd.milestone, pilot)
    if cmd.milestone.village_code is not None:
        principal.require_region(cmd.milestone.village_code, field="villageCode")
    await uow.pilots.add_milestone(pilot.id, await uow.pilots.next_milestone_seq(pilot.id), cmd.milestone)
    return await _commit(uow, pilot.id)


async def complete(cmd: CompleteMilestone, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    """By the milestone's responsible agency or the pilot's coordinator (`pilot:write` or `pillars:write`)."""
    if not (principal.has_scope(WRITE) or principal.has_scope("pillars:write")):
        principal.require_scope(WRITE)
    pilot = await _load(uow, principal, cmd.pilot_id)
    target = next((m for m in pilot.milestones if m.id == cmd.milestone_id), None)
    if target is not None and target.village_code is not None and not principal.covers(target.village_code):
        raise BadUserInput("no such milestone in this pilot", field="milestoneId")  # as an unknown one
    if target is not None and principal.agency.value not in (target.responsible_agency, pilot.coordinator):
        raise Forbidden(
            f"only {target.responsible_agency} or the coordinator completes this milestone", reason="not_responsible"
        )
    done = complete_milestone(pilot, cmd.milestone_id, cmd.completed_on, principal.agency.value,
                              today=settings.today())  # fmt: skip
    await uow.pilots.save_milestone(done)
    uow.publish(milestone_completed(pilot, done, principal.actor))
    return await _commit(uow, pilot.id)


async def link_activity(cmd: LinkActivity, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    principal.require_scope(WRITE)
    pilot = await _load(uow, principal, cmd.pilot_id)
    _involved(principal, pilot)
    [activity] = await uow.activities.get_many([cmd.activity_id])
    # as an unknown activity is answered (adapters/activities.py), never saying where it took place
    principal.require_visible(activity.village_code, f"activity {cmd.activity_id}", field="id")
    if activity.village_code not in pilot.village_codes:
        raise BadUserInput("the activity took place in none of the pilot's villages", field="activityId",
                           reason="not_a_pilot_village")  # fmt: skip
    await uow.pilots.link_activity(pilot.id, activity.id)
    return await _commit(uow, pilot.id)


async def set_status(cmd: SetPilotStatus, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    principal.require_scope(WRITE)
    pilot = await _load(uow, principal, cmd.pilot_id)
    if principal.agency.value != pilot.coordinator:
        raise Forbidden(f"only the coordinator ({pilot.coordinator}) moves the pilot", reason="not_coordinator")
    moved = move(pilot, cmd.status, cmd.reason)
    await uow.pilots.save_status(moved)
    uow.publish(pilot_status_changed(pilot, moved, principal.actor))
    return await _commit(uow, pilot.id)


async def add_village(cmd: AddPilotVillage, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Pilot:
    """The coordinator adds a village (inside its region) to a running pilot."""
    principal.require_scope(WRITE)
    pilot = await _load(uow, principal, cmd.pilot_id)
    _coordinator(principal, pilot)
    check_village(cmd.village_code)
    principal.require_region(cmd.village_code, field="villageCode")
    grown = rules.add_village(pilot, cmd.village_code)
    await uow.pilots.add_village(pilot.id, cmd.village_code, settings.clock())
    uow.publish(pilot_village_added(grown, cmd.village_code, principal.actor))
    return await _commit(uow, pilot.id)


async def remove_village(
    cmd: RemovePilotVillage, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> Pilot:
    """The coordinator removes a village (never the lead, nor one a milestone names) from a running pilot."""
    principal.require_scope(WRITE)
    pilot = await _load(uow, principal, cmd.pilot_id)
    _coordinator(principal, pilot)
    principal.require_region(cmd.village_code, field="villageCode")
    shrunk = rules.remove_village(pilot, cmd.village_code)
    await uow.pilots.remove_village(pilot.id, cmd.village_code)
    uow.publish(pilot_village_removed(shrunk, cmd.village_code, principal.actor))
    return await _commit(uow, pilot.id)
