"""The cases service's durable consumer `people`, on the registry's worker and family events: which registered
people exist, where they live and whether a family member is a minor, so that a case names only people the
caller's region holds and a case about a child is restricted by default."""

from __future__ import annotations

import uuid

from demimas_cases.service_layer.ports import CasesUoW
from demimas_common.events.envelope import CloudEvent
from demimas_common.skeleton import Consumer

__all__ = ["PEOPLE", "on_person_event"]


async def on_person_event(event: CloudEvent, uow: CasesUoW) -> None:
    data = event.data
    if event.type == "demimas.registry.family.added":
        await uow.people.save_family_member(
            uuid.UUID(data["familyMemberId"]),
            uuid.UUID(data["workerId"]),
            data.get("villageCode"),
            bool(data["minor"]),
        )
    elif "workerId" in data and "version" in data and "villageCode" in data:
        await uow.people.save_worker(uuid.UUID(data["workerId"]), data["villageCode"], int(data["version"]))
    await uow.commit()


PEOPLE = Consumer("cases-people", ["demimas.registry.worker.>", "demimas.registry.family.>"], on_person_event)
"""Durable names are per stream, not per service: each service names its own (pillars has `people`)."""
