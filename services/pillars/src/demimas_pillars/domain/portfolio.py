"""A designated village's ten-pillar portfolio follows the designation service's `demimas.designation.village.*`
events: `designated` opens it, `suspended` suspends it and `revoked` closes it. An event no newer than the last one
applied changes nothing (redelivered or late). The portfolio is *opened* (and `demimas.pillars.portfolio.opened`
published, once per designation) when a village is first designated, and when it is designated again under another
designation (after a revocation: a new portfolio period); a reinstatement after a suspension is the same period.

Pure: the service layer (service_layer/portfolios.py) reads and writes the portfolio through its repository."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from demimas_common.events.envelope import CloudEvent

__all__ = ["DesignationChange", "Followed", "Portfolio", "PortfolioStatus", "designation_change", "follow"]


class PortfolioStatus:
    OPEN = "OPEN"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


_STATUS = {
    "demimas.designation.village.designated": PortfolioStatus.OPEN,
    "demimas.designation.village.suspended": PortfolioStatus.SUSPENDED,
    "demimas.designation.village.revoked": PortfolioStatus.CLOSED,
}


@dataclass(frozen=True)
class Portfolio:
    village_code: str
    designation_id: uuid.UUID
    status: str
    opened_at: dt.datetime
    changed_at: dt.datetime


@dataclass(frozen=True)
class DesignationChange:
    village_code: str
    designation_id: uuid.UUID
    status: str
    """What the portfolio becomes."""
    at: dt.datetime


@dataclass(frozen=True)
class Followed:
    portfolio: Portfolio
    opened: bool
    """A new portfolio period began: `portfolio.opened` is published."""


def designation_change(event: CloudEvent) -> DesignationChange | None:
    """What a designation event asks of the portfolio; None for an event that does not concern it."""
    status = _STATUS.get(event.type)
    if status is None:
        return None
    return DesignationChange(
        str(event.data["villageCode"]), uuid.UUID(str(event.data["designationId"])), status, event.time
    )


def follow(current: Portfolio | None, change: DesignationChange) -> Followed | None:
    """The village's portfolio after `change` (None: the change is stale and nothing changes)."""
    if current is None:
        opened = Portfolio(change.village_code, change.designation_id, change.status, change.at, change.at)
        return Followed(opened, change.status == PortfolioStatus.OPEN)
    if change.at <= current.changed_at:
        return None
    reopened = change.status == PortfolioStatus.OPEN and current.designation_id != change.designation_id
    after = replace(current, status=change.status, changed_at=change.at, designation_id=change.designation_id,
                    opened_at=change.at if reopened else current.opened_at)  # fmt: skip
    return Followed(after, reopened)
