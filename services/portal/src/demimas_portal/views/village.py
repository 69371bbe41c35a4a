"""`/villages/{code}`: one village with its place, its Demimas designation, its migrant statistics and their
breakdowns, its thematic statuses (the ministries' own programmes), its ten-pillar progress, its pilots and, when it
has any, its protection cases in numbers.

Two queries, sent together: `QUERY` (everything nullable) and `THEMATIC` (`Village.thematicStatuses` is a
non-null list: refused to an agency without `pillars:read` or `pilot:read`, its null would take the whole village
with it, so it is asked on its own). What the gateway refuses to the signed-in agency comes back as an error at the
section's path (`["village", "caseStats"]`); `refused_sections` reads those paths and the page says "not available
to your agency" there instead of failing. A village outside a regional token's region is `null` (the region rule):
the route answers 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from demimas_portal.gateway import GatewayError
from demimas_portal.i18n import Labels, country_name
from demimas_portal.views.breakdown import Breakdown, breakdown
from demimas_portal.views.chart import PillarChart, pillar_chart
from demimas_portal.views.enums import REGION

__all__ = [
    "DENIED",
    "QUERY",
    "SECTIONS",
    "THEMATIC",
    "CaseView",
    "DesignationView",
    "PilotLine",
    "StatsView",
    "ThematicLine",
    "VillageView",
    "refused_sections",
    "shape",
    "valid_code",
]

QUERY = """
query PortalVillage($code: String!, $lang: Lang! = ID) {
  village(code: $code) {
    code name kind
    district { name } regency { name } province { name }
    designation { id status decreeNumber decreeDate programme history { status at agency reason } }
    proposals { id status decreeNumber }
    migrantStats {
      total candidates abroad returned departed proceduralDeparted proceduralShare
      byDestination { country count }
      byScheme { scheme count }
      byEducation { key label(lang: $lang) count }
      bySex { key label(lang: $lang) count }
      bySector { key label(lang: $lang) count }
      byOccupation { key label(lang: $lang) count }
      minCell
    }
    pillarProgress {
      villageCode windowFrom windowTo pillarsServed coverage
      pillars { pillar activities peopleReached served lastActivityOn }
    }
    pilotProjects { id title status coordinator startDate milestones { overdue completedOn } }
    caseStats { open closed overdue medianDaysToResolution openByKind { kind count } closedByKind { kind count } }
  }
}
"""

THEMATIC = """
query PortalVillageThematic($code: String!) {
  village(code: $code) {
    code
    thematicStatuses(includeEnded: true) { id programme agency since reference status endedOn endReason }
  }
}
"""

SECTIONS = ("designation", "proposals", "migrantStats", "pillarProgress", "pilotProjects", "caseStats")
"""The village's sections the page reads, as the API names them (and as `refused` holds them)."""

DENIED = frozenset({"FORBIDDEN", "UNAUTHORIZED_FIELD_OR_TYPE", "PURPOSE_REQUIRED"})


def valid_code(code: str) -> bool:
    """A village code (`16.06.01.2001`): anything else is no village (404 without asking the gateway)."""
    return bool(REGION.match(code)) and code.count(".") == 3


def refused_sections(errors: Iterable[GatewayError], sections: Iterable[str] = SECTIONS) -> frozenset[str]:
    """The sections of `village` the gateway refused to the caller: an access error at `["village", <section>, ...]`."""
    wanted = set(sections)
    return frozenset(
        str(e.path[1])
        for e in errors
        if e.code in DENIED and len(e.path) >= 2 and e.path[0] == "village" and e.path[1] in wanted
    )


@dataclass(frozen=True)
class Transition:
    status: str
    at: str
    agency: str
    reason: str | None


@dataclass(frozen=True)
class DesignationView:
    status: str
    status_label: str
    decree_number: str
    decree_date: str
    programme: str
    designated_since: str
    """The day of the first transition (the decree's entry into the register)."""
    history: list[Transition]


