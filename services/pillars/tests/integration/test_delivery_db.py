"""Recording activities, pilots and enrolments on PostgreSQL: who may do what where, participants known to the
`people` projection, progress over the window, events in the outbox, nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_common.events.envelope import new_event
from demimas_pillars.adapters.progress import progress_of_villages
from demimas_pillars.adapters.tables import activities, events, reintegration_queue
from demimas_pillars.domain.activity import Activity, AnonymousCount
from demimas_pillars.domain.commands import (
    CompleteMilestone,
    CreatePilot,
    Enrol,
    LinkActivity,
    MoveEnrolment,
    RecordActivity,
    SetPilotStatus,
)
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.vocabulary import (
    OUTPUTS,
    EnrolmentProgramme,
    EnrolmentStatus,
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ServicePillar,
    Sex,
)
from demimas_pillars.service_layer import enrolments as enrolment_flow
from demimas_pillars.service_layer import pilots as pilot_flow
from demimas_pillars.service_layer.activities import record_activity
from demimas_pillars.service_layer.consumers import on_person_event

from .conftest import NOW, TODAY, act, consume, principal, village

pytestmark = pytest.mark.integration


def activity(code: str, pillar: ServicePillar = ServicePillar.REINTEGRATION, *, agency: str = "KP2MI",
             days_ago: int = 5, **changes: Any) -> Activity:  # fmt: skip
    base = Activity(uuid.uuid4(), code, pillar, "Pendampingan purna PMI", TODAY - dt.timedelta(days=days_ago), agency,
                    "sub", NOW, anonymous=(AnonymousCount(Sex.FEMALE, ParticipantGroup.RETURNEE, 4),),
                    outputs={OutputKind.RETURNEES_REINTEGRATED: 2})  # fmt: skip
    return replace(base, **changes)


async def registered(engine: AsyncEngine, code: str, *, returned: bool = False) -> uuid.UUID:
    worker = str(uuid.uuid4())
    kind, status, version = ("returned", "RETURNED", 3) if returned else ("registered", "CANDIDATE", 1)
    event = new_event(f"demimas.registry.worker.{kind}", worker,
                      {"workerId": worker, "villageCode": code, "status": status, "version": version})  # fmt: skip
    await consume(engine, on_person_event, event)
    return uuid.UUID(worker)


async def count(engine: AsyncEngine, code: str) -> tuple[int, int]:
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).where(activities.c.village_code == code))
        e = await conn.scalar(select(func.count()).where(events.outbox.c.payload["data"]["villageCode"].astext == code))
    return int(n or 0), int(e or 0)


async def test_an_activity_with_registered_and_anonymous_participants(engine: AsyncEngine) -> None:
    code = village()
    returnee = await registered(engine, code, returned=True)
    a = activity(code, worker_ids=(returnee,))
    await act(engine, principal("KP2MI"), record_activity, RecordActivity(a))
    assert await count(engine, code) == (1, 1)
    async with engine.connect() as conn:
        status = await conn.scalar(
            select(reintegration_queue.c.status).where(reintegration_queue.c.worker_id == returnee)
        )
        outbox = (await conn.execute(select(events.outbox.c.payload).where(events.outbox.c.subject == str(a.id)))).one()
    assert status == "IN_PROGRESS"  # a reintegration activity takes the waiting returnee on
    data = outbox[0]["data"]
    assert (data["peopleReached"], data["registeredParticipants"]) == (5, 1)
    assert str(returnee) not in str(outbox[0])  # counts, never who


@pytest.mark.parametrize(
    ("who", "changes", "error", "field"),
    [
        (("BNN",), {}, Forbidden, None),  # BNN does not deliver reintegration
        (("KEMENKO_POLKAM",), {}, Forbidden, None),  # no pillars:write
        (("BP3MI", "16"), {}, Forbidden, "villageCode"),  # outside its province (village is elsewhere)
        (("KP2MI",), {"worker_ids": (uuid.UUID(int=99),)}, BadUserInput, "participants.workerIds"),
        (("KP2MI",), {"family_member_ids": (uuid.UUID(int=98),)}, BadUserInput, "participants.familyMemberIds"),
        (("KP2MI",), {"outputs": {OutputKind.LOANS_FACILITATED: 1, OutputKind.JOB_ORDERS_SHARED: 2}},
         BadUserInput, "outputs.kind"),
        (("KP2MI",), {"occurred_on": TODAY + dt.timedelta(days=2)}, BadUserInput, "occurredOn"),
        (("KP2MI",), {"village_code": "16.06.13.9999"}, BadUserInput, "villageCode"),
    ],
)  # fmt: skip
async def test_refused_activities_write_nothing(
    engine: AsyncEngine, who: tuple[str, ...], changes: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    code = village()
    while code.startswith("16."):
        code = village()
    with pytest.raises(error) as caught:
        await act(engine, principal(*who), record_activity, RecordActivity(activity(code, **changes)))
    if field:
        assert getattr(caught.value, "field", None) == field
    assert await count(engine, code) == (0, 0)


async def test_progress_counts_the_window_distinct_people_and_outputs(engine: AsyncEngine) -> None:
    code = village()
    worker = await registered(engine, code)
    kp2mi, kemendes = principal("KP2MI"), principal("KEMENDES")
    await act(engine, kp2mi, record_activity, RecordActivity(activity(code, worker_ids=(worker,))))
    await act(engine, kp2mi, record_activity, RecordActivity(activity(code, worker_ids=(worker,), days_ago=40)))
    await act(
        engine,
        kemendes,
        record_activity,
        RecordActivity(
            activity(
                code, ServicePillar.COOPERATIVE_BUMDES, agency="KEMENDES", outputs={OutputKind.LOANS_FACILITATED: 3}
            )
        ),
    )
    await act(engine, kp2mi, record_activity, RecordActivity(activity(code, days_ago=400)))  # outside the 12 months
    async with engine.connect() as conn:
        found = await progress_of_villages(
            conn, [code, village()], window_from=TODAY - dt.timedelta(days=364), window_to=TODAY
        )
    p = found[code]
    assert (p.pillars_served, p.coverage) == (2, 0.2)
    reintegration = next(x for x in p.pillars if x.pillar is ServicePillar.REINTEGRATION)
    assert (reintegration.activities, reintegration.people_reached) == (2, 1 + 4 + 4)  # the worker once
    assert reintegration.outputs == ((OutputKind.RETURNEES_REINTEGRATED, 4),)
    assert [v.pillars_served for k, v in found.items() if k != code] == [0]


def pilot(code: str, **changes: Any) -> Pilot:
    start = TODAY - dt.timedelta(days=60)
    base = Pilot(
        uuid.uuid4(),
        code,
        "Pilot terpadu",
        "KEMENKO_POLKAM",
        PilotStatus.PLANNED,
        start,
        (Partner("KEMENPPPA", None, "Community parenting"), Partner("BNN", None, "Prevention sessions")),
        (
            Milestone(uuid.uuid4(), "Baseline survey", TODAY - dt.timedelta(days=5), "KEMENPPPA"),
            Milestone(uuid.uuid4(), "Evaluation", TODAY + dt.timedelta(days=30), "KEMENKO_POLKAM"),
        ),
        NOW,
    )
    return replace(base, **changes)


async def test_a_pilot_is_created_completed_and_linked_by_the_right_agencies(engine: AsyncEngine) -> None:
    code = village()
    p = await act(engine, principal("KEMENKO_POLKAM"), pilot_flow.create_pilot, CreatePilot(pilot(code)))
    late = p.milestones[0]
    with pytest.raises(Forbidden):  # BNN is a partner, but not responsible for this milestone
        await act(engine, principal("BNN"), pilot_flow.complete, CompleteMilestone(p.id, late.id, TODAY))
    done = await act(engine, principal("KEMENPPPA"), pilot_flow.complete, CompleteMilestone(p.id, late.id, TODAY))
    assert done.milestones[0].completed_on == TODAY
    with pytest.raises(Conflict):
        await act(engine, principal("KEMENPPPA"), pilot_flow.complete, CompleteMilestone(p.id, late.id, TODAY))
    elsewhere = await act(engine, principal("KP2MI"), record_activity, RecordActivity(activity(village())))
    with pytest.raises(BadUserInput):
        await act(engine, principal("BNN"), pilot_flow.link_activity, LinkActivity(p.id, elsewhere.id))
    here = await act(engine, principal("KP2MI"), record_activity, RecordActivity(activity(code)))
    with pytest.raises(Forbidden):  # KEMENDES takes no part in this pilot
        await act(engine, principal("KEMENDES"), pilot_flow.link_activity, LinkActivity(p.id, here.id))
    linked = await act(engine, principal("BNN"), pilot_flow.link_activity, LinkActivity(p.id, here.id))
    assert linked.id == p.id
    with pytest.raises(Forbidden):  # only the coordinator moves the pilot
        await act(engine, principal("BNN"), pilot_flow.set_status, SetPilotStatus(p.id, PilotStatus.ACTIVE, None))
    active = await act(
        engine, principal("KEMENKO_POLKAM"), pilot_flow.set_status, SetPilotStatus(p.id, PilotStatus.ACTIVE, None)
    )
    assert active.status is PilotStatus.ACTIVE


async def test_a_pilot_by_an_agency_that_takes_no_part_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(Forbidden):
        await act(engine, principal("KEMENDES"), pilot_flow.create_pilot, CreatePilot(pilot(village())))


async def test_only_the_coordinator_starts_a_pilot(engine: AsyncEngine) -> None:
    """A partner cannot start a pilot in another agency's name (it names KEMENKO_POLKAM coordinator here)."""
    with pytest.raises(Forbidden) as refused:
        await act(engine, principal("KEMENPPPA"), pilot_flow.create_pilot, CreatePilot(pilot(village())))
    assert refused.value.extensions == {"code": "FORBIDDEN", "field": "coordinator", "reason": "not_the_coordinator"}


