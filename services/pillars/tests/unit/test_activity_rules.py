"""The pure rules of an activity, a pilot project, enrolments and progress: no I/O."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, Conflict, Forbidden
from demimas_pillars.domain.activity import Activity, AnonymousCount, check_activity
from demimas_pillars.domain.cases import CASES_PILLAR
from demimas_pillars.domain.enrolment import check_enrolment_move, check_reintegration_move
from demimas_pillars.domain.permissions import DEFAULT_PILLAR_AGENCIES, require_pillar_agency
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot, check_pilot, complete_milestone, is_overdue, move
from demimas_pillars.domain.progress import CaseCounts, PillarFigures, progress_of
from demimas_pillars.domain.vocabulary import (
    OUTPUTS,
    SERVES,
    EmasPillar,
    EnrolmentStatus,
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ReintegrationStatus,
    ServicePillar,
    Sex,
)

TODAY = dt.date(2026, 11, 22)


def activity(**changes: Any) -> Activity:
    base = Activity(
        id=uuid.uuid4(), village_code="33.07.01.2001", pillar=ServicePillar.ENTREPRENEURSHIP,
        title="Pelatihan wirausaha purna PMI", occurred_on=TODAY - dt.timedelta(days=3), agency="KP2MI",
        recorded_by="sub", recorded_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
        anonymous=(AnonymousCount(Sex.FEMALE, ParticipantGroup.RETURNEE, 12),),
        outputs={OutputKind.PARTICIPANTS_TRAINED: 12, OutputKind.BUSINESSES_STARTED: 3},
    )  # fmt: skip
    return replace(base, **changes)


def test_every_pillar_serves_an_emas_pillar_and_reports_outputs() -> None:
    assert set(SERVES) == set(ServicePillar) == set(OUTPUTS) == set(DEFAULT_PILLAR_AGENCIES)
    assert all(OUTPUTS[p] for p in ServicePillar)


def test_a_good_activity_passes_and_counts_people() -> None:
    a = activity(worker_ids=(uuid.uuid4(), uuid.uuid4()))
    check_activity(a, today=TODAY)
    assert a.people_reached == 14


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"outputs": {OutputKind.TRAFFICKING_CASES_REFERRED: 1}}, "outputs.kind"),
        ({"outputs": {OutputKind.PARTICIPANTS_TRAINED: -1}}, "outputs.value"),
        ({"occurred_on": TODAY + dt.timedelta(days=1)}, "occurredOn"),
        ({"occurred_on": dt.date(2010, 1, 1)}, "occurredOn"),
        ({"title": "  "}, "title"),
        ({"worker_ids": (uuid.UUID(int=1), uuid.UUID(int=1))}, "participants.workerIds"),
        ({"anonymous": (AnonymousCount(Sex.MALE, ParticipantGroup.CHILD, 0),)}, "participants.anonymous.count"),
        ({"anonymous": (AnonymousCount(Sex.MALE, ParticipantGroup.CHILD, 2),) * 2}, "participants.anonymous"),
    ],
)
def test_bad_activities_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        check_activity(activity(**changes), today=TODAY)
    assert caught.value.field == field


def principal(agency: Agency) -> Principal:
    return Principal("s", agency, DEFAULT_GRANTS[agency])


@pytest.mark.parametrize(
    ("agency", "pillar", "allowed"),
    [
        (Agency.KEMENPPPA, ServicePillar.FAMILY_STRENGTHENING, True),
        (Agency.KEMENPPPA, ServicePillar.COOPERATIVE_BUMDES, False),
        (Agency.KEMENDES, ServicePillar.COOPERATIVE_BUMDES, True),
        (Agency.BNN, ServicePillar.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION, True),
        (Agency.BNN, ServicePillar.DEPARTURE_RETURN_MONITORING, False),
        (Agency.KEMENIMIPAS, ServicePillar.DEPARTURE_RETURN_MONITORING, True),
        (Agency.DISNAKER, ServicePillar.PROCEDURAL_MIGRATION_SERVICE, False),  # no pillars:write at all
        (Agency.KEMENKO_POLKAM, ServicePillar.FAMILY_STRENGTHENING, False),
    ],
)
def test_who_records_which_pillar(agency: Agency, pillar: ServicePillar, allowed: bool) -> None:
    if allowed:
        require_pillar_agency(principal(agency), pillar, DEFAULT_PILLAR_AGENCIES)
    else:
        with pytest.raises(Forbidden):
            require_pillar_agency(principal(agency), pillar, DEFAULT_PILLAR_AGENCIES)


def pilot(**changes: Any) -> Pilot:
    base = Pilot(
        uuid.uuid4(), "33.07.01.2001", "Pilot terpadu", "KEMENKO_POLKAM", PilotStatus.ACTIVE, dt.date(2026, 3, 1),
        (Partner("KEMENPPPA", None, "Community parenting"), Partner("BNN", None, "Prevention sessions")),
        (Milestone(uuid.UUID(int=7), "Baseline survey", dt.date(2026, 5, 1), "KEMENPPPA"),),
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"partners": ()}, "partners"),
        ({"partners": (Partner("BNN", None, "x" * 5), Partner("BNN", None, "y" * 5))}, "partners.agency"),
        ({"milestones": (Milestone(uuid.uuid4(), "Early", dt.date(2026, 1, 1), "BNN"),)}, "milestones.dueDate"),
        ({"milestones": (Milestone(uuid.uuid4(), "Outsider", dt.date(2026, 6, 1), "KEMENDES"),)},
         "milestones.responsibleAgency"),
    ],
)  # fmt: skip
def test_bad_pilots_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        check_pilot(pilot(**changes))
    assert caught.value.field == field


def test_milestones_complete_once_not_in_the_future_and_are_overdue_when_late() -> None:
    p = pilot()
    m = p.milestones[0]
    assert is_overdue(m, p.status, TODAY)
    assert not is_overdue(m, PilotStatus.CANCELLED, TODAY)
    with pytest.raises(BadUserInput):
        complete_milestone(p, m.id, TODAY + dt.timedelta(days=1), "KEMENPPPA", today=TODAY)
    done = complete_milestone(p, m.id, TODAY, "KEMENPPPA", today=TODAY)
    assert not is_overdue(done, p.status, TODAY)
    with pytest.raises(Conflict):
        complete_milestone(replace(p, milestones=(done,)), m.id, TODAY, "KEMENPPPA", today=TODAY)


def test_pilot_lifecycle() -> None:
    p = pilot(status=PilotStatus.PLANNED)
    assert move(p, PilotStatus.ACTIVE, None).status is PilotStatus.ACTIVE
    with pytest.raises(Conflict):
        move(p, PilotStatus.COMPLETED, None)
    with pytest.raises(BadUserInput):
        move(p, PilotStatus.CANCELLED, " ")


def test_enrolment_and_reintegration_moves() -> None:
    check_enrolment_move(EnrolmentStatus.ENROLLED, EnrolmentStatus.ACTIVE)
    with pytest.raises(Conflict):
        check_enrolment_move(EnrolmentStatus.COMPLETED, EnrolmentStatus.ACTIVE)
    check_reintegration_move(ReintegrationStatus.WAITING, ReintegrationStatus.IN_PROGRESS)
    with pytest.raises(Conflict):
        check_reintegration_move(ReintegrationStatus.REINTEGRATED, ReintegrationStatus.WAITING)


def test_progress_lists_the_ten_pillars_and_coverage() -> None:
    figures = [
        PillarFigures(ServicePillar.REINTEGRATION, 2, 30, TODAY, {OutputKind.RETURNEES_REINTEGRATED: 4}),
        PillarFigures(ServicePillar.FAMILY_STRENGTHENING, 1, 12, TODAY),
    ]
    p = progress_of("33.07.01.2001", figures, window_from=TODAY - dt.timedelta(days=364), window_to=TODAY)
    assert [x.pillar for x in p.pillars] == list(ServicePillar)
    assert (p.pillars_served, p.coverage) == (2, 0.2)
    reintegration = next(x for x in p.pillars if x.pillar is ServicePillar.REINTEGRATION)
    assert reintegration.outputs == ((OutputKind.RETURNEES_REINTEGRATED, 4),)
    assert {x.pillar: x.cases for x in p.pillars if x.cases is not None} == {CASES_PILLAR: CaseCounts(0, 0)}


def test_protection_cases_count_on_their_pillar_without_making_it_served() -> None:
    p = progress_of("33.07.01.2001", [], window_from=TODAY - dt.timedelta(days=364), window_to=TODAY,
                    cases=CaseCounts(opened=3, resolved=2))  # fmt: skip
    prevention = next(x for x in p.pillars if x.pillar is CASES_PILLAR)
    assert (prevention.cases, prevention.served, p.pillars_served) == (CaseCounts(3, 2), False, 0)
    assert prevention.emas_pillar is EmasPillar.SAFE  # the Aman pillar