@dataclass(frozen=True)
class StatsView:
    total: int
    candidates: int
    abroad: int
    returned: int
    departed: int
    procedural_departed: int
    procedural_percent: int | None
    breakdowns: list[Breakdown]
    """byDestination, byScheme, bySex, byEducation, bySector, byOccupation, in that order (empty ones kept: the
    template says "none")."""
    min_cell: int = 1
    """The fewest people a breakdown value shown holds (3 for an agency that does not read the registry)."""


@dataclass(frozen=True)
class ThematicLine:
    id: str
    programme: str
    agency: str
    since: str
    reference: str
    status: str
    status_label: str
    ended_on: str | None
    end_reason: str | None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class PilotLine:
    id: str
    title: str
    status_label: str
    coordinator: str
    start_date: str
    milestones_total: int
    milestones_done: int
    overdue: int


@dataclass(frozen=True)
class CaseView:
    open: int
    closed: int
    overdue: int
    median_days: float | None
    by_kind: list[tuple[str, int, int]]
    """(kind label, open, closed) for every kind with a case."""


@dataclass(frozen=True)
class VillageView:
    code: str
    name: str
    kind: str
    place: str
    """District, regency, province: the names, comma separated."""
    designation: DesignationView | None
    latest_proposal: str | None
    """The status label of the newest proposal (when the agency may see proposals and there is one)."""
    stats: StatsView | None
    chart: PillarChart | None
    pilots: list[PilotLine]
    cases: CaseView | None
    """None when the village has no case (open or closed): the page leaves the section out."""
    thematic: list[ThematicLine]
    refused: frozenset[str] = field(default_factory=frozenset)
    """Sections the gateway refused to the signed-in agency (`caseStats`, `thematicStatuses`, ...)."""

    def shows(self, section: str) -> bool:
        return section not in self.refused


def _designation(node: Mapping[str, Any] | None, labels: Labels) -> DesignationView | None:
    if not node:
        return None
    history = [
        Transition(
            status=labels.of("DesignationStatus", h.get("status")),
            at=str(h.get("at") or "")[:10],
            agency=labels.of("Agency", h.get("agency")),
            reason=h.get("reason"),
        )
        for h in sorted(node.get("history") or [], key=lambda h: str(h.get("at") or ""))
    ]
    return DesignationView(
        status=str(node.get("status", "")),
        status_label=labels.of("DesignationStatus", node.get("status")),
        decree_number=str(node.get("decreeNumber") or ""),
        decree_date=str(node.get("decreeDate") or ""),
        programme=labels.of("Programme", node.get("programme")),
        designated_since=history[0].at if history else str(node.get("decreeDate") or ""),
        history=history,
    )


def _label_by(labels: Labels, enum: str, key: str) -> Callable[[Mapping[str, Any]], str]:
    """The words of a breakdown's value: the API's enum label, else the entry's own `label`, else the value."""

    def words(entry: Mapping[str, Any]) -> str:
        value = str(entry.get(key) or "")
        return labels.table.get((enum, value)) or str(entry.get("label") or value)

    return words


def _stats(node: Mapping[str, Any] | None, labels: Labels) -> StatsView | None:
    if not node:
        return None

    share = node.get("proceduralShare")
    return StatsView(
        total=int(node.get("total") or 0),
        candidates=int(node.get("candidates") or 0),
        abroad=int(node.get("abroad") or 0),
        returned=int(node.get("returned") or 0),
        departed=int(node.get("departed") or 0),
        procedural_departed=int(node.get("proceduralDeparted") or 0),
        procedural_percent=None if share is None else round(float(share) * 100),
        min_cell=int(node.get("minCell") or 1),
        breakdowns=[
            breakdown(
                "byDestination",
                node.get("byDestination") or [],
                key="country",
                label=lambda e: country_name(str(e.get("country") or ""), labels.lang),
            ),
            breakdown(
                "byScheme",
                node.get("byScheme") or [],
                key="scheme",
                label=_label_by(labels, "PlacementScheme", "scheme"),
            ),
            breakdown("bySex", node.get("bySex") or [], label=_label_by(labels, "Sex", "key")),
            breakdown("byEducation", node.get("byEducation") or [], label=_label_by(labels, "EducationLevel", "key")),
            breakdown("bySector", node.get("bySector") or [], label=_label_by(labels, "Sector", "key")),
            breakdown("byOccupation", node.get("byOccupation") or []),
        ],
    )


