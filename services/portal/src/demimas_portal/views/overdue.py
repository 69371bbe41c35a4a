"""`/overdue`: the milestones of the signed-in agency that are past due and not completed, oldest first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from demimas_portal.i18n import Labels

__all__ = ["NEEDS", "QUERY", "OverdueRow", "shape"]

NEEDS = "pilot:read"
"""The grant the page reads with (named on the 403 page of an agency without it)."""

QUERY = """
query PortalOverdue($agency: Agency, $first: Int) {
  overdueMilestones(agency: $agency, first: $first) {
    daysOverdue
    milestone { id title dueDate responsibleAgency }
    pilot { id title villageCode village { name } }
  }
}
"""
LIMIT = 200


@dataclass(frozen=True)
class OverdueRow:
    pilot_id: str
    pilot_title: str
    village: str
    milestone_id: str
    milestone_title: str
    due_date: str
    days_overdue: int
    responsible: str


def shape(data: Mapping[str, Any], labels: Labels) -> list[OverdueRow]:
    rows = []
    for item in data.get("overdueMilestones") or []:
        pilot, milestone = item.get("pilot") or {}, item.get("milestone") or {}
        rows.append(
            OverdueRow(
                pilot_id=str(pilot.get("id", "")),
                pilot_title=str(pilot.get("title", "")),
                village=str((pilot.get("village") or {}).get("name") or pilot.get("villageCode", "")),
                milestone_id=str(milestone.get("id", "")),
                milestone_title=str(milestone.get("title", "")),
                due_date=str(milestone.get("dueDate", "")),
                days_overdue=int(item.get("daysOverdue") or 0),
                responsible=labels.of("Agency", milestone.get("responsibleAgency")),
            )
        )
    return sorted(rows, key=lambda r: (-r.days_overdue, r.pilot_title, r.milestone_title))
