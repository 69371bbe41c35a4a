"""`/villages/{code}`: the view model from literal answers: a full village, an empty one, one without cases, the
sections refused to an agency (KEMENDES, an auditor), and the breakdown charts' geometry."""

from __future__ import annotations

from typing import Any

from demimas_portal.gateway import GatewayError
from demimas_portal.i18n import Labels
from demimas_portal.views import village
from demimas_portal.views.breakdown import BAR_WIDTH, breakdown

LABELS = Labels(
    "en",
    {
        ("Agency", "KEMENPPPA"): "KemenPPPA",
        ("Agency", "KP2MI"): "KP2MI",
        ("Agency", "KEMENKO_POLKAM"): "Kemenko Polkam",
        ("DesignationStatus", "ACTIVE"): "Active",
        ("Programme", "DEMIMAS"): "Desa Migran EMAS",
        ("ThematicProgramme", "DRPPA"): "Child-friendly village",
        ("ThematicProgramme", "DESA_BERSINAR"): "Drug-free village",
        ("ThematicStatusState", "ACTIVE"): "Active",
        ("ThematicStatusState", "ENDED"): "Ended",
        ("Sex", "FEMALE"): "Female",
        ("Sex", "MALE"): "Male",
        ("EducationLevel", "SMK"): "Vocational high school",
        ("CaseKind", "WAGE_THEFT"): "Unpaid wages",
        ("CaseKind", "TRAFFICKING"): "Trafficking",
        ("PilotStatus", "ACTIVE"): "Active",
        ("VillageKind", "DESA"): "Village",
        ("ProposalStatus", "APPROVED"): "Approved",
    },
)


def full_village(**over: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "code": "16.06.13.2001",
        "name": "Ulak Paceh",
        "kind": "DESA",
        "district": {"name": "Lawang Wetan"},
        "regency": {"name": "Musi Banyuasin"},
        "province": {"name": "Sumatera Selatan"},
        "designation": {
            "id": "d1",
            "status": "ACTIVE",
            "decreeNumber": "SK 12/2026",
            "decreeDate": "2026-03-01",
            "programme": "DEMIMAS",
            "history": [
                {"status": "SUSPENDED", "at": "2026-05-02T10:00:00+00:00", "agency": "KP2MI", "reason": "review"},
                {"status": "ACTIVE", "at": "2026-03-01T09:00:00+00:00", "agency": "KP2MI", "reason": None},
            ],
        },
        "proposals": [{"id": "p2", "status": "APPROVED", "decreeNumber": "SK 12/2026"}],
        "migrantStats": {
            "total": 10,
            "candidates": 3,
            "abroad": 5,
            "returned": 2,
            "departed": 7,
            "proceduralDeparted": 6,
            "proceduralShare": 6 / 7,
            "byDestination": [{"country": "MY", "count": 3}, {"country": "HK", "count": 2}],
            "byScheme": [],
            "byEducation": [{"key": "SMK", "label": None, "count": 10}],
            "bySex": [{"key": "MALE", "label": None, "count": 4}, {"key": "FEMALE", "label": None, "count": 6}],
            "bySector": [],
            "byOccupation": [{"key": "8", "label": "Plant and machine operators", "count": 5}],
        },
        "pillarProgress": {
            "villageCode": "16.06.13.2001",
            "windowFrom": "2025-12-07",
            "windowTo": "2026-12-07",
            "pillarsServed": 1,
            "coverage": 0.1,
            "pillars": [
                {
                    "pillar": "REINTEGRATION",
                    "activities": 2,
                    "peopleReached": 30,
                    "served": True,
                    "lastActivityOn": None,
                }
            ],
        },
        "pilotProjects": [
            {
                "id": "pp1",
                "title": "Returnee BUMDes",
                "status": "ACTIVE",
                "coordinator": "KEMENKO_POLKAM",
                "startDate": "2026-01-10",
                "milestones": [{"overdue": True, "completedOn": None}, {"overdue": False, "completedOn": "2026-02-01"}],
            }
        ],
        "caseStats": {
            "open": 2,
            "closed": 1,
            "overdue": 1,
            "medianDaysToResolution": 12.25,
            "openByKind": [{"kind": "WAGE_THEFT", "count": 2}],
            "closedByKind": [{"kind": "TRAFFICKING", "count": 1}],
        },
    }
    node.update(over)
    return node


