"""`/pilots`: the joint pilot projects the signed-in agency may see, filtered, a page at a time.

`parse_filters` reads the GET form, `variables` turns it into the query's variables, `shape` turns the gateway's
answer into rows; all three are pure (tests/unit/test_views_pilots.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from demimas_portal.i18n import Labels
from demimas_portal.views.enums import AGENCIES, PILOT_STATUSES, PROGRAMMES, REGION

__all__ = ["NEEDS", "PAGE_SIZE", "QUERY", "Filters", "PilotRow", "PilotsView", "parse_filters", "shape", "variables"]

PAGE_SIZE = 25

NEEDS = "pilot:read"
"""The grant the page reads with (named on the 403 page of an agency without it)."""

QUERY = """
query PortalPilots($filter: PilotFilter, $first: Int, $after: String) {
  pilotProjects(filter: $filter, first: $first, after: $after) {
    edges {
      cursor
      node {
        id title villageCode coordinator status startDate
        village { code name regency { name } }
        partners { agency programme }
        milestones { id dueDate completedOn overdue }
        overdueMilestones
        villages { villageCode }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@dataclass(frozen=True)
class Filters:
    region: str = ""
    agency: str = ""
    programme: str = ""
    status: str = ""
    after: str = ""
    problems: tuple[str, ...] = ()
    """The names of fields whose value was not understood (and so ignored)."""

    def query(self, *, after: str | None = None) -> str:
        """The GET query string of these filters (empty fields left out), at cursor `after`."""
        pairs = {"region": self.region, "agency": self.agency, "programme": self.programme, "status": self.status}
        if after:
            pairs["after"] = after
        return urlencode({k: v for k, v in pairs.items() if v})


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The filters of the GET form; a value the API would refuse is dropped and named in `problems`."""
    problems: list[str] = []

    def pick(name: str, allowed: tuple[str, ...]) -> str:
        value = (params.get(name) or "").strip().upper()
        if value and value not in allowed:
            problems.append(name)
            return ""
        return value

    region = (params.get("region") or "").strip()
    if region and not REGION.match(region):
        problems.append("region")
        region = ""
    after = (params.get("after") or "").strip()
    if len(after) > 200:
        problems.append("after")
        after = ""
    return Filters(
        region=region,
        agency=pick("agency", AGENCIES),
        programme=pick("programme", PROGRAMMES),
        status=pick("status", PILOT_STATUSES),
        after=after,
        problems=tuple(problems),
    )


def variables(filters: Filters, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    f = {
        "regionPrefix": filters.region or None,
        "agency": filters.agency or None,
        "programme": filters.programme or None,
        "status": filters.status or None,
    }
    return {"filter": {k: v for k, v in f.items() if v}, "first": page_size, "after": filters.after or None}


@dataclass(frozen=True)
class PilotRow:
    id: str
    title: str
    village: str
    village_code: str
    coordinator: str
    status: str
    status_label: str
    start_date: str
    partners: list[str]
    milestones_total: int
    milestones_done: int
    overdue: int
    more_villages: int = 0
    """The pilot's villages besides the one shown (the lead, or the first in the caller's region)."""

    @property
    def is_overdue(self) -> bool:
        return self.overdue > 0


@dataclass(frozen=True)
class PilotsView:
    rows: list[PilotRow]
    filters: Filters
    next_url: str | None
    first_url: str | None
    """Back to the first page (there is no backward cursor: the list pages forwards only)."""
    overdue_total: int = 0
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _row(node: Mapping[str, Any], labels: Labels) -> PilotRow:
    milestones = node.get("milestones") or []
    overdue = node.get("overdueMilestones")
    if not isinstance(overdue, int):  # the field refused or absent: count what the milestones say
        overdue = sum(1 for m in milestones if m.get("overdue"))
    village = node.get("village") or {}
    regency = (village.get("regency") or {}).get("name")
    village_name = village.get("name") or node.get("villageCode", "")
    partners = []
    for p in node.get("partners") or []:
        text = labels.of("Agency", p.get("agency"))
        if p.get("programme"):
            text += f" ({labels.of('ThematicProgramme', p['programme'])})"
        partners.append(text)
    return PilotRow(
        id=str(node["id"]),
        title=str(node.get("title", "")),
        village=f"{village_name}, {regency}" if regency else village_name,
        village_code=str(node.get("villageCode", "")),
        coordinator=labels.of("Agency", node.get("coordinator")),
        status=str(node.get("status", "")),
        status_label=labels.of("PilotStatus", node.get("status")),
        start_date=str(node.get("startDate", "")),
        partners=partners,
        milestones_total=len(milestones),
        milestones_done=sum(1 for m in milestones if m.get("completedOn")),
        overdue=overdue,
        more_villages=max(0, len(node.get("villages") or []) - 1),
    )


def shape(data: Mapping[str, Any], labels: Labels, filters: Filters) -> PilotsView:
    connection = data.get("pilotProjects") or {}
    rows = [_row(edge["node"], labels) for edge in connection.get("edges") or [] if edge.get("node")]
    info = connection.get("pageInfo") or {}
    next_url = (
        f"/pilots?{filters.query(after=info['endCursor'])}"
        if info.get("hasNextPage") and info.get("endCursor")
        else None
    )
    first_url = f"/pilots?{filters.query()}".rstrip("?") if filters.after else None
    choices = {
        "agency": [(v, labels.of("Agency", v)) for v in labels.values("Agency", AGENCIES)],
        "programme": [(v, labels.of("ThematicProgramme", v)) for v in labels.values("ThematicProgramme", PROGRAMMES)],
        "status": [(v, labels.of("PilotStatus", v)) for v in labels.values("PilotStatus", PILOT_STATUSES)],
    }
    return PilotsView(
        rows=rows,
        filters=filters,
        next_url=next_url,
        first_url=first_url,
        overdue_total=sum(r.overdue for r in rows),
        choices=choices,
    )
