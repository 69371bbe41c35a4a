"""`/pilots/{id}`: one pilot with its partners, milestones (and the complete action for the responsible agency),
linked activities and its village's ten-pillar progress."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from demimas_portal.i18n import Labels
from demimas_portal.views.chart import PillarChart, pillar_chart

__all__ = [
    "COMPLETE",
    "NEEDS",
    "QUERY",
    "ActivityRow",
    "MilestoneRow",
    "PartnerRow",
    "PilotView",
    "VillageBlock",
    "shape",
]

NEEDS = "pilot:read"
"""The grant the page reads with (named on the 403 page of an agency without it)."""

QUERY = """
query PortalPilot($id: ID!) {
  pilotProject(id: $id) {
    id title villageCode coordinator status statusReason startDate
    partners { agency programme commitment }
    milestones { id title dueDate responsibleAgency completedOn completedBy overdue }
    activities { id title occurredOn pillar agency programme peopleReached }
    village { ...Place }
    villages { lead village { ...Place } }
  }
}
fragment Place on Village {
  code name regency { name } province { name }
  pillarProgress {
    villageCode windowFrom windowTo pillarsServed coverage
    pillars { pillar activities peopleReached served lastActivityOn }
  }
}
"""

COMPLETE = """
mutation PortalCompleteMilestone($pilotId: ID!, $milestoneId: ID!, $completedOn: Date!) {
  completeMilestone(pilotId: $pilotId, milestoneId: $milestoneId, completedOn: $completedOn) {
    id milestones { id completedOn }
  }
}
"""


@dataclass(frozen=True)
class PartnerRow:
    agency: str
    programme: str
    commitment: str


@dataclass(frozen=True)
class MilestoneRow:
    id: str
    title: str
    due_date: str
    responsible: str
    responsible_agency: str
    completed_on: str | None
    completed_by: str
    overdue: bool
    can_complete: bool
    """The signed-in agency is the responsible one and the milestone is open: the page offers the complete form."""


@dataclass(frozen=True)
class ActivityRow:
    id: str
    title: str
    occurred_on: str
    pillar: str
    agency: str
    programme: str
    people_reached: int


@dataclass(frozen=True)
class VillageBlock:
    code: str
    name: str
    place: str
    lead: bool
    chart: PillarChart | None


@dataclass(frozen=True)
class PilotView:
    id: str
    title: str
    coordinator: str
    status: str
    status_label: str
    status_reason: str | None
    start_date: str
    partners: list[PartnerRow]
    milestones: list[MilestoneRow]
    activities: list[ActivityRow]
    villages: list[VillageBlock]

    @property
    def overdue(self) -> int:
        return sum(1 for m in self.milestones if m.overdue)


def _villages(node: Mapping[str, Any], labels: Labels) -> list[VillageBlock]:
    lead_code = node.get("villageCode")
    # `villages` ({lead, village}, the lead first) when the API gave them, else the lead `village` alone
    listed = [v["village"] for v in node.get("villages") or () if isinstance(v, Mapping) and v.get("village")]
    listed = listed or ([node["village"]] if node.get("village") else [])
    blocks = []
    for v in listed:
        place = ", ".join(x for x in ((v.get("regency") or {}).get("name"), (v.get("province") or {}).get("name")) if x)
        blocks.append(
            VillageBlock(
                code=str(v.get("code", "")),
                name=str(v.get("name", "")),
                place=place,
                lead=v.get("code") == lead_code,
                chart=pillar_chart(v.get("pillarProgress"), labels),
            )
        )
    return sorted(blocks, key=lambda b: (not b.lead, b.name))


def shape(node: Mapping[str, Any], labels: Labels, agency: str | None) -> PilotView:
    milestones = [
        MilestoneRow(
            id=str(m["id"]),
            title=str(m.get("title", "")),
            due_date=str(m.get("dueDate", "")),
            responsible=labels.of("Agency", m.get("responsibleAgency")),
            responsible_agency=str(m.get("responsibleAgency", "")),
            completed_on=m.get("completedOn"),
            completed_by=labels.of("Agency", m.get("completedBy")),
            overdue=bool(m.get("overdue")),
            can_complete=agency is not None and m.get("responsibleAgency") == agency and not m.get("completedOn"),
        )
        for m in sorted(node.get("milestones") or [], key=lambda m: (m.get("dueDate", ""), m.get("title", "")))
    ]
    return PilotView(
        id=str(node["id"]),
        title=str(node.get("title", "")),
        coordinator=labels.of("Agency", node.get("coordinator")),
        status=str(node.get("status", "")),
        status_label=labels.of("PilotStatus", node.get("status")),
        status_reason=node.get("statusReason"),
        start_date=str(node.get("startDate", "")),
        partners=[
            PartnerRow(
                agency=labels.of("Agency", p.get("agency")),
                programme=labels.of("ThematicProgramme", p.get("programme")),
                commitment=str(p.get("commitment", "")),
            )
            for p in node.get("partners") or []
        ],
        milestones=milestones,
        activities=[
            ActivityRow(
                id=str(a["id"]),
                title=str(a.get("title", "")),
                occurred_on=str(a.get("occurredOn", "")),
                pillar=labels.of("ServicePillar", a.get("pillar")),
                agency=labels.of("Agency", a.get("agency")),
                programme=labels.of("ThematicProgramme", a.get("programme")),
                people_reached=int(a.get("peopleReached") or 0),
            )
            for a in node.get("activities") or []
        ],
        villages=_villages(node, labels),
    )
