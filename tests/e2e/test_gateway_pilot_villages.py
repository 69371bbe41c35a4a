"""Multi-village pilots through the gateway with each agency's own token: a pilot across two provinces seen whole by
national agencies and in part by a regional one (only its villages, their activities and milestones; nothing of the
other province, not even the lead's code), villages out of the caller's reach refused, the coordinator's rules, and
the events on the stream (created, status changed, village added and removed, milestone overdue once), read back
through the change feed.

Villages of their own: Sanga Desa (16.06.05) in Musi Banyuasin and Leksono (33.07.05) in Wonosobo, which no other
test names."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from tests.conftest import Endpoints, ask

from .test_subgraph_subscriptions import having, last_seq, received

pytestmark = pytest.mark.integration

AIR_BALUI, NGANTI, JUD_I = "16.06.05.2001", "16.06.05.2002", "16.06.05.2003"  # Sanga Desa, Musi Banyuasin (16)
SAWANGAN, LIPURSARI = "33.07.05.2001", "33.07.05.2002"  # Leksono, Wonosobo (33)
TODAY = dt.date.today()
OF_33 = re.compile(r"33\.07|Wonosobo|Sawangan|Lipursari|Jawa Tengah")

CREATE = """mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) {
  id villageCode villages { villageCode lead } milestones { id villageCode } } }"""
READ = """query P($id: ID!) { pilotProject(id: $id) {
  title villageCode overdueMilestones village { code name }
  villages { villageCode lead village { code name } activities { title villageCode } progress { villageCode } }
  milestones { title villageCode overdue } activities { title } } }"""
ADD = "mutation A($p: ID!, $v: String!) { addPilotVillage(pilotId: $p, villageCode: $v) { villages { villageCode } } }"
REMOVE = """mutation R($p: ID!, $v: String!) { removePilotVillage(pilotId: $p, villageCode: $v) {
  villages { villageCode } } }"""
RECORD = "mutation A($in: ActivityInput!) { recordActivity(input: $in) { id } }"
LINK = "mutation L($p: ID!, $a: ID!) { linkActivity(pilotId: $p, activityId: $a) { id } }"
CHANGES = """query F($after: String, $types: [String!], $first: Int) {
  changes(after: $after, types: $types, first: $first) {
    edges { node { type subject villageCode data } } pageInfo { hasNextPage endCursor } } }"""


async def ok(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    status, answer = await ask(endpoints.gateway, query, variables, token=token)
    assert status == 200, answer
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def refused(endpoints: Endpoints, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    _, answer = await ask(endpoints.gateway, query, variables, token=token)
    [error] = answer["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    for _ in range(300):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def pilot(lead: str, others: list[str], **changes: Any) -> dict[str, Any]:
    days = dt.timedelta
    return {"villageCode": lead, "villageCodes": others, "title": "Pilot lintas desa",
            "startDate": (TODAY - days(60)).isoformat(),
            "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Parenting classes"},
                         {"agency": "KEMENDES", "programme": "BUMDES", "commitment": "BUMDes units"}],
            "milestones": [], **changes}  # fmt: skip


async def test_a_pilot_across_provinces_is_seen_in_part_by_a_regional_office(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    polkam, kp2mi, pppa = mint("KEMENKO_POLKAM"), mint("KP2MI"), mint("KEMENPPPA")
    late = (TODAY - dt.timedelta(days=7)).isoformat()
    steps = [{"title": "Survey Sawangan", "dueDate": late, "responsibleAgency": "KEMENPPPA", "villageCode": SAWANGAN},
             {"title": "Survey Air Balui", "dueDate": late, "responsibleAgency": "KEMENPPPA", "villageCode": AIR_BALUI},
             {"title": "Joint review", "dueDate": late, "responsibleAgency": "KEMENKO_POLKAM"}]  # fmt: skip
    created = (await ok(endpoints, CREATE, {"in": pilot(SAWANGAN, [AIR_BALUI], milestones=steps)}, polkam))[
        "createPilotProject"
    ]
    assert [(v["villageCode"], v["lead"]) for v in created["villages"]] == [(SAWANGAN, True), (AIR_BALUI, False)]
    for code, agency, title in ((SAWANGAN, "KEMENPPPA", "Kelas pengasuhan Sawangan"),
                                (AIR_BALUI, "KEMENPPPA", "Kelas pengasuhan Air Balui")):  # fmt: skip
        given = {"villageCode": code, "pillar": "FAMILY_STRENGTHENING", "title": title, "programme": "DRPPA",
                 "occurredOn": (TODAY - dt.timedelta(days=3)).isoformat(),
                 "participants": {"anonymous": [{"sex": "FEMALE", "group": "WORKER_FAMILY", "count": 9}]},
                 "outputs": [{"kind": "FAMILIES_COUNSELLED", "value": 7}]}  # fmt: skip
        activity = (await ok(endpoints, RECORD, {"in": given}, mint(agency)))["recordActivity"]["id"]
        await ok(endpoints, LINK, {"p": created["id"], "a": activity}, pppa)

    whole = (await ok(endpoints, READ, {"id": created["id"]}, kp2mi))["pilotProject"]
    assert (whole["villageCode"], whole["village"]["name"], whole["overdueMilestones"]) == (SAWANGAN, "Sawangan", 3)
    assert [(v["village"]["name"], [a["title"] for a in v["activities"]]) for v in whole["villages"]] == [
        ("Sawangan", ["Kelas pengasuhan Sawangan"]),
        ("Air Balui", ["Kelas pengasuhan Air Balui"]),
    ]
    for regional in (mint("BP3MI", region="16"), mint("KEMENPPPA", region="16.06")):
        status, answer = await ask(endpoints.gateway, READ, {"id": created["id"]}, token=regional)
        assert (status, answer.get("errors")) == (200, None), answer
        part = answer["data"]["pilotProject"]
        assert (part["villageCode"], part["village"]["name"], part["overdueMilestones"]) == (AIR_BALUI, "Air Balui", 2)
        assert [(v["villageCode"], v["lead"]) for v in part["villages"]] == [(AIR_BALUI, False)]
        assert [a["title"] for a in part["villages"][0]["activities"]] == ["Kelas pengasuhan Air Balui"]
        assert [m["title"] for m in part["milestones"]] == ["Survey Air Balui", "Joint review"]
        assert [a["title"] for a in part["activities"]] == ["Kelas pengasuhan Air Balui"]
        assert not OF_33.search(str(answer)), answer
    listed = (
        """query L($r: String!) { pilotProjects(filter: {regionPrefix: $r}, first: 50) { edges { node { id } } } }"""
    )
    by_second = (await ok(endpoints, listed, {"r": "16.06.05"}, kp2mi))["pilotProjects"]["edges"]
    assert created["id"] in {e["node"]["id"] for e in by_second}  # found by its second village
    seen_by_16 = (await ok(endpoints, listed, {"r": "33.07.05"}, mint("BP3MI", region="16")))["pilotProjects"]
    assert created["id"] not in {e["node"]["id"] for e in seen_by_16["edges"]}  # a filter outside its region
    overdue = "{ overdueMilestones(agency: KEMENPPPA, first: 500) { milestone { title villageCode } pilot { id } } }"
    mine = (await ok(endpoints, overdue, {}, mint("BP3MI", region="16")))["overdueMilestones"]
    assert [o["milestone"]["title"] for o in mine if o["pilot"]["id"] == created["id"]] == ["Survey Air Balui"]


async def test_villages_out_of_reach_are_refused_and_only_the_coordinator_changes_them(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    regional_polkam, polkam = mint("KEMENKO_POLKAM", region="16"), mint("KEMENKO_POLKAM")
    outside = await refused(endpoints, CREATE, {"in": pilot(NGANTI, [LIPURSARI])}, regional_polkam)
    assert (outside["code"], outside["field"]) == ("FORBIDDEN", "villageCodes")
    twice = await refused(endpoints, CREATE, {"in": pilot(NGANTI, [JUD_I, JUD_I])}, polkam)
    assert (twice["code"], twice["reason"]) == ("BAD_USER_INPUT", "duplicate_village")
    wrong = pilot(NGANTI, [], milestones=[{"title": "Survey", "dueDate": TODAY.isoformat(),
                                           "responsibleAgency": "KEMENDES", "villageCode": JUD_I}])  # fmt: skip
    not_its = await refused(endpoints, CREATE, {"in": wrong}, polkam)
    assert (not_its["field"], not_its["reason"]) == ("milestones.villageCode", "not_a_pilot_village")
    made = (await ok(endpoints, CREATE, {"in": pilot(NGANTI, [])}, regional_polkam))["createPilotProject"]
    beyond = await refused(endpoints, ADD, {"p": made["id"], "v": LIPURSARI}, regional_polkam)
    assert (beyond["code"], beyond["field"]) == ("FORBIDDEN", "villageCode")
    partner = await refused(endpoints, ADD, {"p": made["id"], "v": JUD_I}, mint("KEMENDES"))
    assert (partner["code"], partner["reason"]) == ("FORBIDDEN", "not_coordinator")
    added = (await ok(endpoints, ADD, {"p": made["id"], "v": JUD_I}, regional_polkam))["addPilotVillage"]
    assert [v["villageCode"] for v in added["villages"]] == [NGANTI, JUD_I]
    lead = await refused(endpoints, REMOVE, {"p": made["id"], "v": NGANTI}, regional_polkam)
    assert (lead["code"], lead["reason"]) == ("CONFLICT", "lead_village")
    # a regional coordinator of another province does not even learn that the pilot exists
    hidden = await refused(endpoints, ADD, {"p": made["id"], "v": LIPURSARI}, mint("KEMENKO_POLKAM", region="33"))
    assert hidden["code"] == "NOT_FOUND"


async def test_the_events_of_a_pilot_across_villages_are_on_the_stream(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack
) -> None:
    nc = await connect(stack.nats_url, name="e2e-pilot-villages")
    try:
        start = int((await nc.jetstream().stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()
    polkam, kp2mi = mint("KEMENKO_POLKAM"), mint("KP2MI")
    due = (TODAY - dt.timedelta(days=2)).isoformat()
    step = {"title": "Survey Jud I", "dueDate": due, "responsibleAgency": "KEMENDES", "villageCode": JUD_I}
    made = (await ok(endpoints, CREATE, {"in": pilot(AIR_BALUI, [JUD_I], milestones=[step])}, polkam))[
        "createPilotProject"
    ]
    pid, [milestone] = made["id"], [m["id"] for m in made["milestones"]]
    await ok(endpoints, "mutation S($p: ID!) { setPilotStatus(id: $p, status: ACTIVE) { status } }", {"p": pid}, polkam)
    await ok(endpoints, ADD, {"p": pid, "v": NGANTI}, polkam)
    await ok(endpoints, REMOVE, {"p": pid, "v": NGANTI}, polkam)

    async def events(token: str) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        variables: dict[str, Any] = {"after": str(start), "first": 1000,
                                     "types": ["demimas.pillars.pilot.*", "demimas.pillars.milestone.*"]}  # fmt: skip
        while True:
            page = (await ok(endpoints, CHANGES, variables, token))["changes"]
            seen += [
                e["node"] for e in page["edges"] if pid in (e["node"]["subject"], e["node"]["data"].get("pilotId"))
            ]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            variables["after"] = page["pageInfo"]["endCursor"]

    async def all_there() -> list[dict[str, Any]] | None:
        found = await events(kp2mi)
        return found if any(e["type"] == "demimas.pillars.milestone.overdue" for e in found) else None

    found = await until(all_there, "the pilot's events and the overdue milestone's on the stream")
    types = [e["type"] for e in found]
    # the overdue job runs every second on its own clock: its event comes after the creation, anywhere after it
    assert [t for t in types if t != "demimas.pillars.milestone.overdue"] == [
        "demimas.pillars.pilot.created",
        "demimas.pillars.pilot.status_changed",
        "demimas.pillars.pilot.village_added",
        "demimas.pillars.pilot.village_removed",
    ]
    assert types.count("demimas.pillars.milestone.overdue") == 1
    assert types.index("demimas.pillars.milestone.overdue") > 0
    by_type = {e["type"].rsplit(".", 1)[1]: e["data"] for e in found}
    created, status, added, removed, overdue = (
        by_type[k] for k in ("created", "status_changed", "village_added", "village_removed", "overdue")
    )
    assert created["villageCodes"] == [AIR_BALUI, JUD_I]
    assert (status["from"], status["to"], status["villageCodes"]) == ("PLANNED", "ACTIVE", [AIR_BALUI, JUD_I])
    assert (added["villageCode"], added["villageCodes"]) == (NGANTI, [AIR_BALUI, NGANTI, JUD_I])
    assert (removed["villageCode"], removed["villageCodes"]) == (NGANTI, [AIR_BALUI, JUD_I])
    assert overdue == {"pilotId": pid, "milestoneId": milestone, "villageCode": JUD_I, "responsibleAgency": "KEMENDES",
                       "dueDate": due}  # fmt: skip
    await asyncio.sleep(2.5)  # the job has run again (every second in these services): still once
    assert [e["type"] for e in await events(kp2mi)].count("demimas.pillars.milestone.overdue") == 1


CHANGED = """subscription($a: String, $p: String) { pilotProjectChanged(after: $a, regionPrefix: $p) {
  kind pilotProjectId villageCode pilotProject { villageCode villages { villageCode lead } } } }"""


async def test_a_regional_subscriber_follows_its_part_of_a_pilot_across_provinces(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack, pillars_url: str
) -> None:
    """Asked straight at the pillars subgraph: BP3MI of 16 receives the changes of a pilot led in Wonosobo (33)
    through its village in Sanga Desa (16), with nothing of 33 in them; BP3MI of 35 receives none of them. The change
    feed through the gateway gives them the same."""
    start = await last_seq(stack)
    polkam = mint("KEMENKO_POLKAM")
    made = (await ok(endpoints, CREATE, {"in": pilot(LIPURSARI, [NGANTI])}, polkam))["createPilotProject"]
    pid = made["id"]
    await ok(endpoints, "mutation S($p: ID!) { setPilotStatus(id: $p, status: ACTIVE) { status } }", {"p": pid}, polkam)
    await ok(endpoints, ADD, {"p": pid, "v": JUD_I}, polkam)
    await ok(endpoints, ADD, {"p": pid, "v": SAWANGAN}, polkam)  # a village of 33: no news to the office of 16
    # until the pilot's three events came (up to 30 s on a loaded machine, not a fixed 2 s), then 2 s for a fourth
    found = await received(pillars_url, mint("BP3MI", region="16"), CHANGED, {"a": start, "p": "16.06.05"}, 2.0,
                           having("pilotProjectId", pid, 3))  # fmt: skip
    mine = [e for e in found if e["pilotProjectId"] == pid]
    assert [(e["kind"], e["villageCode"]) for e in mine] == [
        ("CREATED", NGANTI),
        ("STATUS_CHANGED", NGANTI),
        ("VILLAGE_ADDED", JUD_I),
    ]
    assert mine[-1]["pilotProject"] == {
        "villageCode": NGANTI,
        "villages": [{"villageCode": NGANTI, "lead": False}, {"villageCode": JUD_I, "lead": False}],
    }
    assert not OF_33.search(str(mine)), mine
    elsewhere = await received(pillars_url, mint("BP3MI", region="35"), CHANGED, {"a": start}, 1.5)
    assert pid not in [e["pilotProjectId"] for e in elsewhere]
    # the change feed (and so webhooks: one rule) tells the same office the same: the pilot through its village
    variables = {"after": str(start), "first": 1000, "types": ["demimas.pillars.pilot.*"]}
    feed = (await ok(endpoints, CHANGES, variables, mint("BP3MI", region="16")))["changes"]["edges"]
    pilot_events = [e["node"] for e in feed if e["node"]["data"].get("pilotId") == pid]
    assert [(e["type"], e["data"]["villageCode"]) for e in pilot_events] == [
        ("demimas.pillars.pilot.created", NGANTI),
        ("demimas.pillars.pilot.status_changed", NGANTI),
        ("demimas.pillars.pilot.village_added", JUD_I),
    ]
    assert pilot_events[-1]["data"]["villageCodes"] == [NGANTI, JUD_I]
    assert not OF_33.search(str(pilot_events)), pilot_events
    far = (await ok(endpoints, CHANGES, variables, mint("BP3MI", region="35")))["changes"]["edges"]
    assert pid not in str(far)


COMPLETE = """mutation M($p: ID!, $m: ID!, $d: Date!) {
  completeMilestone(pilotId: $p, milestoneId: $m, completedOn: $d) { id } }"""
MILESTONES = """subscription($a: String) { pilotProjectChanged(after: $a) { kind pilotProjectId milestoneId } }"""


async def test_a_milestone_of_another_province_reaches_no_regional_office_through_its_pilot(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack, pillars_url: str
) -> None:
    """Attack: BP3MI of 16 sees a pilot led in Sanga Desa (16) that also spans Sawangan (33); a milestone naming
    Sawangan is hidden from it in `PilotProject.milestones`, yet its completion (milestone id, agency, dates) came to
    it through pilotProjectChanged and the change feed. BP3MI of 33 receives it; BP3MI of 16 does not."""
    start = await last_seq(stack)
    polkam, kemendes = mint("KEMENKO_POLKAM"), mint("KEMENDES")
    step = {"title": "Survey Sawangan", "dueDate": (TODAY + dt.timedelta(days=9)).isoformat(),
            "responsibleAgency": "KEMENDES", "villageCode": SAWANGAN}  # fmt: skip
    made = (await ok(endpoints, CREATE, {"in": pilot(AIR_BALUI, [SAWANGAN], milestones=[step])}, polkam))[
        "createPilotProject"
    ]
    pid, [milestone] = made["id"], [m["id"] for m in made["milestones"]]
    await ok(endpoints, "mutation S($p: ID!) { setPilotStatus(id: $p, status: ACTIVE) { status } }", {"p": pid}, polkam)
    await ok(endpoints, COMPLETE, {"p": pid, "m": milestone, "d": TODAY.isoformat()}, kemendes)
    south_sumatra, central_java = mint("BP3MI", region="16"), mint("BP3MI", region="33")

    def kinds(found: list[Any]) -> list[tuple[str, Any]]:
        return [(e["kind"], e["milestoneId"]) for e in found if e["pilotProjectId"] == pid]

    # each until the pilot's events it must receive came (not a fixed 2 s), then 2 s for one it must not
    assert kinds(await received(pillars_url, central_java, MILESTONES, {"a": start}, 2.0,
                                having("pilotProjectId", pid, 3))) == [
        ("CREATED", None), ("STATUS_CHANGED", None), ("MILESTONE_COMPLETED", milestone)
    ]  # fmt: skip
    assert kinds(await received(pillars_url, south_sumatra, MILESTONES, {"a": start}, 2.0,
                                having("pilotProjectId", pid, 2))) == [
        ("CREATED", None), ("STATUS_CHANGED", None)
    ]  # fmt: skip
    variables = {"after": str(start), "first": 1000, "types": ["demimas.pillars.pilot.*"]}
    feed = (await ok(endpoints, CHANGES, variables, south_sumatra))["changes"]["edges"]
    mine = [e["node"]["type"] for e in feed if e["node"]["data"].get("pilotId") == pid]
    assert mine == ["demimas.pillars.pilot.created", "demimas.pillars.pilot.status_changed"]
    assert milestone not in str(feed)
