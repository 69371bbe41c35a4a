"""Multi-village pilots on PostgreSQL: villages written and read back (every pilot with exactly one lead row, the
migration's backfill included), the tracker's region filter matching any village, a regional caller's view through
the GraphQL schema (only its villages, its activities, its milestones), and the overdue job announcing each milestone
once, also when two replicas run it at the same moment."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.adapters.tables import events, milestones
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.commands import (
    AddPilotVillage,
    CompleteMilestone,
    CreatePilot,
    LinkActivity,
    RecordActivity,
    RemovePilotVillage,
    SetPilotStatus,
)
from demimas_pillars.domain.pilot import Milestone, Pilot
from demimas_pillars.domain.vocabulary import PilotStatus
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.schema import schema
from demimas_pillars.service_layer import pilots as pilot_flow
from demimas_pillars.service_layer.activities import record_activity
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.maintenance import announce_overdue

from .conftest import SETTINGS, TODAY, act, principal, village
from .test_delivery_db import activity, pilot

pytestmark = pytest.mark.integration
POLKAM = principal("KEMENKO_POLKAM")


async def spanning(engine: AsyncEngine, lead: str, *others: str, **changes: Any) -> Pilot:
    return await act(
        engine, POLKAM, pilot_flow.create_pilot, CreatePilot(pilot(lead, villages=tuple(others), **changes))
    )


async def test_villages_are_kept_with_one_lead_and_changed_by_the_coordinator(engine: AsyncEngine) -> None:
    lead, second, third = village("16.06"), village("16.06"), village("16.06")
    p = await spanning(engine, lead, third, second)
    async with engine.connect() as conn:
        [read] = await PilotRepository(conn).get_many([p.id])
    assert read.village_codes == (lead, *sorted((second, third)))
    await act(engine, POLKAM, pilot_flow.remove_village, RemovePilotVillage(p.id, third))
    grown = await act(engine, POLKAM, pilot_flow.add_village, AddPilotVillage(p.id, village("16.06")))
    assert len(grown.village_codes) == 3
    assert third not in grown.village_codes
    async with engine.connect() as conn:
        # every pilot of the database (those made before migration 0006 backfilled) has its lead village's row
        without_lead = await conn.scalar(text(
            "SELECT count(*) FROM pillars.pilots p WHERE (SELECT count(*) FROM pillars.pilot_villages v "
            "WHERE v.pilot_id = p.id AND v.lead AND v.village_code = p.village_code) <> 1"))  # fmt: skip
        mine = select(events.outbox.c.type).where(events.outbox.c.subject == str(p.id))
        published = [r[0] for r in await conn.execute(mine.order_by(events.outbox.c.seq))]
    assert without_lead == 0
    assert published == ["demimas.pillars.pilot.created", "demimas.pillars.pilot.village_removed",
                         "demimas.pillars.pilot.village_added"]  # fmt: skip


async def test_the_tracker_finds_a_pilot_by_any_of_its_villages(engine: AsyncEngine) -> None:
    lead, other = village("33.07"), village("16.06")
    p = await spanning(engine, lead, other)

    async def ids(**where: Any) -> list[uuid.UUID]:
        conditions = {"region": None, "caller_region": None, "agency": None, "programme": None, "status": None,
                      "village": None} | where  # fmt: skip
        async with engine.connect() as conn:
            found, _ = await PilotRepository(conn).page(**conditions, first=500, after=None)
        return found

    assert p.id in await ids(region=other)  # by its second village
    assert p.id in await ids(caller_region="16.06")  # a regional caller of the second village
    assert p.id in await ids(village=other)  # Village.pilotProjects of the second village
    assert p.id not in await ids(region="33.07", caller_region="16.06")  # one village inside both, none here


def context(engine: AsyncEngine, who: Principal) -> PillarsContext:
    return PillarsContext(who, engine=engine, schema="pillars", unit_of_work_class=PillarsUnitOfWork,
                          delivery=SETTINGS)  # fmt: skip


READ = """query P($id: ID!) { pilotProject(id: $id) { villageCode overdueMilestones
  villages { villageCode lead activities { id villageCode } progress { villageCode } }
  milestones { id villageCode overdue } activities { id } } }"""


async def test_a_regional_caller_sees_its_part_of_a_pilot_across_regions(engine: AsyncEngine) -> None:
    lead, here = village("33.07"), village("16.06")
    late = TODAY - dt.timedelta(days=4)
    there_m = Milestone(uuid.uuid4(), "Survey there", late, "KEMENPPPA", village_code=lead)
    here_m = Milestone(uuid.uuid4(), "Survey here", late, "KEMENPPPA", village_code=here)
    whole = Milestone(uuid.uuid4(), "Joint review", late, "KEMENKO_POLKAM")
    p = await spanning(engine, lead, here, milestones=(there_m, here_m, whole))
    kp2mi = principal("KP2MI")
    acts = [await act(engine, kp2mi, record_activity, RecordActivity(activity(c))) for c in (lead, here)]
    for a in acts:
        await act(engine, POLKAM, pilot_flow.link_activity, LinkActivity(p.id, a.id))
    national = await schema.execute(READ, variable_values={"id": str(p.id)}, context_value=context(engine, kp2mi))
    regional = await schema.execute(READ, variable_values={"id": str(p.id)},
                                    context_value=context(engine, principal("BP3MI", "16")))  # fmt: skip
    assert national.errors is None, national.errors
    assert regional.errors is None, regional.errors
    seen, part = national.data["pilotProject"], regional.data["pilotProject"]  # type: ignore[index]
    assert (seen["villageCode"], [v["lead"] for v in seen["villages"]], seen["overdueMilestones"]) == (
        lead,
        [True, False],
        3,
    )
    assert [v["villageCode"] for v in seen["villages"]] == [lead, here]
    assert [[a["villageCode"] for a in v["activities"]] for v in seen["villages"]] == [[lead], [here]]
    # BP3MI of 16: the pilot is where its village is; nothing of Wonosobo's (33) shows
    assert part["villageCode"] == here
    assert [(v["villageCode"], v["lead"]) for v in part["villages"]] == [(here, False)]
    assert [a["villageCode"] for a in part["villages"][0]["activities"]] == [here]
    assert part["villages"][0]["progress"]["villageCode"] == here
    assert {m["id"] for m in part["milestones"]} == {str(here_m.id), str(whole.id)}
    assert part["overdueMilestones"] == 2
    assert [a["id"] for a in part["activities"]] == [str(acts[1].id)]
    assert lead not in str(regional.data)
    # and the tracker's overdue list of that caller: the two it sees
    async with engine.connect() as conn:
        pairs = await PilotRepository(conn).overdue(agency=None, today=TODAY, caller_region="16", limit=500)
    assert {m for pid, m in pairs if pid == p.id} == {here_m.id, whole.id}


async def overdue_events(engine: AsyncEngine, ids: list[uuid.UUID]) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.outbox.c.subject, func.count())
            .where(events.outbox.c.type == "demimas.pillars.milestone.overdue",
                   events.outbox.c.subject.in_([str(i) for i in ids]))
            .group_by(events.outbox.c.subject)
        )  # fmt: skip
        return {str(s): int(n) for s, n in rows}


async def test_the_overdue_job_announces_each_milestone_once_across_concurrent_runs(engine: AsyncEngine) -> None:
    """The job's clock is set in 2001 and the milestones made due in 2000, so that it sees no other test's."""
    start, due = dt.date(2000, 1, 1), dt.date(2000, 3, 1)
    clock = DeliverySettings(clock=lambda: dt.datetime(2001, 1, 1, 6, tzinfo=dt.UTC))
    lead, other = village("16.06"), village("16.06")
    late = [Milestone(uuid.uuid4(), f"Step {i}", due + dt.timedelta(days=i), "KEMENPPPA") for i in range(3)]
    named = Milestone(uuid.uuid4(), "Village step", due, "BNN", village_code=other)
    done = Milestone(uuid.uuid4(), "Done step", due, "KEMENPPPA")
    running = await spanning(engine, lead, other, start_date=start, milestones=(*late, named, done))
    await act(engine, principal("KEMENPPPA"), pilot_flow.complete, CompleteMilestone(running.id, done.id, due),
              replace(SETTINGS, clock=lambda: dt.datetime(2000, 6, 1, tzinfo=dt.UTC)))  # fmt: skip
    stopped_m = Milestone(uuid.uuid4(), "Never due", due, "KEMENPPPA")
    stopped = await spanning(engine, village("16.06"), start_date=start, milestones=(stopped_m,))
    await act(engine, POLKAM, pilot_flow.set_status, SetPilotStatus(stopped.id, PilotStatus.CANCELLED, "no budget"))
    ids = [m.id for m in (*late, named, done, stopped_m)]

    counted = await asyncio.gather(announce_overdue(engine, clock), announce_overdue(engine, clock))
    assert sum(counted) == 4
    assert await overdue_events(engine, ids) == {str(m.id): 1 for m in (*late, named)}
    assert await announce_overdue(engine, clock) == 0  # a later round: nothing new
    assert await overdue_events(engine, ids) == {str(m.id): 1 for m in (*late, named)}
    async with engine.connect() as conn:
        payload = await conn.scalar(select(events.outbox.c.payload).where(events.outbox.c.subject == str(named.id)))
        marked = await conn.scalar(select(milestones.c.overdue_notified_on).where(milestones.c.id == named.id))
    assert payload["data"] == {"pilotId": str(running.id), "milestoneId": str(named.id), "villageCode": other,
                               "responsibleAgency": "BNN", "dueDate": due.isoformat()}  # fmt: skip
    assert "actoragency" not in payload  # a system step
    assert marked == dt.date(2001, 1, 1)


PAGE = """query L($r: String!, $a: String) { pilotProjects(filter: {regionPrefix: $r}, first: 1, after: $a) {
  edges { cursor node { id villageCode } } pageInfo { hasNextPage } } }"""


async def test_a_page_cursor_names_no_village(engine: AsyncEngine) -> None:
    """A pilot's cursor holds its id alone (its lead village may lie outside the caller's region); paging on with it
    goes on in order, and a cursor of a pilot the caller does not see is refused as any malformed one."""
    here = village("16.06")
    first = await spanning(engine, village("33.07"), here)
    second = await spanning(engine, here)
    regional = context(engine, principal("BP3MI", "16"))
    seen, after = [], None
    while True:
        answer = await schema.execute(PAGE, variable_values={"r": here, "a": after}, context_value=regional)
        assert answer.errors is None, answer.errors
        page = answer.data["pilotProjects"]  # type: ignore[index]
        [edge] = page["edges"]
        assert base64.urlsafe_b64decode(edge["cursor"] + "==").decode() == f'["{edge["node"]["id"]}"]'
        seen.append((edge["node"]["id"], edge["node"]["villageCode"]))
        after = edge["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert sorted(seen) == sorted([(str(first.id), here), (str(second.id), here)])
    elsewhere = await spanning(engine, village("33.07"))
    hidden = base64.urlsafe_b64encode(f'["{elsewhere.id}"]'.encode()).decode().rstrip("=")
    answer = await schema.execute(PAGE, variable_values={"r": "16", "a": hidden}, context_value=regional)
    assert answer.errors is not None
    assert answer.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "after"}