async def test_a_pilot_of_another_region_is_not_found_by_id_not_forbidden(engine: AsyncEngine) -> None:
    """A write by id must not confirm that a record exists in another region, nor say where."""
    code = village("33.07")
    p = await act(engine, principal("KEMENKO_POLKAM"), pilot_flow.create_pilot, CreatePilot(pilot(code)))
    with pytest.raises(NotFound) as hidden:
        await act(
            engine, principal("BP3MI", "16"), pilot_flow.complete, CompleteMilestone(p.id, p.milestones[0].id, TODAY)
        )
    assert code not in hidden.value.message
    assert hidden.value.extensions["field"] == "id"  # as for an id nobody has


async def test_one_open_enrolment_per_programme(engine: AsyncEngine) -> None:
    code = village()
    worker = await registered(engine, code)
    kp2mi = principal("KP2MI")
    e = await act(engine, kp2mi, enrolment_flow.enrol, Enrol(worker, EnrolmentProgramme.FINANCIAL_LITERACY, None))
    with pytest.raises(Conflict):
        await act(engine, kp2mi, enrolment_flow.enrol, Enrol(worker, EnrolmentProgramme.FINANCIAL_LITERACY, None))
    with pytest.raises(BadUserInput):
        await act(engine, kp2mi, enrolment_flow.enrol, Enrol(uuid.uuid4(), EnrolmentProgramme.ENTREPRENEURSHIP, None))
    with pytest.raises(Conflict):
        await act(engine, kp2mi, enrolment_flow.move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.COMPLETED, None))
    await act(engine, kp2mi, enrolment_flow.move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.ACTIVE, None))
    done = await act(
        engine, kp2mi, enrolment_flow.move_enrolment, MoveEnrolment(e.id, EnrolmentStatus.COMPLETED, "certificate")
    )
    assert done.status is EnrolmentStatus.COMPLETED
    again = await act(engine, kp2mi, enrolment_flow.enrol, Enrol(worker, EnrolmentProgramme.FINANCIAL_LITERACY, None))
    assert again.id != e.id  # a completed enrolment leaves room for a new one


