"""Use cases of the registry: `handler(cmd, uow, principal)`. Each checks the caller's grant and region, applies
the domain rules, updates the village statistics by delta and queues its events, all in one transaction (the unit
of work, typed by `ports.RegistryUoW` so that the unit tests' fake fits)."""

from __future__ import annotations

import uuid

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Conflict, NotFound
from demimas_common.events.envelope import CloudEvent
from demimas_registry.domain import events
from demimas_registry.domain import validation as v
from demimas_registry.domain.commands import (
    AddFamilyMember,
    RecordDeparture,
    RecordPersonalDataAccess,
    RecordReturn,
    RegisterWorker,
    UpdateWorker,
)
from demimas_registry.domain.factories import (
    check_passport,
    new_departure,
    new_family_member,
    new_return,
    new_worker,
)
from demimas_registry.domain.model import FamilyMember, Worker
from demimas_registry.domain.registration import already_registered, not_registrable
from demimas_registry.domain.stats import Contribution, contribution, delta
from demimas_registry.service_layer.ports import RegistryUoW, Workers

__all__ = [
    "add_family_member",
    "record_departure",
    "record_personal_data_access",
    "record_return",
    "register_worker",
    "update_worker",
]

WRITE = "registry:write"
READ = "registry:read"
PII_READ = "pii:read"


def worker_contribution(worker: Worker) -> Contribution:
    latest = worker.latest_departure
    return contribution(
        worker.village_code,
        worker.status,
        destination=latest.destination_country if latest else None,
        scheme=latest.scheme if latest else None,
        procedural=latest.procedural if latest else None,
        education=worker.education,
        sex=worker.sex,
        sector=latest.sector if latest else None,
        occupation_code=latest.occupation_code if latest else None,
    )


async def _require_village(workers: Workers, code: str) -> None:
    if not await workers.village_exists(code):
        raise BadUserInput(f"village {code} is not in the Kemendagri reference", field="villageCode")


async def _load_for_change(
    workers: Workers, principal: Principal, worker_id: uuid.UUID, expected_version: int | None
) -> Worker:
    worker = await workers.get(worker_id)
    if worker is None or not principal.covers(worker.village_code):
        # Outside the caller's region a worker is as invisible as a missing one.
        raise NotFound(f"no worker {worker_id}", field="workerId")
    if expected_version is not None and expected_version != worker.version:
        raise Conflict(
            f"worker {worker_id} is at version {worker.version}, not {expected_version}; read it again",
            field="expectedVersion",
        )
    return worker


async def _save_change(
    uow: RegistryUoW, worker: Worker, loaded_version: int, before: Contribution, event: CloudEvent
) -> Worker:
    """The common end of every change to a worker: conditional save (CONFLICT if someone changed it since it was
    read), the village statistics moved by the change, the event, one commit."""
    await uow.workers.save(worker, expected_version=loaded_version)
    await uow.workers.apply_stats(delta([(before, worker_contribution(worker))]))
    uow.publish(event)
    await uow.commit()
    return worker


async def register_worker(cmd: RegisterWorker, uow: RegistryUoW, principal: Principal) -> Worker:
    principal.require_scope(WRITE)
    worker = new_worker(cmd)
    principal.require_region(worker.village_code, field="villageCode")
    await _require_village(uow.workers, worker.village_code)
    existing = await uow.workers.add(worker, created_by=principal.agency.value)
    if existing is not None:
        if principal.covers(existing.village_code):
            # Naming the holder of a NIK is a lookup by NIK: it asks what `workerByNik` asks, and the entrypoint
            # records it as a read of the NIK before the id leaves (domain.registration).
            may_see = principal.has_scope(READ) and principal.has_scope(PII_READ) and principal.purpose is not None
            raise already_registered(existing, may_see=may_see)
        # Refused without saying the person exists elsewhere; the attempt is recorded (domain.registration).
        uow.publish(
            events.registration_refused(str(existing.id), worker.village_code, principal.actor, via="registerWorker")
        )
        await uow.commit()
        raise not_registrable()
    await uow.workers.apply_stats(delta([(None, worker_contribution(worker))]))
    uow.publish(events.worker_registered(worker, principal.actor))
    await uow.commit()
    return worker


async def update_worker(cmd: UpdateWorker, uow: RegistryUoW, principal: Principal) -> Worker:
    principal.require_scope(WRITE)
    worker = await _load_for_change(uow.workers, principal, cmd.worker_id, cmd.expected_version)
    loaded_version = worker.version
    before = worker_contribution(worker)
    previous_village = None
    if cmd.village_code is not None:
        code = v.check_village_code(cmd.village_code)
        principal.require_region(code, field="villageCode")
        await _require_village(uow.workers, code)
        previous_village = worker.move_to(code)
    if cmd.full_name is not None:
        worker.full_name = v.check_name(cmd.full_name)
    if cmd.education is not None:
        worker.education = cmd.education
    if cmd.phone is not None:
        worker.phone = v.check_phone(cmd.phone) if cmd.phone.strip() else None
    if cmd.address is not None:
        address = cmd.address.strip()
        worker.address = v.check_free_text(address, field="address", max_length=500) if address else None
    if cmd.passport_number is not None:
        worker.passport_number = check_passport(cmd.passport_number) if cmd.passport_number.strip() else None
    worker.touch()
    event = events.worker_updated(worker, principal.actor, previous_village)
    return await _save_change(uow, worker, loaded_version, before, event)


async def record_departure(cmd: RecordDeparture, uow: RegistryUoW, principal: Principal) -> Worker:
    principal.require_scope(WRITE)
    departure = new_departure(cmd)
    worker = await _load_for_change(uow.workers, principal, cmd.worker_id, cmd.expected_version)
    loaded_version, before = worker.version, worker_contribution(worker)
    worker.depart(departure)
    event = events.worker_departed(worker, departure, principal.actor)
    return await _save_change(uow, worker, loaded_version, before, event)


async def record_return(cmd: RecordReturn, uow: RegistryUoW, principal: Principal) -> Worker:
    principal.require_scope(WRITE)
    worker = await _load_for_change(uow.workers, principal, cmd.worker_id, cmd.expected_version)
    ret = new_return(cmd, worker.latest_departure.id if worker.latest_departure else None)
    loaded_version, before = worker.version, worker_contribution(worker)
    worker.return_home(ret)
    event = events.worker_returned(worker, ret, principal.actor)
    return await _save_change(uow, worker, loaded_version, before, event)


async def add_family_member(cmd: AddFamilyMember, uow: RegistryUoW, principal: Principal) -> FamilyMember:
    principal.require_scope(WRITE)
    principal.require_scope("family:read")
    member = new_family_member(cmd)
    worker = await _load_for_change(uow.workers, principal, cmd.worker_id, None)
    await uow.workers.add_family_member(member)
    uow.publish(events.family_added(member, worker, principal.actor))
    await uow.commit()
    return member


async def record_personal_data_access(cmd: RecordPersonalDataAccess, uow: RegistryUoW, principal: Principal) -> None:
    """The record of a read of personal data (`personal_data.accessed`), committed before any value is returned;
    the personal-data gate checked scope and purpose already, and withholds the values if this fails."""
    uow.publish(
        events.personal_data_accessed(
            actor=principal.actor,
            purpose=principal.require_purpose().value,
            worker_ids=list(cmd.worker_ids),
            fields=list(cmd.fields),
            family_member_ids=list(cmd.family_member_ids) or None,
            operation=cmd.operation,
        )
    )
    await uow.commit()
