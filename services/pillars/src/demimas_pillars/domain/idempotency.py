"""Fingerprints of the pillars service's idempotent operations (the key rules are `demimas_common.idempotency`)."""

from __future__ import annotations

import uuid
from typing import Any

from demimas_common.idempotency import MAX_KEY_LENGTH, check_key, fingerprint, key_owner
from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.pilot import Milestone, Pilot

__all__ = [
    "MAX_KEY_LENGTH",
    "activity_fingerprint",
    "check_key",
    "fingerprint",
    "key_owner",
    "milestone_fingerprint",
    "pilot_fingerprint",
]


def _ids(values: tuple[uuid.UUID, ...]) -> list[str]:
    return sorted(str(v) for v in values)


def activity_fingerprint(a: Activity) -> str:
    """What the caller submitted to recordActivity; participants, anonymous counts and outputs in a fixed order."""
    return fingerprint(
        "recordActivity",
        {
            "villageCode": a.village_code,
            "pillar": a.pillar.value,
            "title": a.title,
            "occurredOn": a.occurred_on.isoformat(),
            "programme": a.programme.value if a.programme else None,
            "description": a.description,
            "workerIds": _ids(a.worker_ids),
            "familyMemberIds": _ids(a.family_member_ids),
            "anonymous": sorted([c.sex.value, c.group.value, c.count] for c in a.anonymous),
            "outputs": {k.value: v for k, v in a.outputs.items()},
        },
    )


def _milestone(m: Milestone) -> dict[str, Any]:
    found = {"title": m.title, "dueDate": m.due_date.isoformat(), "responsibleAgency": m.responsible_agency}
    if m.village_code is not None:  # only when given, so that keys stored before villages keep their fingerprint
        found["villageCode"] = m.village_code
    return found


def pilot_fingerprint(p: Pilot) -> str:
    """What the caller submitted to createPilotProject: partners by agency, milestones in the order given (their
    order is their sequence)."""
    return fingerprint(
        "createPilotProject",
        {
            "villageCode": p.village_code,
            "title": p.title,
            "startDate": p.start_date.isoformat(),
            "coordinator": p.coordinator,
            "partners": sorted(
                ([x.agency, x.programme.value if x.programme else None, x.commitment] for x in p.partners),
                key=lambda x: str(x[0]),
            ),
            "milestones": [_milestone(m) for m in p.milestones],
        }
        | ({"villageCodes": sorted(p.villages)} if p.villages else {}),
    )


def milestone_fingerprint(pilot_id: uuid.UUID, m: Milestone) -> str:
    """What the caller submitted to addMilestone: the pilot and the milestone."""
    return fingerprint("addMilestone", {"pilotId": str(pilot_id), **_milestone(m)})
