"""The registry's events (contract subjects). Payloads carry ids and the facts consumers need, never a NIK,
name, phone or birth date: the JSON Schemas in demimas_common forbid extra keys so nothing personal slips in."""

from __future__ import annotations

from typing import Any, Literal

from demimas_common.events.envelope import Actor, CloudEvent, new_event
from demimas_registry.domain.model import Departure, FamilyMember, Return, Worker

__all__ = [
    "family_added",
    "personal_data_accessed",
    "registration_refused",
    "worker_departed",
    "worker_registered",
    "worker_returned",
    "worker_updated",
]


def _worker_data(worker: Worker) -> dict[str, Any]:
    return {
        "workerId": str(worker.id),
        "villageCode": worker.village_code,
        "status": worker.status.value,
        "version": worker.version,
    }


def worker_registered(worker: Worker, actor: Actor | None) -> CloudEvent:
    return new_event("demimas.registry.worker.registered", str(worker.id), _worker_data(worker), actor=actor)


def worker_updated(worker: Worker, actor: Actor | None, previous_village: str | None) -> CloudEvent:
    data = _worker_data(worker)
    if previous_village is not None:
        data["previousVillageCode"] = previous_village
    return new_event("demimas.registry.worker.updated", str(worker.id), data, actor=actor)


def worker_departed(worker: Worker, departure: Departure, actor: Actor | None) -> CloudEvent:
    data = _worker_data(worker) | {
        "departureId": str(departure.id),
        "destinationCountry": departure.destination_country,
        "scheme": departure.scheme.value,
        "procedural": departure.procedural,
        "sector": departure.sector.value,
        "departureDate": departure.departure_date.isoformat(),
    }
    return new_event("demimas.registry.worker.departed", str(worker.id), data, actor=actor)


def worker_returned(worker: Worker, ret: Return, actor: Actor | None) -> CloudEvent:
    data = _worker_data(worker) | {"returnDate": ret.return_date.isoformat(), "reason": ret.reason.value}
    return new_event("demimas.registry.worker.returned", str(worker.id), data, actor=actor)


def family_added(member: FamilyMember, worker: Worker, actor: Actor | None) -> CloudEvent:
    data = {
        "familyMemberId": str(member.id),
        "workerId": str(worker.id),
        "relation": member.relation.value,
        "minor": member.minor,
        "villageCode": worker.village_code,
    }
    return new_event("demimas.registry.family.added", str(member.id), data, actor=actor)


def registration_refused(
    existing_worker_id: str, village_code: str, actor: Actor | None, *, via: Literal["registerWorker", "import"]
) -> CloudEvent:
    """A registration refused because the NIK belongs to a worker outside the caller's region (domain.registration):
    the existing worker's id and the village the caller asked for, never the NIK."""
    data = {"workerId": existing_worker_id, "villageCode": village_code, "via": via}
    return new_event("demimas.registry.registration.refused", existing_worker_id, data, actor=actor)


def personal_data_accessed(
    *,
    actor: Actor,
    purpose: str,
    worker_ids: list[str],
    fields: list[str],
    family_member_ids: list[str] | None = None,
    operation: str | None = None,
) -> CloudEvent:
    data: dict[str, Any] = {
        "agency": actor.agency,
        "subject": actor.sub,
        "purpose": purpose,
        "workerIds": worker_ids,
        "fields": fields,
    }
    if family_member_ids:
        data["familyMemberIds"] = family_member_ids
    if operation:
        data["operation"] = operation
    subject = worker_ids[0] if len(worker_ids) == 1 else f"batch:{len(worker_ids)}"
    return new_event("demimas.registry.personal_data.accessed", subject, data, actor=actor)