THEMATIC = [
    {"id": "t1", "programme": "DESA_BERSINAR", "agency": "BNN", "since": "2024-01-01", "reference": "Sprin/1",
     "status": "ENDED", "endedOn": "2025-01-01", "endReason": "programme closed"},
    {"id": "t2", "programme": "DRPPA", "agency": "KEMENPPPA", "since": "2025-06-01", "reference": "SK 7/2025",
     "status": "ACTIVE", "endedOn": None, "endReason": None},
]  # fmt: skip


def test_a_full_village() -> None:
    view = village.shape(full_village(), LABELS, thematic=THEMATIC)
    assert (view.name, view.kind, view.place) == (
        "Ulak Paceh",
        "Village",
        "Lawang Wetan, Musi Banyuasin, Sumatera Selatan",
    )
    d = view.designation
    assert d is not None
    assert (d.status_label, d.decree_number, d.decree_date, d.programme) == (
        "Active",
        "SK 12/2026",
        "2026-03-01",
        "Desa Migran EMAS",
    )
    assert d.designated_since == "2026-03-01"  # the first transition, whatever order the answer had
    assert [h.status for h in d.history] == ["Active", "SUSPENDED"]  # a value without a label shows as it is
    assert view.latest_proposal == "Approved"
    stats = view.stats
    assert stats is not None
    assert (stats.total, stats.abroad, stats.procedural_percent) == (10, 5, 86)
    by = {b.name: b for b in stats.breakdowns}
    assert list(by) == ["byDestination", "byScheme", "bySex", "byEducation", "bySector", "byOccupation"]
    assert [(r.label, r.count, r.percent) for r in by["bySex"].rows] == [("Female", 6, 60), ("Male", 4, 40)]
    assert by["byEducation"].rows[0].label == "Vocational high school"
    assert by["byOccupation"].rows[0].label == "Plant and machine operators"  # the API's own label of a KBJI code
    assert (by["byDestination"].chart, by["byEducation"].chart) == (True, False)  # one value: a table says it all
    assert [r.label for r in by["byDestination"].rows] == ["Malaysia", "Hong Kong SAR China"]  # CLDR, in English
    assert by["byScheme"].rows == []
    assert view.chart is not None
    assert view.chart.pillars_served == 1
    [pilot] = view.pilots
    assert (pilot.title, pilot.status_label, pilot.milestones_done, pilot.milestones_total, pilot.overdue) == (
        "Returnee BUMDes", "Active", 1, 2, 1
    )  # fmt: skip
    cases = view.cases
    assert cases is not None
    assert (cases.open, cases.closed, cases.overdue, cases.median_days) == (2, 1, 1, 12.2)
    assert cases.by_kind == [("Unpaid wages", 2, 0), ("Trafficking", 0, 1)]  # the kind with most cases first
    assert [(s.programme, s.status_label, s.active) for s in view.thematic] == [
        ("Child-friendly village", "Active", True),
        ("Drug-free village", "Ended", False),
    ]  # active statuses first
    assert view.refused == frozenset()
    assert all(view.shows(s) for s in (*village.SECTIONS, "thematicStatuses"))


def test_an_empty_village() -> None:
    node = {"code": "16.06.13.2099", "name": "Sepi", "kind": "DESA", "district": None, "regency": {"name": "Muba"},
            "province": None, "designation": None, "proposals": [], "migrantStats": None, "pillarProgress": None,
            "pilotProjects": [], "caseStats": None}  # fmt: skip
    view = village.shape(node, LABELS, thematic=[])
    assert (view.place, view.designation, view.latest_proposal, view.stats, view.chart) == (
        "Muba",
        None,
        None,
        None,
        None,
    )
    assert (view.pilots, view.cases, view.thematic) == ([], None, [])


