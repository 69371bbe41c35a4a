"""Enrolling a registered worker or family member in a programme, moving the enrolment on, and moving a returnee
through the reintegration queue (`pillars:write`, inside the caller's region)."""

from __future__ import annotations

import uuid

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_pillars.domain.commands import Enrol, MoveEnrolment, MoveReturnee
from demimas_pillars.domain.enrolment import Enrolment, QueueEntry, check_note, moved_enrolment, moved_returnee
from demimas_pillars.domain.events import enrolment_created
from demimas_pillars.domain.vocabulary import EnrolmentStatus
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.ports import PillarsUoW

__all__ = ["enrol", "move_enrolment", "move_returnee"]

WRITE = "pillars:write"


def _village(record: Enrolment | QueueEntry) -> str:
    return record.village_code


async def enrol(cmd: Enrol, uow: PillarsUoW, principal: Principal, settings: DeliverySettings) -> Enrolment:
    principal.require_scope(WRITE)
    check_note(cmd.note)
    person = await uow.people.get(cmd.person_id)
    # Outside the caller's region a person is answered as unknown: neither existence nor village is told.
    if person is None or person.village_code is None or not principal.covers(person.village_code):
        raise BadUserInput("personId is not a registered worker or family member", field="personId")
    now = settings.clock()
    e = Enrolment(uuid.uuid4(), cmd.person_id, person.person_kind, person.worker_id, person.village_code,
                  cmd.programme, EnrolmentStatus.ENROLLED, now.date(), principal.agency.value, now,
                  cmd.note)  # fmt: skip
    await uow.enrolments.add(e)
    uow.publish(enrolment_created(e, principal.actor))
    await uow.commit()
    return e


async def move_enrolment(
    cmd: MoveEnrolment, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> Enrolment:
    principal.require_scope(WRITE)
    e = await principal.find_visible(uow.enrolments.get(cmd.enrolment_id, for_update=True),
                                     _village, f"enrolment {cmd.enrolment_id}", field="id")  # fmt: skip
    moved = moved_enrolment(e, cmd.to, cmd.note, settings.clock())
    await uow.enrolments.save(moved)
    await uow.commit()
    return moved


async def move_returnee(
    cmd: MoveReturnee, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> QueueEntry:
    principal.require_scope(WRITE)
    # one answer for a worker nobody queued and for one queued outside the caller's region
    what = f"returnee {cmd.worker_id} in a reintegration queue"
    entry = await principal.find_visible(uow.queue.latest(cmd.worker_id), _village, what, field="workerId")
    moved = moved_returnee(entry, cmd.to, cmd.note, settings.clock())
    await uow.queue.save(moved, principal.agency.value)
    await uow.commit()
    return moved
