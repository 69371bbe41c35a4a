"""The pillars use cases on an in-memory unit of work: who may do what where, what is written and published, and
that a refusal or an idempotent replay publishes nothing. (The same on PostgreSQL: tests/integration.)"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_pillars.domain.activity import Activity, AnonymousCount
from demimas_pillars.domain.commands import (
    AddMilestone,
    CompleteMilestone,
    CreatePilot,
    Enrol,
    LinkActivity,
    MoveEnrolment,
    MoveReturnee,
    RecordActivity,
    SetPilotStatus,
)
from demimas_pillars.domain.people import EnterQueue
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.vocabulary import (
    EnrolmentProgramme,
    EnrolmentStatus,
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ReintegrationStatus,
    ServicePillar,
    Sex,
)
from demimas_pillars.service_layer.activities import record_activity
from demimas_pillars.service_layer.enrolments import enrol, move_enrolment, move_returnee
from demimas_pillars.service_layer.pilots import add_milestone, complete, create_pilot, link_activity, set_status

from .fakes import NOW, TODAY, FakePillarsUoW, InMemoryPeople, act, family_member, principal, worker

KALIGOWONG, ULAK_PACEH = "33.07.01.2001", "16.06.13.2001"  # in provinces 33 and 16


def activity(code: str = KALIGOWONG, **changes: Any) -> Activity:
    base = Activity(uuid.uuid4(), code, ServicePillar.REINTEGRATION, "Pendampingan purna PMI",
                    TODAY - dt.timedelta(days=5), "KP2MI", "sub-kp2mi", NOW,
                    anonymous=(AnonymousCount(Sex.FEMALE, ParticipantGroup.RETURNEE, 4),),
                    outputs={OutputKind.RETURNEES_REINTEGRATED: 2})  # fmt: skip
    return replace(base, **changes)


# --- recording an activity


async def test_an_activity_is_written_and_published_with_counts_never_who() -> None:
    returnee = worker(KALIGOWONG, version=3, status="RETURNED")
    uow = FakePillarsUoW(people=InMemoryPeople(returnee))
    await uow.queue.enter(EnterQueue(returnee.person_id, 3, KALIGOWONG, NOW))
    a = activity(worker_ids=(returnee.person_id,))
    assert await act(uow, principal("KP2MI"), record_activity, RecordActivity(a)) == a
    assert list(uow.activities.rows) == [a.id]
    assert uow.types() == ["demimas.pillars.activity.recorded"]
    data = uow.published[0].data
    assert (data["peopleReached"], data["registeredParticipants"]) == (5, 1)
    assert str(returnee.person_id) not in str(data)
    # a REINTEGRATION activity takes the waiting returnee on
    assert uow.queue.of(returnee.person_id) == [(3, ReintegrationStatus.IN_PROGRESS, KALIGOWONG)]


@pytest.mark.parametrize(
    ("who", "changes", "error", "field"),
    [
        (("BNN",), {}, Forbidden, None),  # BNN does not deliver reintegration
        (("KEMENKO_POLKAM",), {}, Forbidden, None),  # no pillars:write
        (("BP3MI", "16"), {}, Forbidden, "villageCode"),  # the village lies outside its province
        (("KP2MI",), {"village_code": "16.06.13.9999"}, BadUserInput, "villageCode"),  # not a village
        (("KP2MI",), {"occurred_on": TODAY + dt.timedelta(days=2)}, BadUserInput, "occurredOn"),
        (("KP2MI",), {"worker_ids": (uuid.UUID(int=99),)}, BadUserInput, "participants.workerIds"),
        (("KP2MI",), {"family_member_ids": (uuid.UUID(int=98),)}, BadUserInput, "participants.familyMemberIds"),
    ],
)
async def test_a_refused_activity_writes_and_publishes_nothing(
    who: tuple[str, ...], changes: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    uow = FakePillarsUoW()
    with pytest.raises(error) as caught:
        await act(uow, principal(*who), record_activity, RecordActivity(activity(**changes)))
    if field:
        assert getattr(caught.value, "field", None) == field
    assert (uow.activities.rows, uow.published, uow.commits) == ({}, [], 0)


async def test_a_person_of_another_region_is_answered_as_an_unknown_one() -> None:
    theirs = worker(KALIGOWONG)
    uow = FakePillarsUoW(people=InMemoryPeople(theirs))
    office = principal("BP3MI", "16")
    answers = []
    for person in (theirs.person_id, uuid.uuid4()):
        with pytest.raises(BadUserInput) as refused:
            await act(uow, office, record_activity, RecordActivity(activity(ULAK_PACEH, worker_ids=(person,))))
        answers.append(refused.value.extensions)
    assert answers[0] == answers[1]
    assert uow.published == []


async def test_a_replay_with_the_key_returns_the_recorded_activity_and_publishes_nothing() -> None:
    uow, kp2mi = FakePillarsUoW(), principal("KP2MI")
    first = activity()
    await act(uow, kp2mi, record_activity, RecordActivity(first, "key-1"))
    again = await act(uow, kp2mi, record_activity, RecordActivity(replace(first, id=uuid.uuid4()), "key-1"))
    assert again.id == first.id
    assert (len(uow.activities.rows), uow.types(), uow.commits) == (1, ["demimas.pillars.activity.recorded"], 1)
    with pytest.raises(Conflict):  # the key with another input
        await act(uow, kp2mi, record_activity, RecordActivity(replace(first, id=uuid.uuid4(), title="Other"), "key-1"))
    with pytest.raises(BadUserInput):  # not a key
        await act(uow, kp2mi, record_activity, RecordActivity(activity(), ""))
    assert len(uow.published) == 1


# --- pilots


def pilot(code: str = KALIGOWONG, **changes: Any) -> Pilot:
    start = TODAY - dt.timedelta(days=60)
    base = Pilot(uuid.uuid4(), code, "Pilot terpadu", "KEMENKO_POLKAM", PilotStatus.PLANNED, start,
                 (Partner("KEMENPPPA", None, "Community parenting"), Partner("BNN", None, "Prevention sessions")),
                 (Milestone(uuid.uuid4(), "Baseline survey", TODAY - dt.timedelta(days=5), "KEMENPPPA"),),
                 NOW)  # fmt: skip
    return replace(base, **changes)


async def created(uow: FakePillarsUoW, p: Pilot | None = None) -> Pilot:
    return await act(uow, principal("KEMENKO_POLKAM"), create_pilot, CreatePilot(p or pilot()))


async def test_the_coordinator_starts_a_pilot_and_it_is_published() -> None:
    uow = FakePillarsUoW()
    p = await created(uow)
    assert list(uow.pilots.rows) == [p.id]
    assert uow.types() == ["demimas.pillars.pilot.created"]
    again = await act(uow, principal("KEMENKO_POLKAM"), create_pilot, CreatePilot(replace(p, id=uuid.uuid4()), "k"))
    replay = await act(uow, principal("KEMENKO_POLKAM"), create_pilot, CreatePilot(replace(p, id=uuid.uuid4()), "k"))
    assert replay.id == again.id
    assert len(uow.published) == 2  # the replay published nothing


@pytest.mark.parametrize(
    ("who", "reason"),
    [(("KEMENPPPA",), "not_the_coordinator"), (("BP3MI", "16"), None), (("KP2MI",), "not_the_coordinator")],
)
async def test_only_the_coordinator_starts_a_pilot_in_its_region(who: tuple[str, ...], reason: str | None) -> None:
    uow = FakePillarsUoW()
    with pytest.raises(Forbidden) as refused:
        await act(uow, principal(*who), create_pilot, CreatePilot(pilot()))
    assert refused.value.details.get("reason") == reason
    assert (uow.pilots.rows, uow.published) == ({}, [])


async def test_milestones_are_added_by_those_involved_while_the_pilot_runs() -> None:
    uow = FakePillarsUoW()
    p = await created(uow)
    m = Milestone(uuid.uuid4(), "Midline survey", TODAY, "BNN")
    with pytest.raises(Forbidden):  # KEMENDES takes no part
        await act(uow, principal("KEMENDES"), add_milestone, AddMilestone(p.id, m))
    after = await act(uow, principal("BNN"), add_milestone, AddMilestone(p.id, m))
    assert [x.id for x in after.milestones] == [p.milestones[0].id, m.id]
    await act(uow, principal("KEMENKO_POLKAM"), set_status, SetPilotStatus(p.id, PilotStatus.CANCELLED, "no budget"))
    with pytest.raises(BadUserInput):
        await act(uow, principal("BNN"), add_milestone, AddMilestone(p.id, replace(m, id=uuid.uuid4())))


async def test_a_milestone_is_completed_by_its_agency_or_the_coordinator_and_published() -> None:
    uow = FakePillarsUoW()
    p = await created(uow)
    done = CompleteMilestone(p.id, p.milestones[0].id, TODAY)
    with pytest.raises(Forbidden):  # BNN is a partner, not responsible
        await act(uow, principal("BNN"), complete, done)
    with pytest.raises(NotFound):  # outside the caller's region: as an unknown id
        await act(uow, principal("BP3MI", "16"), complete, done)
    after = await act(uow, principal("KEMENPPPA"), complete, done)
    assert after.milestones[0].completed_on == TODAY
    assert uow.types() == ["demimas.pillars.pilot.created", "demimas.pillars.pilot.milestone_completed"]
    with pytest.raises(Conflict):
        await act(uow, principal("KEMENPPPA"), complete, done)


async def test_an_activity_is_linked_to_a_pilot_of_its_village_by_a_partner() -> None:
    uow = FakePillarsUoW()
    p = await created(uow)
    here, elsewhere = activity(), activity(ULAK_PACEH)
    for a in (here, elsewhere):
        await uow.activities.add(a)
    with pytest.raises(BadUserInput):
        await act(uow, principal("BNN"), link_activity, LinkActivity(p.id, elsewhere.id))
    with pytest.raises(Forbidden):
        await act(uow, principal("KEMENDES"), link_activity, LinkActivity(p.id, here.id))
    await act(uow, principal("BNN"), link_activity, LinkActivity(p.id, here.id))
    assert uow.pilots.links == {(p.id, here.id)}


async def test_only_the_coordinator_moves_the_pilot() -> None:
    uow = FakePillarsUoW()
    p = await created(uow)
    with pytest.raises(Forbidden):
        await act(uow, principal("BNN"), set_status, SetPilotStatus(p.id, PilotStatus.ACTIVE))
    moved = await act(uow, principal("KEMENKO_POLKAM"), set_status, SetPilotStatus(p.id, PilotStatus.ACTIVE))
    assert moved.status is PilotStatus.ACTIVE
    assert uow.types() == ["demimas.pillars.pilot.created", "demimas.pillars.pilot.status_changed"]
    changed = uow.published[-1].data
    assert (changed["from"], changed["to"], changed["villageCodes"]) == ("PLANNED", "ACTIVE", [KALIGOWONG])


# --- enrolments and the reintegration queue


async def test_a_registered_person_is_enrolled_once_per_programme() -> None:
    w = worker(KALIGOWONG)
    child = family_member(w)
    uow, kp2mi = FakePillarsUoW(people=InMemoryPeople(w, child)), principal("KP2MI")
    e = await act(uow, kp2mi, enrol, Enrol(child.person_id, EnrolmentProgramme.FINANCIAL_LITERACY))
    assert (e.worker_id, e.village_code, e.status, e.enrolled_on) == (w.worker_id, KALIGOWONG,
                                                                       EnrolmentStatus.ENROLLED, TODAY)  # fmt: skip
    assert uow.types() == ["demimas.pillars.enrolment.created"]
    with pytest.raises(Conflict):
        await act(uow, kp2mi, enrol, Enrol(child.person_id, EnrolmentProgramme.FINANCIAL_LITERACY))
    with pytest.raises(BadUserInput) as too_long:
        await act(uow, kp2mi, enrol, Enrol(w.person_id, EnrolmentProgramme.ENTREPRENEURSHIP, "x" * 2001))
    assert too_long.value.field == "note"
    assert len(uow.published) == 1


async def test_a_person_of_another_region_cannot_be_enrolled_nor_told_apart_from_nobody() -> None:
    theirs = worker(KALIGOWONG)
    uow, office = FakePillarsUoW(people=InMemoryPeople(theirs)), principal("BP3MI", "16")
    answers = []
    for person in (theirs.person_id, uuid.uuid4()):
        with pytest.raises(BadUserInput) as refused:
            await act(uow, office, enrol, Enrol(person, EnrolmentProgramme.ENTREPRENEURSHIP))
        answers.append((refused.value.message, refused.value.extensions))
    assert answers[0] == answers[1]
    assert KALIGOWONG not in answers[0][0]
    assert (uow.enrolments.rows, uow.published) == ({}, [])


async def test_an_enrolment_moves_only_along_its_steps_and_keeps_its_note() -> None:
    w = worker(KALIGOWONG)
    uow, kp2mi = FakePillarsUoW(people=InMemoryPeople(w)), principal("KP2MI")
    e = await act(uow, kp2mi, enrol, Enrol(w.person_id, EnrolmentProgramme.ENTREPRENEURSHIP, "first note"))
    with pytest.raises(Conflict):
        await act(uow, kp2mi, move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.COMPLETED))
    active = await act(uow, kp2mi, move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.ACTIVE))
    assert (active.status, active.note, active.updated_at) == (EnrolmentStatus.ACTIVE, "first note", NOW)
    with pytest.raises(NotFound):  # another region's enrolment is answered as an unknown one
        await act(uow, principal("BP3MI", "16"), move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.COMPLETED))


async def test_a_returnee_moves_through_the_queue_in_the_caller_s_region() -> None:
    w = worker(KALIGOWONG, version=3, status="RETURNED")
    uow = FakePillarsUoW(people=InMemoryPeople(w))
    await uow.queue.enter(EnterQueue(w.person_id, 3, KALIGOWONG, NOW))
    with pytest.raises(NotFound):
        await act(
            uow, principal("BP3MI", "16"), move_returnee, MoveReturnee(w.person_id, ReintegrationStatus.REINTEGRATED)
        )
    moved = await act(
        uow, principal("KP2MI"), move_returnee, MoveReturnee(w.person_id, ReintegrationStatus.REINTEGRATED, "ok")
    )
    assert (moved.status, moved.note) == (ReintegrationStatus.REINTEGRATED, "ok")
    with pytest.raises(Conflict):
        await act(uow, principal("KP2MI"), move_returnee, MoveReturnee(w.person_id, ReintegrationStatus.IN_PROGRESS))
    with pytest.raises(NotFound):
        await act(uow, principal("KP2MI"), move_returnee, MoveReturnee(uuid.uuid4(), ReintegrationStatus.IN_PROGRESS))