def test_a_village_without_cases_has_no_case_section() -> None:
    quiet = {"open": 0, "closed": 0, "overdue": 0, "medianDaysToResolution": None, "openByKind": [], "closedByKind": []}
    view = village.shape(full_village(caseStats=quiet), LABELS, thematic=[])
    assert view.cases is None
    assert view.shows("caseStats")  # not refused: there is just nothing to show


def test_zero_counts_are_left_out_of_a_breakdown_and_bars_scale_to_the_largest() -> None:
    b = breakdown("bySex", [{"key": "MALE", "count": 0}, {"key": "FEMALE", "count": 8}, {"key": "X", "count": 2}])
    assert [(r.key, r.width, r.percent) for r in b.rows] == [("FEMALE", BAR_WIDTH, 80), ("X", BAR_WIDTH // 4, 20)]
    assert b.total == 10
    assert b.height >= b.rows[-1].y + b.row_height
    empty = breakdown("bySector", [])
    assert (empty.rows, empty.total, empty.chart) == ([], 0, False)


def test_the_kemendes_cut_refused_sections_from_error_paths() -> None:
    """KEMENDES holds no designation:propose/verify/decide: the gateway removes `proposals` (an error at its path);
    the rest of the village answers."""
    errors = [
        GatewayError("UNAUTHORIZED_FIELD_OR_TYPE", "Unauthorized field or type", ("village", "proposals")),
        GatewayError("INTERNAL", "boom", ("village", "pillarProgress")),  # a failure, not a refusal
        GatewayError("FORBIDDEN", "no", ("somethingElse", "caseStats")),
    ]
    refused = village.refused_sections(errors)
    assert refused == frozenset({"proposals"})
    view = village.shape(full_village(proposals=None), LABELS, thematic=THEMATIC, refused=refused)
    assert not view.shows("proposals")
    assert view.latest_proposal is None
    assert view.shows("migrantStats")  # stats:read: KEMENDES sees the figures
    assert view.stats is not None
    assert view.shows("caseStats")
    assert view.cases is not None


def test_an_auditor_sees_figures_but_no_pillars_pilots_or_thematic_statuses() -> None:
    denied = ("pillarProgress", "pilotProjects", "proposals")
    errors = [GatewayError("UNAUTHORIZED_FIELD_OR_TYPE", "x", ("village", f)) for f in denied]
    refused = village.refused_sections(errors) | {"thematicStatuses"}
    node = full_village(pillarProgress=None, pilotProjects=None, proposals=None)
    view = village.shape(node, LABELS, thematic=None, refused=refused)
    assert {s for s in (*village.SECTIONS, "thematicStatuses") if not view.shows(s)} == {*denied, "thematicStatuses"}
    assert (view.chart, view.pilots, view.thematic) == (None, [], [])
    assert view.stats is not None


def test_destinations_are_named_in_the_page_s_language() -> None:
    node = full_village()
    node["migrantStats"]["byDestination"] = [{"country": "SA", "count": 4}, {"country": "KR", "count": 3},
                                             {"country": "XZ", "count": 1}]  # fmt: skip
    indonesian = village.shape(node, Labels("id", {}), thematic=[])
    assert indonesian.stats is not None
    [destinations] = [b for b in indonesian.stats.breakdowns if b.name == "byDestination"]
    assert [r.label for r in destinations.rows] == ["Arab Saudi", "Korea Selatan", "XZ"]  # an unknown code as sent


def test_village_codes() -> None:
    assert village.valid_code("16.06.13.2001")
    for bad in ("16.06.13", "16", "x", "16.06.13.2001.1", "../etc"):
        assert not village.valid_code(bad), bad
