"""Idempotency keys (in the spirit of Stripe's `Idempotency-Key`): a client that lost the answer to a create sends it
again with the same key and gets the row the first attempt made, not a second one.

A key is the caller's: scoped to its office (`key_owner`: the agency, and the region of a regional office's token, so
that two provinces' BP3MI offices neither collide nor learn of each other's keys), 1 to 100 printable ASCII
characters. With the key the service stores a fingerprint of the request (its operation and canonical input: sets in
a fixed order, no server-chosen values such as ids and times), so the same key sent with a different input is told
apart from a retry. Pure: the claim itself (a unique index on agency and key) is in adapters/idempotency.py."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
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

MAX_KEY_LENGTH = 100
_KEY = re.compile(r"[\x20-\x7e]+")


def key_owner(principal: Principal) -> str:
    """Whose keys these are: `BP3MI@16` for a regional office, `KEMENDES` for a national agency."""
    agency = principal.agency.value
    return f"{agency}@{principal.region}" if principal.region is not None else agency


def check_key(key: str | None, field: str = "idempotencyKey") -> str | None:
    """The key as given (None when absent); BadUserInput naming `field` when it is empty, too long or not printable
    ASCII. A UUID or `<system>-<record id>` both fit."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise BadUserInput(
            f"{field} must have 1 to {MAX_KEY_LENGTH} characters (it has {len(key)}); a UUID is a good key",
            field=field,
        )
    if not _KEY.fullmatch(key):
        raise BadUserInput(
            f"{field} must be printable ASCII (letters, digits, punctuation, spaces); a UUID is a good key",
            field=field,
        )
    return key


def fingerprint(operation: str, canonical: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the operation and its canonical input as compact JSON with sorted keys."""
    body = json.dumps({"operation": operation, "input": canonical}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


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
    return {"title": m.title, "dueDate": m.due_date.isoformat(), "responsibleAgency": m.responsible_agency}


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
        },
    )


def milestone_fingerprint(pilot_id: uuid.UUID, m: Milestone) -> str:
    """What the caller submitted to addMilestone: the pilot and the milestone."""
    return fingerprint("addMilestone", {"pilotId": str(pilot_id), **_milestone(m)})