def _cases(node: Mapping[str, Any] | None, labels: Labels) -> CaseView | None:
    if not node or not (int(node.get("open") or 0) or int(node.get("closed") or 0)):
        return None
    opened = {k["kind"]: int(k["count"]) for k in node.get("openByKind") or []}
    closed = {k["kind"]: int(k["count"]) for k in node.get("closedByKind") or []}
    kinds = sorted(set(opened) | set(closed), key=lambda k: (-(opened.get(k, 0) + closed.get(k, 0)), k))
    median = node.get("medianDaysToResolution")
    return CaseView(
        open=int(node.get("open") or 0),
        closed=int(node.get("closed") or 0),
        overdue=int(node.get("overdue") or 0),
        median_days=None if median is None else round(float(median), 1),
        by_kind=[(labels.of("CaseKind", k), opened.get(k, 0), closed.get(k, 0)) for k in kinds],
    )


def _pilots(nodes: Iterable[Mapping[str, Any]], labels: Labels) -> list[PilotLine]:
    lines = []
    for p in nodes:
        milestones = p.get("milestones") or []
        lines.append(
            PilotLine(
                id=str(p["id"]),
                title=str(p.get("title", "")),
                status_label=labels.of("PilotStatus", p.get("status")),
                coordinator=labels.of("Agency", p.get("coordinator")),
                start_date=str(p.get("startDate") or ""),
                milestones_total=len(milestones),
                milestones_done=sum(1 for m in milestones if m.get("completedOn")),
                overdue=sum(1 for m in milestones if m.get("overdue")),
            )
        )
    return sorted(lines, key=lambda p: (p.start_date, p.title), reverse=True)


def _thematic(nodes: Iterable[Mapping[str, Any]], labels: Labels) -> list[ThematicLine]:
    lines = [
        ThematicLine(
            id=str(s.get("id", "")),
            programme=labels.of("ThematicProgramme", s.get("programme")),
            agency=labels.of("Agency", s.get("agency")),
            since=str(s.get("since") or ""),
            reference=str(s.get("reference") or ""),
            status=str(s.get("status") or ""),
            status_label=labels.of("ThematicStatusState", s.get("status")),
            ended_on=s.get("endedOn"),
            end_reason=s.get("endReason"),
        )
        for s in nodes
    ]
    return sorted(lines, key=lambda s: (not s.active, s.programme, s.since))


def shape(
    node: Mapping[str, Any],
    labels: Labels,
    *,
    thematic: Iterable[Mapping[str, Any]] | None = None,
    refused: frozenset[str] = frozenset(),
) -> VillageView:
    """The page of a village the gateway answered (`node` = `data.village`, not null). `thematic` is the second
    query's `thematicStatuses` (None when refused: add `thematicStatuses` to `refused`)."""
    place = ", ".join(n for n in ((node.get(k) or {}).get("name") for k in ("district", "regency", "province")) if n)
    proposals = node.get("proposals") or []
    return VillageView(
        code=str(node.get("code", "")),
        name=str(node.get("name", "")),
        kind=labels.of("VillageKind", node.get("kind")),
        place=place,
        designation=_designation(node.get("designation"), labels),
        latest_proposal=labels.of("ProposalStatus", proposals[0].get("status")) if proposals else None,
        stats=_stats(node.get("migrantStats"), labels),
        chart=pillar_chart(node.get("pillarProgress"), labels),
        pilots=_pilots(node.get("pilotProjects") or [], labels),
        cases=_cases(node.get("caseStats"), labels),
        thematic=_thematic(thematic or [], labels),
        refused=refused,
    )
