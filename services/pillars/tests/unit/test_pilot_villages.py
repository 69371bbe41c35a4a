"""Multi-village pilots on the in-memory unit of work: the lead village stays, every village lies in the creator's
region, named once, at most 50; adding and removing villages (coordinator only, never the lead); milestones that name
a village; the events and their payloads; what a regional caller reaches."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_pillars.domain.commands import (
    AddMilestone,
    AddPilotVillage,
    CompleteMilestone,
    CreatePilot,
    LinkActivity,
    RemovePilotVillage,
)
from demimas_pillars.domain.pilot import MAX_VILLAGES, Milestone, add_village, check_pilot, remove_village
from demimas_pillars.domain.vocabulary import PilotStatus
from demimas_pillars.service_layer.pilots import add_milestone, complete, create_pilot, link_activity
from demimas_pillars.service_layer.pilots import add_village as add_village_flow
from demimas_pillars.service_layer.pilots import remove_village as remove_village_flow

from .fakes import TODAY, FakePillarsUoW, act, principal
from .test_use_cases import KALIGOWONG, ULAK_PACEH, activity, pilot

# Ulak Paceh Jaya and Tanjung Durian: villages of district 16.06.13 (Musi Banyuasin) besides Ulak Paceh
PACEH_JAYA, TANJUNG_DURIAN = "16.06.13.2002", "16.06.13.2003"
POLKAM = principal("KEMENKO_POLKAM")


def test_the_lead_and_the_other_villages() -> None:
    p = pilot(ULAK_PACEH, villages=(PACEH_JAYA, TANJUNG_DURIAN))
    check_pilot(p)
    assert p.village_codes == (ULAK_PACEH, PACEH_JAYA, TANJUNG_DURIAN)


@pytest.mark.parametrize(
    ("villages", "reason"),
    [((ULAK_PACEH,), "duplicate_village"), ((PACEH_JAYA, PACEH_JAYA), "duplicate_village")],
)
def test_a_village_is_named_once(villages: tuple[str, ...], reason: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        check_pilot(pilot(ULAK_PACEH, villages=villages))
    assert (refused.value.field, refused.value.details["reason"]) == ("villageCodes", reason)


def test_at_most_fifty_villages() -> None:
    codes = tuple(f"16.06.13.{2000 + i:04d}" for i in range(2, 2 + MAX_VILLAGES))
    with pytest.raises(BadUserInput) as refused:
        check_pilot(pilot(ULAK_PACEH, villages=codes))
    assert refused.value.details["reason"] == "too_many_villages"
    check_pilot(pilot(ULAK_PACEH, villages=codes[:-1]))  # 50 with the lead


def test_a_milestone_names_one_of_the_pilots_villages() -> None:
    m = Milestone(uuid.uuid4(), "Village survey", TODAY, "KEMENPPPA", village_code=TANJUNG_DURIAN)
    with pytest.raises(BadUserInput) as refused:
        check_pilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA,), milestones=(m,)))
    assert (refused.value.field, refused.value.details["reason"]) == ("milestones.villageCode", "not_a_pilot_village")
    check_pilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA, TANJUNG_DURIAN), milestones=(m,)))


def test_villages_are_added_and_removed_but_never_the_lead() -> None:
    p = pilot(ULAK_PACEH, villages=(TANJUNG_DURIAN,))
    grown = add_village(p, PACEH_JAYA)
    assert grown.village_codes == (ULAK_PACEH, PACEH_JAYA, TANJUNG_DURIAN)
    with pytest.raises(Conflict) as twice:
        add_village(grown, PACEH_JAYA)
    assert twice.value.details["reason"] == "already_a_pilot_village"
    with pytest.raises(Conflict) as lead:
        remove_village(grown, ULAK_PACEH)
    assert (lead.value.field, lead.value.details["reason"]) == ("villageCode", "lead_village")
    with pytest.raises(BadUserInput) as unknown:
        remove_village(grown, "16.06.13.2004")
    assert unknown.value.details["reason"] == "not_a_pilot_village"
    assert remove_village(grown, TANJUNG_DURIAN).village_codes == (ULAK_PACEH, PACEH_JAYA)
    named = replace(grown, milestones=(Milestone(uuid.uuid4(), "Survey", TODAY, "BNN", village_code=TANJUNG_DURIAN),))
    with pytest.raises(Conflict) as in_use:
        remove_village(named, TANJUNG_DURIAN)
    assert in_use.value.details["reason"] == "village_has_milestones"
    with pytest.raises(Conflict) as closed:
        add_village(replace(p, status=PilotStatus.COMPLETED), PACEH_JAYA)
    assert closed.value.details["reason"] == "pilot_closed"


async def test_a_pilot_across_villages_is_created_with_them_in_its_event() -> None:
    uow = FakePillarsUoW()
    p = await act(uow, POLKAM, create_pilot, CreatePilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA, TANJUNG_DURIAN))))
    assert uow.pilots.rows[p.id].village_codes == (ULAK_PACEH, PACEH_JAYA, TANJUNG_DURIAN)
    [event] = uow.published
    assert (event.data["villageCode"], event.data["villageCodes"]) == (
        ULAK_PACEH,
        [ULAK_PACEH, PACEH_JAYA, TANJUNG_DURIAN],
    )


async def test_every_village_lies_in_the_creators_region() -> None:
    uow = FakePillarsUoW()
    regional = principal("KEMENKO_POLKAM", "16")
    with pytest.raises(Forbidden) as refused:
        await act(uow, regional, create_pilot, CreatePilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA, KALIGOWONG))))
    assert refused.value.field == "villageCodes"
    with pytest.raises(BadUserInput) as unknown:  # not in the Kemendagri list
        await act(uow, POLKAM, create_pilot, CreatePilot(pilot(ULAK_PACEH, villages=("16.06.13.9999",))))
    assert unknown.value.field == "villageCodes"
    assert (uow.pilots.rows, uow.published) == ({}, [])
    p = await act(uow, regional, create_pilot, CreatePilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA,))))
    assert p.village_codes == (ULAK_PACEH, PACEH_JAYA)


async def test_the_coordinator_adds_and_removes_villages_and_each_change_is_published() -> None:
    uow = FakePillarsUoW()
    p = await act(uow, POLKAM, create_pilot, CreatePilot(pilot(ULAK_PACEH)))
    with pytest.raises(Forbidden) as partner:
        await act(uow, principal("KEMENPPPA"), add_village_flow, AddPilotVillage(p.id, PACEH_JAYA))
    assert partner.value.details["reason"] == "not_coordinator"
    with pytest.raises(Forbidden):  # outside the coordinator's region
        await act(uow, principal("KEMENKO_POLKAM", "16"), add_village_flow, AddPilotVillage(p.id, KALIGOWONG))
    grown = await act(uow, POLKAM, add_village_flow, AddPilotVillage(p.id, PACEH_JAYA))
    assert grown.village_codes == (ULAK_PACEH, PACEH_JAYA)
    with pytest.raises(Conflict) as lead:
        await act(uow, POLKAM, remove_village_flow, RemovePilotVillage(p.id, ULAK_PACEH))
    assert lead.value.details["reason"] == "lead_village"
    shrunk = await act(uow, POLKAM, remove_village_flow, RemovePilotVillage(p.id, PACEH_JAYA))
    assert shrunk.village_codes == (ULAK_PACEH,)
    assert uow.types() == ["demimas.pillars.pilot.created", "demimas.pillars.pilot.village_added",
                           "demimas.pillars.pilot.village_removed"]  # fmt: skip
    added, removed = (e.data for e in uow.published[1:])
    assert added == {"pilotId": str(p.id), "villageCode": PACEH_JAYA, "leadVillageCode": ULAK_PACEH,
                     "villageCodes": [ULAK_PACEH, PACEH_JAYA], "coordinator": "KEMENKO_POLKAM"}  # fmt: skip
    assert (removed["villageCode"], removed["villageCodes"]) == (PACEH_JAYA, [ULAK_PACEH])


async def test_a_regional_caller_reaches_a_pilot_through_any_of_its_villages() -> None:
    """Lead in Wonosobo (33), one village in Musi Banyuasin (16): BP3MI of 16 completes the milestone of its
    village, not the one of Wonosobo's (answered as an unknown milestone), and reaches nothing of a pilot wholly
    in 33 (answered as an unknown id)."""
    uow = FakePillarsUoW()
    here = Milestone(
        uuid.uuid4(), "Survey here", TODAY - dt.timedelta(days=3), "KEMENKO_POLKAM", village_code=PACEH_JAYA
    )
    there = Milestone(uuid.uuid4(), "Survey there", TODAY - dt.timedelta(days=3), "KEMENKO_POLKAM",
                      village_code=KALIGOWONG)  # fmt: skip
    spanning = await act(uow, POLKAM, create_pilot,
                         CreatePilot(pilot(KALIGOWONG, villages=(PACEH_JAYA,), milestones=(here, there))))  # fmt: skip
    only_there = await act(uow, POLKAM, create_pilot, CreatePilot(pilot(KALIGOWONG)))
    regional = principal("KEMENKO_POLKAM", "16")
    with pytest.raises(BadUserInput) as hidden:
        await act(uow, regional, complete, CompleteMilestone(spanning.id, there.id, TODAY))
    assert hidden.value.field == "milestoneId"
    after = await act(uow, regional, complete, CompleteMilestone(spanning.id, here.id, TODAY))
    assert [m.completed_on for m in after.milestones] == [TODAY, None]
    with pytest.raises(NotFound):
        await act(uow, regional, complete, CompleteMilestone(only_there.id, only_there.milestones[0].id, TODAY))
    with pytest.raises(Forbidden):  # a milestone of a village outside the region cannot be added either
        await act(uow, regional, add_milestone, AddMilestone(spanning.id, replace(there, id=uuid.uuid4())))


async def test_an_activity_of_any_of_the_pilots_villages_is_linked() -> None:
    uow = FakePillarsUoW()
    p = await act(uow, POLKAM, create_pilot, CreatePilot(pilot(ULAK_PACEH, villages=(PACEH_JAYA,))))
    in_second, elsewhere = activity(PACEH_JAYA), activity(TANJUNG_DURIAN)
    for a in (in_second, elsewhere):
        await uow.activities.add(a)
    await act(uow, principal("BNN"), link_activity, LinkActivity(p.id, in_second.id))
    with pytest.raises(BadUserInput) as refused:
        await act(uow, principal("BNN"), link_activity, LinkActivity(p.id, elsewhere.id))
    assert refused.value.details["reason"] == "not_a_pilot_village"
    assert uow.pilots.links == {(p.id, in_second.id)}


def test_a_milestone_event_reaches_only_callers_who_see_the_milestones_village() -> None:
    """Attack: a regional office that sees a pilot through one of its villages subscribes to pilotProjectChanged and
    learns of a milestone completed in another province's village (its id), which `PilotProject.milestones` hides
    from it. The milestone's village decides; the pilot's other events still go to every village's region."""
    from demimas_common.events.envelope import new_event
    from demimas_pillars.entrypoints.graphql.subscriptions import pilot_event_visible

    pilot_id = str(uuid.uuid4())
    codes = ["16.06.13.2002", "33.07.01.2001", "16.07.05.2001"]
    base = {"pilotId": pilot_id, "villageCode": codes[0], "villageCodes": codes}
    completed = new_event("demimas.pillars.pilot.milestone_completed", pilot_id,
                          {**base, "milestoneId": str(uuid.uuid4()), "milestoneVillageCode": codes[1]})  # fmt: skip
    status = new_event("demimas.pillars.pilot.status_changed", pilot_id, {**base, "from": "PLANNED", "to": "ACTIVE"})
    south_sumatra, central_java, national = principal("BP3MI", "16"), principal("BP3MI", "33"), principal("KP2MI")
    assert not pilot_event_visible(completed, south_sumatra, None)
    assert pilot_event_visible(completed, central_java, None)
    assert pilot_event_visible(completed, national, None)
    assert not pilot_event_visible(completed, national, "16")
    assert pilot_event_visible(status, south_sumatra, None)
    assert pilot_event_visible(status, central_java, "33.07")
    unnamed = new_event("demimas.pillars.pilot.milestone_completed", pilot_id, {**base, "milestoneId": pilot_id})
    assert pilot_event_visible(unnamed, central_java, None)  # a milestone of the pilot as a whole
