"""The designation service's subscriptions (docs/designation.md, "Subscriptions"): `proposalChanged` and
`designationChanged`, fed by its own events (`demimas.designation.proposal.>`, `demimas.designation.village.>`)
through the process's live fan-out (`demimas_common.subscriptions`).

Access per event, as the queries: `proposalChanged` needs one of the designation scopes (as `proposals`);
`designationChanged` needs a caller (as `designations`); a caller with a region sees only events of villages inside
it. The event objects carry ids, codes and statuses; `proposal`, `designation` and `village` are entity
references, resolved when the event is delivered under their usual rules.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import StrEnum

import strawberry
from strawberry.types import Info

from demimas_common.auth.principal import region_covers
from demimas_common.errors import NotFound
from demimas_common.events.envelope import CloudEvent
from demimas_common.graphql.village import parse_region_prefix
from demimas_common.subscriptions import EventQuery, live_events
from demimas_designation.domain.vocabulary import DesignationStatus, ProposalStatus
from demimas_designation.entrypoints.graphql.context import DesignationContext
from demimas_designation.entrypoints.graphql.types import (
    Designation,
    DesignationStatusEnum,
    Proposal,
    ProposalStatusEnum,
    Village,
)

__all__ = ["DesignationChange", "ProposalChange", "Subscription"]

Ctx = Info[DesignationContext, None]
READERS = [["designation:propose"], ["designation:verify"], ["designation:decide"]]


def _suffix(event: CloudEvent) -> str:
    return event.type.rsplit(".", 1)[-1].upper()


@strawberry.enum(description="A step of the proposal workflow (the event type's last word).")
class ProposalChangeKind(StrEnum):
    SUBMITTED = "SUBMITTED"
    VERIFIED = "VERIFIED"
    ASSESSED = "ASSESSED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@strawberry.enum(description="What happened to a village's designation (reinstatement is DESIGNATED again).")
class DesignationChangeKind(StrEnum):
    DESIGNATED = "DESIGNATED"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


@strawberry.type(description="A proposal moved a step: ids, village and status.")
class ProposalChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    kind: ProposalChangeKind
    proposal_id: strawberry.ID
    village_code: str
    status: ProposalStatusEnum  # type: ignore[valid-type]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The proposal as it is now.")
    async def proposal(self, info: Ctx) -> Proposal:
        found = await Proposal.resolve_reference(info, self.proposal_id)
        if found is None:
            raise NotFound(f"no proposal {self.proposal_id}")
        return found

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> ProposalChange | None:
        try:
            kind = ProposalChangeKind(_suffix(event))
            status = ProposalStatus(event.data["status"])
        except (ValueError, KeyError):
            return None
        return cls(cursor=cursor, kind=kind, proposal_id=strawberry.ID(str(event.data["proposalId"])),
                   village_code=str(event.data["villageCode"]), status=status)  # fmt: skip


@strawberry.type(description="A village was designated, suspended, reinstated or revoked.")
class DesignationChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    kind: DesignationChangeKind
    village_code: str
    designation_id: strawberry.ID | None
    status: DesignationStatusEnum | None  # type: ignore[valid-type]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The designation as it is now.")
    async def designation(self, info: Ctx) -> Designation | None:
        if self.designation_id is None:
            return None
        return await Designation.resolve_reference(info, self.designation_id)

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> DesignationChange | None:
        try:
            kind = DesignationChangeKind(_suffix(event))
            status = DesignationStatus(event.data["status"]) if event.data.get("status") else None
        except ValueError:
            return None
        designation_id = event.data.get("designationId")
        return cls(cursor=cursor, kind=kind, village_code=str(event.data["villageCode"]), status=status,
                   designation_id=strawberry.ID(str(designation_id)) if designation_id else None)  # fmt: skip


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=READERS,
        description="Proposals submitted, verified, assessed, approved or rejected, in the caller's region. With "
        "`after` (a cursor received), every change since then first, then live ones.",
    )
    async def proposal_changed(
        self, info: Ctx, region_prefix: str | None = None, after: str | None = None
    ) -> AsyncGenerator[ProposalChange, None]:
        info.context.require_principal()
        prefix = parse_region_prefix(region_prefix)
        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.designation.proposal.>",
                after=after,
                village_of=lambda event: event.data.get("villageCode"),
                matches=lambda event: prefix is None or region_covers(prefix, str(event.data.get("villageCode"))),
                build=ProposalChange.of,
            ),
        )

    @strawberry.federation.field(
        is_subscription=True,
        authenticated=True,
        description="Villages designated, suspended, reinstated or revoked, in the caller's region. With `after`, "
        "every change since then first.",
    )
    async def designation_changed(
        self, info: Ctx, region_prefix: str | None = None, after: str | None = None
    ) -> AsyncGenerator[DesignationChange, None]:
        info.context.require_principal()
        prefix = parse_region_prefix(region_prefix)
        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.designation.village.>",
                after=after,
                village_of=lambda event: event.data.get("villageCode"),
                matches=lambda event: prefix is None or region_covers(prefix, str(event.data.get("villageCode"))),
                build=DesignationChange.of,
            ),
        )
