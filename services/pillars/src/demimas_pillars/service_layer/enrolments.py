"""Enrolling a registered worker or family member in a programme, moving the enrolment on, and moving a returnee
through the reintegration queue (`pillars:write`, inside the caller's region)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.errors import BadUserInput
from demimas_pillars.adapters import enrolments as repo
from demimas_pillars.adapters.enrolments import QueueEntry
from demimas_pillars.adapters.tables import SCHEMA, people
from demimas_pillars.domain.enrolment import Enrolment, check_enrolment_move, check_reintegration_move
from demimas_pillars.domain.vocabulary import EnrolmentProgramme, EnrolmentStatus, PersonKind, ReintegrationStatus
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.events import enrolment_created

__all__ = ["enrol", "move_enrolment", "move_returnee"]

WRITE = "pillars:write"


async def enrol(
    engine: AsyncEngine,
    principal: Principal,
    person_id: uuid.UUID,
    programme: EnrolmentProgramme,
    note: str | None,
    settings: DeliverySettings,
) -> Enrolment:
    principal.require_scope(WRITE)
    if note is not None and len(note) > 2000:
        raise BadUserInput("note must have at most 2000 characters", field="note")
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        person = (await uow.connection.execute(select(people).where(people.c.person_id == person_id))).first()
        # Outside the caller's region a person is answered as unknown: neither existence nor village is told.
        if person is None or person.village_code is None or not principal.covers(person.village_code):
            raise BadUserInput("personId is not a registered worker or family member", field="personId")
        now = settings.clock()
        e = Enrolment(
            uuid.uuid4(),
            person_id,
            PersonKind(person.person_kind),
            person.worker_id,
            person.village_code,
            programme,
            EnrolmentStatus.ENROLLED,
            now.date(),
            principal.agency.value,
            now,
            note,
        )
        await repo.insert_enrolment(uow.connection, e)
        uow.publish(enrolment_created(e, principal.actor))
        await uow.commit()
    return e


async def move_enrolment(
    engine: AsyncEngine,
    principal: Principal,
    enrolment_id: uuid.UUID,
    to: EnrolmentStatus,
    note: str | None,
    settings: DeliverySettings,
) -> Enrolment:
    principal.require_scope(WRITE)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        e = await repo.load_enrolment(uow.connection, enrolment_id, for_update=True)
        principal.require_visible(e.village_code, f"enrolment {enrolment_id}", field="id")
        check_enrolment_move(e.status, to)
        moved = Enrolment(
            e.id,
            e.person_id,
            e.person_kind,
            e.worker_id,
            e.village_code,
            e.programme,
            to,
            e.enrolled_on,
            e.agency,
            settings.clock(),
            note if note is not None else e.note,
        )
        await repo.save_enrolment(uow.connection, moved)
        await uow.commit()
    return moved


async def move_returnee(
    engine: AsyncEngine,
    principal: Principal,
    worker_id: uuid.UUID,
    to: ReintegrationStatus,
    note: str | None,
    settings: DeliverySettings,
) -> QueueEntry:
    principal.require_scope(WRITE)
    async with UnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        entry = await repo.queue_entry(uow.connection, worker_id)
        principal.require_visible(
            entry.village_code, f"returnee {worker_id} in a reintegration queue", field="workerId"
        )
        check_reintegration_move(entry.status, to)
        entry.status, entry.updated_at = to, settings.clock()
        if note is not None:
            entry.note = note
        await repo.save_queue_entry(uow.connection, entry, principal.agency.value)
        await uow.commit()
    return entry