async def test_rollups_agree_with_the_activities_after_random_recording(engine: AsyncEngine) -> None:
    """Progress read from the rollups equals progress recomputed from the recorded activities themselves."""
    rng = random.Random(11)
    codes = [village(), village()]
    people = {c: [await registered(engine, c) for _ in range(6)] for c in codes}
    recorded: list[Activity] = []
    for _ in range(40):
        code, pillar = rng.choice(codes), rng.choice([ServicePillar.REINTEGRATION, ServicePillar.ENTREPRENEURSHIP])
        outputs = {k: rng.randrange(0, 9) for k in rng.sample(sorted(OUTPUTS[pillar]), 2)}
        crowd = (AnonymousCount(Sex.MALE, ParticipantGroup.COMMUNITY, rng.randrange(1, 9)),)
        a = activity(code, pillar, days_ago=rng.randrange(0, 500), outputs=outputs, anonymous=crowd,
                     worker_ids=tuple(rng.sample(people[code], rng.randrange(0, 4))))  # fmt: skip
        recorded.append(await act(engine, principal("KP2MI"), record_activity, RecordActivity(a)))
    start = TODAY - dt.timedelta(days=364)
    async with engine.connect() as conn:
        found = await progress_of_villages(conn, codes, window_from=start, window_to=TODAY)
    for code in codes:
        for pillar in ServicePillar:
            mine = [a for a in recorded if (a.village_code, a.pillar) == (code, pillar) and a.occurred_on >= start]
            got = next(x for x in found[code].pillars if x.pillar is pillar)
            outputs: dict[OutputKind, int] = {}
            for a in mine:
                for k, v in a.outputs.items():
                    outputs[k] = outputs.get(k, 0) + v
            distinct = {w for a in mine for w in a.worker_ids}
            expected = (len(mine), len(distinct) + sum(c.count for a in mine for c in a.anonymous),
                        tuple(sorted(outputs.items())), max((a.occurred_on for a in mine), default=None))  # fmt: skip
            assert (got.activities, got.people_reached, got.outputs, got.last_activity_on) == expected


