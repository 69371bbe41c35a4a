"""The pillars service's durable consumers: `people` on the registry's worker and family events, `designations` on
the designation service's village events."""

from __future__ import annotations

from demimas_common.db.uow import UnitOfWork
from demimas_common.events.envelope import CloudEvent
from demimas_common.skeleton import Consumer
from demimas_pillars.adapters.people import apply_people_event
from demimas_pillars.adapters.portfolios import apply_designation_event

__all__ = ["DESIGNATIONS", "PEOPLE"]


async def on_person_event(event: CloudEvent, uow: UnitOfWork) -> None:
    await apply_people_event(uow.connection, event)


async def on_village_event(event: CloudEvent, uow: UnitOfWork) -> None:
    await apply_designation_event(uow.connection, event)


PEOPLE = Consumer("people", ["demimas.registry.worker.>", "demimas.registry.family.>"], on_person_event)
DESIGNATIONS = Consumer("designations", ["demimas.designation.village.>"], on_village_event)
