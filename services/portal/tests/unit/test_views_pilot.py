"""`/pilots/{id}` and `/overdue`: the view models, and the ten-pillar chart's geometry."""

from __future__ import annotations

from typing import Any

from demimas_portal.i18n import Labels
from demimas_portal.views import overdue, pilot
from demimas_portal.views.chart import BAR_WIDTH, pillar_chart
from demimas_portal.views.enums import SERVICE_PILLARS

LABELS = Labels("en", {("Agency", "KEMENDES"): "Kemendes", ("ServicePillar", "REINTEGRATION"): "Reintegration"})


def progress(**activities: int) -> dict[str, Any]:
    return {
        "villageCode": "16.06.01.2001",
        "windowFrom": "2025-12-07",
        "windowTo": "2026-12-07",
        "pillarsServed": sum(1 for v in activities.values() if v),
        "coverage": sum(1 for v in activities.values() if v) / 10,
        "pillars": [
            {"pillar": p, "activities": n, "peopleReached": n * 10, "served": n > 0, "lastActivityOn": None}
            for p, n in activities.items()
        ],
    }


def test_the_chart_draws_all_ten_pillars_scaled_to_the_busiest() -> None:
    chart = pillar_chart(progress(REINTEGRATION=4, ENTREPRENEURSHIP=2), LABELS)
    assert chart is not None
    assert [b.pillar for b in chart.bars] == list(SERVICE_PILLARS)
    widths = {b.pillar: b.width for b in chart.bars}
    assert widths["REINTEGRATION"] == BAR_WIDTH
    assert widths["ENTREPRENEURSHIP"] == BAR_WIDTH // 2
    assert widths["DIASPORA_SERVICE"] == 0
    assert (chart.pillars_served, chart.coverage_percent) == (2, 20)
    ys = [b.y for b in chart.bars]
    assert ys == sorted(ys)
    assert len(set(ys)) == 10
    assert chart.height >= ys[-1] + chart.row_height
    assert next(b for b in chart.bars if b.pillar == "REINTEGRATION").label == "Reintegration"


def test_no_progress_no_chart_and_an_idle_village_draws_empty_bars() -> None:
    assert pillar_chart(None, LABELS) is None
    idle = pillar_chart(progress(), LABELS)
    assert idle is not None
    assert {b.width for b in idle.bars} == {0}
    assert idle.coverage_percent == 0


def pilot_node(**over: Any) -> dict[str, Any]:
    return {
        "id": "p1",
        "title": "Pilot",
        "villageCode": "16.06.01.2001",
        "coordinator": "KEMENKO_POLKAM",
        "status": "ACTIVE",
        "statusReason": None,
        "startDate": "2026-01-01",
        "partners": [{"agency": "KEMENDES", "programme": "BUMDES", "commitment": "BUMDes unit"}],
        "milestones": [
            {"id": "m2", "title": "Later", "dueDate": "2026-09-01", "responsibleAgency": "KEMENDES",
             "completedOn": None, "completedBy": None, "overdue": False},
            {"id": "m1", "title": "Sooner", "dueDate": "2026-02-01", "responsibleAgency": "KEMENDES",
             "completedOn": None, "completedBy": None, "overdue": True},
            {"id": "m0", "title": "Done", "dueDate": "2026-01-15", "responsibleAgency": "KEMENDES",
             "completedOn": "2026-01-10", "completedBy": "KEMENDES", "overdue": False},
            {"id": "m3", "title": "Theirs", "dueDate": "2026-03-01", "responsibleAgency": "BNN",
             "completedOn": None, "completedBy": None, "overdue": True},
        ],
        "activities": [{"id": "a1", "title": "Pelatihan", "occurredOn": "2026-02-02", "pillar": "REINTEGRATION",
                        "agency": "KEMENDES", "programme": None, "peopleReached": 7}],
        "village": {"code": "16.06.01.2001", "name": "Lead", "regency": {"name": "Musi Banyuasin"},
                    "province": {"name": "Sumatera Selatan"}, "pillarProgress": progress(REINTEGRATION=1)},
        **over,
    }  # fmt: skip


def test_only_the_responsible_agency_may_complete_an_open_milestone() -> None:
    view = pilot.shape(pilot_node(), LABELS, "KEMENDES")
    assert [m.id for m in view.milestones] == ["m0", "m1", "m3", "m2"]  # by due date
    assert {m.id for m in view.milestones if m.can_complete} == {"m1", "m2"}
    assert view.overdue == 2
    assert not any(m.can_complete for m in pilot.shape(pilot_node(), LABELS, "KEMENKO_POLKAM").milestones)
    assert not any(m.can_complete for m in pilot.shape(pilot_node(), LABELS, None).milestones)
    done = next(m for m in view.milestones if m.id == "m0")
    assert (done.completed_on, done.completed_by) == ("2026-01-10", "Kemendes")


def test_the_pilot_view_labels_partners_and_activities() -> None:
    view = pilot.shape(pilot_node(), LABELS, "KEMENDES")
    assert view.partners[0].agency == "Kemendes"
    assert view.partners[0].programme == "BUMDES"
    assert view.activities[0].pillar == "Reintegration"
    [village] = view.villages
    assert (village.name, village.place, village.lead) == ("Lead", "Musi Banyuasin, Sumatera Selatan", True)
    assert village.chart is not None


def test_several_villages_lead_first() -> None:
    """PilotProject.villages ({lead, village}): each village gets its block, the lead first."""
    other = {"code": "16.06.02.2002", "name": "Another", "pillarProgress": None}
    lead = pilot_node()["village"]
    listed = [{"lead": False, "village": other}, {"lead": True, "village": lead}]
    view = pilot.shape(pilot_node(villages=listed), LABELS, None)
    assert [(v.name, v.lead) for v in view.villages] == [("Lead", True), ("Another", False)]
    assert view.villages[1].chart is None


def test_overdue_rows_most_overdue_first() -> None:
    data = {
        "overdueMilestones": [
            {"daysOverdue": 3, "milestone": {"id": "m1", "title": "A", "dueDate": "2026-12-04",
                                             "responsibleAgency": "KEMENDES"},
             "pilot": {"id": "p1", "title": "P1", "villageCode": "16.06.01.2001", "village": {"name": "Lead"}}},
            {"daysOverdue": 30, "milestone": {"id": "m2", "title": "B", "dueDate": "2026-11-07",
                                              "responsibleAgency": "KEMENDES"},
             "pilot": {"id": "p2", "title": "P2", "villageCode": "16.06.02.2002", "village": None}},
        ]
    }  # fmt: skip
    rows = overdue.shape(data, LABELS)
    assert [(r.milestone_id, r.days_overdue, r.village) for r in rows] == [
        ("m2", 30, "16.06.02.2002"),
        ("m1", 3, "Lead"),
    ]
    assert rows[0].responsible == "Kemendes"
    assert overdue.shape({"overdueMilestones": None}, LABELS) == []
