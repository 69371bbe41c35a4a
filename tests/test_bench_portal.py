"""The portal benchmark's pure helpers (bench/portal.py): the pilots it seeds, the villages it spreads them over, how
it reads Server-Timing and what it reports. tests/e2e/test_bench_portal.py runs its client code against the real
gateway and portal."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from bench.portal import Series, parse_server_timing, pilot_plan, spread_villages, summarise

TODAY = dt.date(2026, 12, 7)


def test_the_pilots_cover_every_status_and_some_are_overdue() -> None:
    plans = [pilot_plan(i, "16.06.13.2001", TODAY) for i in range(1000)]
    final = Counter(p.statuses[-1] if p.statuses else "PLANNED" for p in plans)
    assert final == {"ACTIVE": 600, "PLANNED": 200, "COMPLETED": 100, "CANCELLED": 100}
    open_overdue = 0
    for plan in plans:
        start = dt.date.fromisoformat(plan.input["startDate"])
        dues = [dt.date.fromisoformat(m["dueDate"]) for m in plan.input["milestones"]]
        assert all(d >= start for d in dues)  # the pilot's rule: nothing due before it starts
        assert all(dues[n] <= TODAY for n in plan.complete)  # only what is due is completed, on its due date
        involved = {"KEMENKO_POLKAM", *(p["agency"] for p in plan.input["partners"])}
        assert {m["responsibleAgency"] for m in plan.input["milestones"]} <= involved
        still_open = "COMPLETED" not in plan.statuses and "CANCELLED" not in plan.statuses
        late = [n for n, d in enumerate(dues) if d < TODAY and n not in plan.complete]
        open_overdue += bool(still_open and late)
    assert 150 < open_overdue < 500  # some pilots overdue, most not
    assert len({p.input["title"] for p in plans}) == 1000


def test_villages_are_spread_over_the_provinces() -> None:
    codes = [f"{p}.01.01.{2000 + v}" for p in (11, 12, 13) for v in range(1, 20)] + ["11.01.01.1001", "11.01"]
    chosen = spread_villages(codes, 6)
    assert len(chosen) == 6
    assert Counter(c[:2] for c in chosen) == {"11": 2, "12": 2, "13": 2}
    assert all(c[9] == "2" for c in chosen)  # desa, not kelurahan
    assert len(spread_villages(codes, 1000)) == 57  # no more than there are


def test_server_timing_is_read_in_milliseconds() -> None:
    assert parse_server_timing("gateway;dur=12.5, render;dur=3, total;desc=x;dur=20.1") == {
        "gateway": 12.5, "render": 3.0, "total": 20.1,
    }  # fmt: skip
    assert parse_server_timing("cache, db;dur=1") == {"db": 1.0}
    assert parse_server_timing(None) == {}


def test_the_summary_compares_the_page_with_its_gateway_queries() -> None:
    series = Series(page=[0.030, 0.020, 0.040], gateway=[0.010, 0.020, 0.015], timing={"render": [2.0, 4.0, 3.0]})
    figures = summarise("pilots", series)
    assert figures["portal_pilots_page_p50_ms"] == 30.0
    assert figures["portal_pilots_gateway_p50_ms"] == 15.0
    assert figures["portal_overhead_ratio_pilots"] == 2.0
    assert figures["portal_pilots_server_timing_render_p50_ms"] == 3.0
    assert figures["portal_pilots_page_p95_ms"] >= 39.0