async def test_a_person_of_another_region_is_answered_as_unknown_and_left_untouched(engine: AsyncEngine) -> None:
    """A regional office can neither involve nor probe people outside its region: the same answer as for an id
    nobody registered, and the other region's reintegration queue does not move."""
    office = principal("BP3MI", "16")
    here, there = village("16.06"), village("33.07")
    theirs, nobody = await registered(engine, there, returned=True), uuid.uuid4()
    answers = []
    for person in (theirs, nobody):
        with pytest.raises(BadUserInput) as refused:
            await act(engine, office, record_activity, RecordActivity(activity(here, worker_ids=(person,))))
        answers.append(refused.value.extensions)
    assert answers[0] == answers[1]  # nothing tells the two apart
    async with engine.connect() as conn:
        status = await conn.scalar(
            select(reintegration_queue.c.status).where(reintegration_queue.c.worker_id == theirs)
        )
    assert status == "WAITING"
    enrolled = []
    for person in (theirs, nobody):
        with pytest.raises(BadUserInput) as refused:
            await act(engine, office, enrolment_flow.enrol, Enrol(person, EnrolmentProgramme.ENTREPRENEURSHIP, None))
        enrolled.append((refused.value.message, refused.value.extensions))
    assert enrolled[0] == enrolled[1]
    assert there not in enrolled[0][0]


async def test_idempotency_keys_are_each_office_s_own(engine: AsyncEngine) -> None:
    """Two provinces' BP3MI offices may use the same key: neither collides with, nor learns of, the other's."""
    key = f"shared-key-{uuid.uuid4()}"
    first = await act(
        engine, principal("BP3MI", "33"), record_activity, RecordActivity(activity(village("33.07")), key)
    )
    second = await act(
        engine, principal("BP3MI", "16"), record_activity, RecordActivity(activity(village("16.06")), key)
    )
    assert first.id != second.id
