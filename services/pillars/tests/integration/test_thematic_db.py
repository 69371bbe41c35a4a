"""Thematic statuses on PostgreSQL: the use cases through the real unit of work (the row and its event in the outbox
in one transaction, nothing on a refusal), one ACTIVE status per village and programme also under concurrent
requests, and the overlap query (`programmeVillages`) over villages of a district no other test writes statuses in:
programmes all required, designated or not per the `portfolios` projection, region prefixes, the caller's region,
pages and totalCount."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.errors import Conflict, Forbidden
from demimas_pillars.adapters.tables import events, thematic_statuses
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.commands import EndThematicStatus, SetThematicStatus
from demimas_pillars.domain.vocabulary import ThematicProgramme, ThematicStatusState
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.schema import schema
from demimas_pillars.service_layer.consumers import on_village_event
from demimas_pillars.service_layer.thematic import end_thematic_status, set_thematic_status

from .conftest import SETTINGS, TODAY, act, consume, principal, village
from .test_projections import village_event

pytestmark = pytest.mark.integration
_T = ThematicProgramme


def setting(code: str, programme: ThematicProgramme, reference: str = "SK 12/2026") -> SetThematicStatus:
    return SetThematicStatus(code, programme, TODAY - dt.timedelta(days=30), reference)


async def rows(engine: AsyncEngine, code: str) -> list[Any]:
    t = thematic_statuses.c
    async with engine.connect() as conn:
        return list(await conn.execute(select(thematic_statuses).where(t.village_code == code).order_by(t.version)))


async def outbox(engine: AsyncEngine, status_id: uuid.UUID) -> list[dict[str, Any]]:
    o = events.outbox.c
    async with engine.connect() as conn:
        found = await conn.execute(select(o.payload).where(o.subject == str(status_id)).order_by(o.id))
        return [r[0] for r in found]


async def test_the_owner_sets_and_ends_a_status_with_its_events_in_the_same_transactions(engine: AsyncEngine) -> None:
    code, bnn = village(), principal("BNN")
    s = await act(engine, bnn, set_thematic_status, setting(code, _T.DESA_BERSINAR))
    [row] = await rows(engine, code)
    assert (row.id, row.status, row.agency, row.version, row.updated_by) == (s.id, "ACTIVE", "BNN", 1, "sub-bnn")
    corrected = await act(engine, bnn, set_thematic_status, setting(code, _T.DESA_BERSINAR, "SK 13/2026"))
    ended = await act(engine, bnn, end_thematic_status, EndThematicStatus(s.id, TODAY, "programme evaluated"))
    assert (corrected.version, ended.version, ended.status) == (2, 3, ThematicStatusState.ENDED)
    [row] = await rows(engine, code)
    assert (row.status, row.ended_on, row.end_reason, row.reference) == ("ENDED", TODAY, "programme evaluated",
                                                                         "SK 13/2026")  # fmt: skip
    published = await outbox(engine, s.id)
    assert [(p["type"], p["data"]["version"], p["actoragency"]) for p in published] == [
        ("demimas.pillars.thematic_status.set", 1, "BNN"),
        ("demimas.pillars.thematic_status.set", 2, "BNN"),
        ("demimas.pillars.thematic_status.ended", 3, "BNN"),
    ]
    assert published[2]["data"] == {"statusId": str(s.id), "villageCode": code, "programme": "DESA_BERSINAR",
                                    "agency": "BNN", "since": (TODAY - dt.timedelta(days=30)).isoformat(),
                                    "reference": "SK 13/2026", "status": "ENDED", "version": 3,
                                    "endedOn": TODAY.isoformat()}  # fmt: skip
    again = await act(engine, bnn, set_thematic_status, setting(code, _T.DESA_BERSINAR))
    assert again.id != s.id
    assert [r.status for r in await rows(engine, code)] == ["ACTIVE", "ENDED"]


async def test_a_refusal_writes_and_publishes_nothing(engine: AsyncEngine) -> None:
    code = village()
    for who in (principal("KP2MI"), principal("KEMENDES"), principal("KEMENPPPA", region="99")):
        with pytest.raises(Forbidden):
            await act(engine, who, set_thematic_status, setting(code, _T.DRPPA))
    assert await rows(engine, code) == []
    o = events.outbox.c
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).where(o.payload["data"]["villageCode"].astext == code))
    assert n == 0


async def test_concurrent_first_settings_leave_one_active_status(engine: AsyncEngine) -> None:
    """Both read "none yet"; the second insert waits on the unique index and then is a CONFLICT (or, arriving
    after the first committed, corrects it). Either way one ACTIVE row, one event per change."""
    code, pppa = village(), principal("KEMENPPPA")
    outcomes = await asyncio.gather(
        *(act(engine, pppa, set_thematic_status, setting(code, _T.DRPPA, f"SK {n}/2026")) for n in (1, 2)),
        return_exceptions=True,
    )
    changed = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(r, Conflict) and r.extensions["reason"] == "concurrent_change" for r in refused), refused
    [row] = await rows(engine, code)
    assert row.version == len(changed)
    assert len(await outbox(engine, row.id)) == len(changed)


def _district_villages(n: int) -> list[str]:
    """`n` villages of one district that no other test of the session writes thematic statuses in: a district none
    of whose villages was handed out before, all of them handed out now (`FreshVillages.district`). A fresh village's
    district could be another fresh village's, whose statuses the overlap query by the district then counted, and
    these four villages, not handed out, could become a later test's fresh village."""
    return village.district(n)[:n]


