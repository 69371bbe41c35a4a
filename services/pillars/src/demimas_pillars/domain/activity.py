"""An activity: one delivery of a service pillar in a village by an agency, with its participants and outputs.

Validation here is pure (no I/O): the service layer adds what needs the database (participant ids known to the
`people` projection) and the caller's permissions."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from demimas_common.errors import BadUserInput
from demimas_pillars.domain.vocabulary import (
    OUTPUTS,
    OutputKind,
    ParticipantGroup,
    ServicePillar,
    Sex,
    ThematicProgramme,
)

__all__ = ["MAX_PARTICIPANT_IDS", "Activity", "AnonymousCount", "check_activity"]

MAX_PARTICIPANT_IDS = 2000
MAX_COUNT = 100_000


@dataclass(frozen=True, slots=True)
class AnonymousCount:
    """People reached who are not registered (a village meeting, a school session), counted by sex and group."""

    sex: Sex
    group: ParticipantGroup
    count: int


@dataclass(frozen=True)
class Activity:
    id: uuid.UUID
    village_code: str
    pillar: ServicePillar
    title: str
    occurred_on: dt.date
    agency: str
    recorded_by: str
    recorded_at: dt.datetime
    programme: ThematicProgramme | None = None
    description: str | None = None
    worker_ids: tuple[uuid.UUID, ...] = ()
    family_member_ids: tuple[uuid.UUID, ...] = ()
    anonymous: tuple[AnonymousCount, ...] = ()
    outputs: Mapping[OutputKind, int] = field(default_factory=dict)

    @property
    def people_reached(self) -> int:
        return len(self.worker_ids) + len(self.family_member_ids) + sum(a.count for a in self.anonymous)


def _no_duplicates(values: Iterable[object], what: str, field_name: str) -> None:
    twice = [v for v, n in Counter(values).items() if n > 1]
    if twice:
        raise BadUserInput(f"{what} {twice[0]} appears twice", field=field_name)


def check_activity(activity: Activity, *, today: dt.date) -> None:
    """Everything about an activity that needs no database; raises BadUserInput naming the field."""
    title = activity.title.strip()
    if not 3 <= len(title) <= 200:
        raise BadUserInput("title must have 3 to 200 characters", field="title")
    if activity.description is not None and len(activity.description) > 4000:
        raise BadUserInput("description must have at most 4000 characters", field="description")
    if activity.occurred_on > today:
        raise BadUserInput(f"occurredOn {activity.occurred_on} is in the future", field="occurredOn")
    if activity.occurred_on < dt.date(2017, 1, 1):
        raise BadUserInput("occurredOn before 2017 predates the programme and its predecessor", field="occurredOn")
    allowed = OUTPUTS[activity.pillar]
    for kind, value in activity.outputs.items():
        if kind not in allowed:
            names = ", ".join(sorted(allowed))
            raise BadUserInput(
                f"output {kind} does not belong to {activity.pillar} (allowed: {names})", field="outputs.kind"
            )
        if not 0 <= value <= MAX_COUNT:
            raise BadUserInput(f"output {kind} must be between 0 and {MAX_COUNT}", field="outputs.value")
    for ids, name in ((activity.worker_ids, "workerIds"), (activity.family_member_ids, "familyMemberIds")):
        if len(ids) > MAX_PARTICIPANT_IDS:
            raise BadUserInput(f"at most {MAX_PARTICIPANT_IDS} {name} per activity", field=f"participants.{name}")
        _no_duplicates(ids, "participant", f"participants.{name}")
    _no_duplicates(((a.sex, a.group) for a in activity.anonymous), "anonymous count for", "participants.anonymous")
    for a in activity.anonymous:
        if not 1 <= a.count <= MAX_COUNT:
            raise BadUserInput(
                f"an anonymous count must be between 1 and {MAX_COUNT}", field="participants.anonymous.count"
            )
