"""`/pilots`: filters from the GET form, the query's variables, rows from the gateway's answer."""

from __future__ import annotations

from typing import Any

from demimas_portal.i18n import Labels
from demimas_portal.views.pilots import Filters, parse_filters, shape, variables

LABELS = Labels(
    "id",
    {
        ("Agency", "KEMENKO_POLKAM"): "Kemenko Polkam",
        ("Agency", "BNN"): "Badan Narkotika Nasional",
        ("ThematicProgramme", "DESA_BERSINAR"): "Desa Bersinar",
        ("PilotStatus", "ACTIVE"): "Aktif",
        ("PilotStatus", "PLANNED"): "Direncanakan",
    },
)


def node(**over: Any) -> dict[str, Any]:
    return {
        "id": "p1",
        "title": "Pilot Kaligowong",
        "villageCode": "33.07.05.2001",
        "coordinator": "KEMENKO_POLKAM",
        "status": "ACTIVE",
        "startDate": "2026-03-01",
        "village": {"code": "33.07.05.2001", "name": "Kaligowong", "regency": {"name": "Wonosobo"}},
        "partners": [{"agency": "BNN", "programme": "DESA_BERSINAR"}, {"agency": "KEMENDES", "programme": None}],
        "milestones": [
            {"id": "m1", "dueDate": "2026-04-01", "completedOn": "2026-03-30", "overdue": False},
            {"id": "m2", "dueDate": "2026-05-01", "completedOn": None, "overdue": True},
            {"id": "m3", "dueDate": "2027-05-01", "completedOn": None, "overdue": False},
        ],
        **over,
    }


def test_filters_keep_what_the_api_accepts_and_name_the_rest() -> None:
    f = parse_filters({"region": "16.06", "agency": "bnn", "programme": "DRPPA", "status": "ACTIVE", "after": "c1"})
    assert (f.region, f.agency, f.programme, f.status, f.after, f.problems) == (
        "16.06", "BNN", "DRPPA", "ACTIVE", "c1", ()
    )  # fmt: skip
    bad = parse_filters({"region": "16;drop", "agency": "NASA", "status": "", "programme": "x" * 5})
    assert (bad.region, bad.agency, bad.programme, bad.status) == ("", "", "", "")
    assert bad.problems == ("region", "agency", "programme")
    assert parse_filters({}) == Filters()


def test_variables_leave_out_empty_filters() -> None:
    assert variables(Filters(), page_size=10) == {"filter": {}, "first": 10, "after": None}
    assert variables(Filters(region="16", status="ACTIVE", after="c")) == {
        "filter": {"regionPrefix": "16", "status": "ACTIVE"},
        "first": 25,
        "after": "c",
    }


def test_rows_with_labels_progress_and_overdue() -> None:
    data = {"pilotProjects": {"edges": [{"cursor": "c1", "node": node()}], "pageInfo": {"hasNextPage": False}}}
    view = shape(data, LABELS, Filters())
    [row] = view.rows
    assert row.village == "Kaligowong, Wonosobo"
    assert row.coordinator == "Kemenko Polkam"
    assert row.status_label == "Aktif"
    assert row.partners == ["Badan Narkotika Nasional (Desa Bersinar)", "KEMENDES"]
    assert (row.milestones_done, row.milestones_total, row.overdue, row.is_overdue) == (1, 3, 1, True)
    assert view.overdue_total == 1
    assert view.next_url is None
    assert view.first_url is None


def test_paging_forwards_keeps_the_filters() -> None:
    filters = Filters(region="16.06", status="ACTIVE", after="c0")
    data = {"pilotProjects": {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": "c/9+"}}}
    view = shape(data, LABELS, filters)
    assert view.next_url == "/pilots?region=16.06&status=ACTIVE&after=c%2F9%2B"
    assert view.first_url == "/pilots?region=16.06&status=ACTIVE"
    assert shape(data, LABELS, Filters(after="c0")).first_url == "/pilots"


def test_choices_come_from_the_labels_or_the_fallback() -> None:
    view = shape({"pilotProjects": None}, LABELS, Filters())
    assert view.rows == []
    assert ("ACTIVE", "Aktif") in view.choices["status"]
    assert ("DRPPA", "DRPPA") in view.choices["programme"]  # no labels for programmes in LABELS: the raw values
    assert [v for v, _ in view.choices["agency"]][:3] == ["KP2MI", "BP3MI", "DISNAKER"]  # the schema's order


def test_a_pilot_without_overdue_milestones_is_not_highlighted() -> None:
    data = {"pilotProjects": {"edges": [{"node": node(milestones=[])}], "pageInfo": {}}}
    [row] = shape(data, LABELS, Filters()).rows
    assert not row.is_overdue
    assert row.milestones_total == 0


def test_a_row_takes_the_apis_overdue_count_and_counts_the_other_villages() -> None:
    villages = [{"villageCode": "33.07.05.2001"}, {"villageCode": "33.07.05.2002"}, {"villageCode": "33.07.05.2003"}]
    view = shape({"pilotProjects": {"edges": [{"node": node(overdueMilestones=3, villages=villages)}]}}, LABELS,
                 Filters())  # fmt: skip
    [row] = view.rows
    assert (row.overdue, row.more_villages, row.is_overdue) == (3, 2, True)
    [plain] = shape({"pilotProjects": {"edges": [{"node": node()}]}}, LABELS, Filters()).rows
    assert (plain.overdue, plain.more_villages) == (1, 0)  # no count from the API: the milestones say one
