"""Idempotency keys without a database: which keys are accepted, and fingerprints that tell a retry (the same input,
whatever order its sets came in) from another request (any submitted value changed)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.errors import BadUserInput
from demimas_pillars.domain.activity import Activity, AnonymousCount
from demimas_pillars.domain.idempotency import (
    MAX_KEY_LENGTH,
    activity_fingerprint,
    check_key,
    fingerprint,
    milestone_fingerprint,
    pilot_fingerprint,
)
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.vocabulary import (
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ServicePillar,
    Sex,
    ThematicProgramme,
)

TODAY = dt.date(2026, 11, 22)
W1, W2 = uuid.UUID(int=1), uuid.UUID(int=2)


def activity(**changes: Any) -> Activity:
    base = Activity(
        id=uuid.uuid4(), village_code="33.07.01.2001", pillar=ServicePillar.ENTREPRENEURSHIP,
        title="Pelatihan wirausaha purna PMI", occurred_on=TODAY - dt.timedelta(days=3), agency="KP2MI",
        recorded_by="sub", recorded_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC), worker_ids=(W1, W2),
        anonymous=(AnonymousCount(Sex.FEMALE, ParticipantGroup.RETURNEE, 12),
                   AnonymousCount(Sex.MALE, ParticipantGroup.RETURNEE, 3)),
        outputs={OutputKind.PARTICIPANTS_TRAINED: 12, OutputKind.BUSINESSES_STARTED: 3},
    )  # fmt: skip
    return replace(base, **changes)


def pilot(**changes: Any) -> Pilot:
    base = Pilot(
        uuid.uuid4(), "33.07.01.2001", "Pilot Demimas terpadu", "KEMENKO_POLKAM", PilotStatus.PLANNED,
        TODAY - dt.timedelta(days=10),
        (Partner("KEMENPPPA", ThematicProgramme.DRPPA, "Community parenting"), Partner("BNN", None, "Prevention")),
        (Milestone(uuid.uuid4(), "Baseline survey", TODAY + dt.timedelta(days=30), "KEMENPPPA"),),
        dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
    )  # fmt: skip
    return replace(base, **changes)


@pytest.mark.parametrize(
    "key", ["a", "x" * MAX_KEY_LENGTH, str(uuid.uuid4()), "sikap-2026/11/activity#42", "with spaces ~!@"]
)
def test_good_keys_are_kept_as_given(key: str) -> None:
    assert check_key(key) == key


def test_no_key_is_no_key() -> None:
    assert check_key(None) is None


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "1 to 100 characters (it has 0)"),
        ("x" * (MAX_KEY_LENGTH + 1), "1 to 100 characters (it has 101)"),
        ("kunci-\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
        ("line\n", "printable ASCII"),
        ("nul\x00", "printable ASCII"),
    ],
)
def test_bad_keys_are_refused_naming_the_field(key: str, says: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        check_key(key)
    assert caught.value.field == "idempotencyKey"
    assert says in caught.value.message


def test_a_fingerprint_is_a_sha256_of_operation_and_input() -> None:
    one = fingerprint("recordActivity", {"a": 1, "b": [1, 2]})
    assert len(one) == 64
    assert int(one, 16) >= 0
    assert one == fingerprint("recordActivity", {"b": [1, 2], "a": 1})  # key order does not matter
    assert one != fingerprint("createPilotProject", {"a": 1, "b": [1, 2]})
    assert one != fingerprint("recordActivity", {"a": 1, "b": [2, 1]})  # list order does, unless canonicalised


def test_a_retry_of_an_activity_has_the_same_fingerprint_whatever_the_server_or_the_order() -> None:
    first = activity()
    retry = replace(
        first,
        id=uuid.uuid4(),  # ids, times and the recorder are the server's, not the input
        recorded_at=first.recorded_at + dt.timedelta(minutes=5),
        recorded_by="another-sub",
        worker_ids=(W2, W1),
        anonymous=tuple(reversed(first.anonymous)),
        outputs=dict(reversed(list(first.outputs.items()))),
    )
    assert activity_fingerprint(retry) == activity_fingerprint(first)


@pytest.mark.parametrize(
    "changes",
    [
        {"village_code": "33.07.01.2002"},
        {"pillar": ServicePillar.REINTEGRATION},
        {"title": "Pelatihan wirausaha purna PMI II"},
        {"occurred_on": TODAY - dt.timedelta(days=4)},
        {"programme": ThematicProgramme.DRPPA},
        {"description": "Di balai desa"},
        {"worker_ids": (W1,)},
        {"family_member_ids": (W2,)},
        {"anonymous": (AnonymousCount(Sex.FEMALE, ParticipantGroup.RETURNEE, 13),)},
        {"outputs": {OutputKind.PARTICIPANTS_TRAINED: 12}},
    ],
)
def test_any_change_of_an_activity_changes_its_fingerprint(changes: dict[str, Any]) -> None:
    assert activity_fingerprint(activity(**changes)) != activity_fingerprint(activity())


def test_pilot_and_milestone_fingerprints() -> None:
    first = pilot()
    reordered = replace(first, id=uuid.uuid4(), partners=tuple(reversed(first.partners)),
                        milestones=tuple(replace(m, id=uuid.uuid4()) for m in first.milestones))  # fmt: skip
    assert pilot_fingerprint(reordered) == pilot_fingerprint(first)
    assert pilot_fingerprint(replace(first, title="Pilot Demimas terpadu 2")) != pilot_fingerprint(first)
    assert pilot_fingerprint(replace(first, partners=first.partners[:1])) != pilot_fingerprint(first)
    assert pilot_fingerprint(replace(first, milestones=())) != pilot_fingerprint(first)
    m = first.milestones[0]
    assert milestone_fingerprint(first.id, replace(m, id=uuid.uuid4())) == milestone_fingerprint(first.id, m)
    assert milestone_fingerprint(uuid.uuid4(), m) != milestone_fingerprint(first.id, m)
    assert milestone_fingerprint(first.id, replace(m, title="Endline survey")) != milestone_fingerprint(first.id, m)