OVERLAP = """query O($f: ProgrammeVillageFilter, $first: Int, $after: String) {
  programmeVillages(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor designated programmes node { code thematicStatuses { programme agency status } } } } }"""


async def overlap(engine: AsyncEngine, who: Any, f: dict[str, Any], first: int = 50,
                  after: str | None = None) -> dict[str, Any]:  # fmt: skip
    context = PillarsContext(who, engine=engine, schema="pillars", unit_of_work_class=PillarsUnitOfWork,
                             delivery=SETTINGS)  # fmt: skip
    result = await schema.execute(OVERLAP, variable_values={"f": f, "first": first, "after": after},
                                  context_value=context)  # fmt: skip
    assert result.errors is None, result.errors
    assert result.data is not None
    found: dict[str, Any] = result.data["programmeVillages"]
    return found


def codes(page: dict[str, Any]) -> list[str]:
    return [e["node"]["code"] for e in page["edges"]]


async def test_the_overlap_query_filters_by_programmes_designation_and_region(engine: AsyncEngine) -> None:
    a, b, c, d = _district_villages(4)
    district = a[:8]
    async with engine.connect() as conn:  # nobody wrote statuses here before (a fresh district)
        assert not await conn.scalar(select(func.count()).where(thematic_statuses.c.village_code.startswith(district)))
    pppa, bnn, kemendes = principal("KEMENPPPA"), principal("BNN"), principal("KEMENDES")
    for who, code, programme in ((pppa, a, _T.DRPPA), (bnn, a, _T.DESA_BERSINAR), (pppa, b, _T.DRPPA),
                                 (kemendes, c, _T.DESA_TEMATIK), (bnn, d, _T.DESA_BERSINAR)):  # fmt: skip
        await act(engine, who, set_thematic_status, setting(code, programme))
    ended = await act(engine, kemendes, set_thematic_status, setting(c, _T.BUMDES))
    await act(engine, kemendes, end_thematic_status, EndThematicStatus(ended.id, TODAY, "unit closed"))
    for code in (a, c):  # designated: the designation service's events, as the `designations` consumer applies them
        await consume(engine, on_village_event, village_event("designated", code, str(uuid.uuid4())))
    await consume(engine, on_village_event, village_event("suspended", c, str(uuid.uuid4())))  # not in force

    kp2mi = principal("KP2MI")
    every = await overlap(engine, kp2mi, {"regionPrefix": district})
    assert codes(every) == [a, b, c, d]
    assert every["totalCount"] == 4
    edges = {e["node"]["code"]: e for e in every["edges"]}
    assert (edges[a]["designated"], edges[a]["programmes"]) == (True, ["DRPPA", "DESA_BERSINAR"])
    assert (edges[c]["designated"], edges[c]["programmes"]) == (False, ["DESA_TEMATIK"])  # BUMDES ended
    assert edges[a]["node"]["thematicStatuses"] == [
        {"programme": "DRPPA", "agency": "KEMENPPPA", "status": "ACTIVE"},
        {"programme": "DESA_BERSINAR", "agency": "BNN", "status": "ACTIVE"},
    ]
    cases = [
        ({"programmes": ["DRPPA"]}, [a, b]),
        ({"programmes": ["DRPPA", "DESA_BERSINAR"]}, [a]),  # in every programme listed
        ({"programmes": ["BUMDES"]}, []),  # ended statuses do not count
        ({"designated": True}, [a]),
        ({"designated": False}, [b, c, d]),  # c's designation is suspended
        ({"designated": False, "programmes": ["DESA_BERSINAR"]}, [d]),
        ({"programmes": []}, [a, b, c, d]),
    ]
    for given, expected in cases:
        page = await overlap(engine, kp2mi, {"regionPrefix": district, **given})
        assert (codes(page), page["totalCount"]) == (expected, len(expected)), given

    seen, after = [], None  # pages of two: the cursors walk the same list
    while True:
        page = await overlap(engine, kp2mi, {"regionPrefix": district}, first=2, after=after)
        seen += codes(page)
        assert page["totalCount"] == 4
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [a, b, c, d]

    # a caller's region bounds the list whatever the filter asks; a regional owner sees its region's villages
    elsewhere = principal("KEMENPPPA", region="99")
    assert (await overlap(engine, elsewhere, {"regionPrefix": district}))["totalCount"] == 0
    assert codes(await overlap(engine, principal("KEMENPPPA", region=district), {})) == [a, b, c, d]


async def test_a_bad_cursor_or_region_prefix_is_refused_with_its_field(engine: AsyncEngine) -> None:
    context = PillarsContext(principal("KP2MI"), engine=engine, schema="pillars", unit_of_work_class=PillarsUnitOfWork,
                             delivery=SETTINGS)  # fmt: skip
    for arguments, field in (('after: "bm90IGEgY3Vyc29y"', "after"), ('filter: {regionPrefix: "16.6"}',
                                                                      "filter.regionPrefix")):  # fmt: skip
        result = await schema.execute(f"{{ programmeVillages({arguments}) {{ totalCount }} }}", context_value=context)
        assert result.errors is not None
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": field}
