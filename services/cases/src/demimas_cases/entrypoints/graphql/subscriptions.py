"""The cases service's subscription (docs/cases.md, "Subscriptions"): `caseChanged`, fed by its own case events
(`demimas.cases.case.>`) through the process's live fan-out (`demimas_common.subscriptions`).

Who sees which event is who sees the case (`domain.permissions.sees`): `case:read` or `case:write`, the case's
village inside the caller's region, and for the agencies that do not handle every case of their region, only cases
referred to them. That needs the case, not only the event: each event's case is read (once per process for every
subscriber, by id and version) and checked for each subscriber. The event objects carry ids, codes, statuses and
the version, never content; `case` is the entity (content keeps its scope, purpose and recorded read).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from enum import StrEnum

import strawberry

from demimas_cases.adapters.cases import CaseRepository
from demimas_cases.domain import case as model
from demimas_cases.domain import vocabulary as v
from demimas_cases.domain.permissions import sees
from demimas_cases.entrypoints.graphql.common import READ
from demimas_cases.entrypoints.graphql.context import CasesContext, Ctx
from demimas_cases.entrypoints.graphql.enums import AgencyEnum, CaseKindEnum, CasePhaseEnum, CaseStatusEnum
from demimas_cases.entrypoints.graphql.graph import Case, Village
from demimas_common.auth.principal import Agency, region_covers
from demimas_common.errors import NotFound
from demimas_common.events.envelope import CloudEvent
from demimas_common.graphql.village import parse_region_prefix
from demimas_common.subscriptions import EventQuery, live_events

__all__ = ["CaseChange", "CaseChangeKind", "Subscription"]


@strawberry.enum(description="What happened to a case (the event type's last word).")
class CaseChangeKind(StrEnum):
    OPENED = "OPENED"
    TRIAGED = "TRIAGED"
    REFERRED = "REFERRED"
    REFERRAL_ACCEPTED = "REFERRAL_ACCEPTED"
    REFERRAL_DECLINED = "REFERRAL_DECLINED"
    REFERRAL_COMPLETED = "REFERRAL_COMPLETED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    OVERDUE = "OVERDUE"


@strawberry.input(description="Which case changes to receive (both optional; who may see each case applies anyway).")
class CaseChangeFilter:
    region_prefix: str | None = None
    assigned_to: AgencyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Cases this agency holds: it owns them or a referral to it is pending or accepted."
    )


@strawberry.type(description="A protection case changed: ids, codes, statuses and version, never its content.")
class CaseChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    kind: CaseChangeKind
    case_id: strawberry.ID
    village_code: str
    case_kind: CaseKindEnum  # type: ignore[valid-type]
    phase: CasePhaseEnum  # type: ignore[valid-type]
    status: CaseStatusEnum  # type: ignore[valid-type]
    owner_agency: AgencyEnum  # type: ignore[valid-type]
    version: int

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The case as it is now (its content needs case:read and PROTECTION_CASE).")
    async def case(self, info: Ctx) -> Case:
        principal = info.context.require_principal()
        found = await _RECENT_CASES.get(info.context, uuid.UUID(str(self.case_id)), self.version)
        if found is None or not sees(principal, found):
            raise NotFound(f"no case {self.case_id}")
        return Case.from_domain(found, info.context.rules.clock())

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> CaseChange | None:
        d = event.data
        try:
            kind = CaseChangeKind(event.type.rsplit(".", 1)[-1].upper())
            return cls(cursor=cursor, kind=kind, case_id=strawberry.ID(str(d["caseId"])),
                       village_code=str(d["villageCode"]), case_kind=v.CaseKind(d["kind"]),
                       phase=v.CasePhase(d["phase"]), status=v.CaseStatus(d["status"]),
                       owner_agency=Agency(d["ownerAgency"]), version=int(d["version"]))  # fmt: skip
        except (KeyError, ValueError):
            return None


class _RecentCases:
    """The cases of recent events, by (id, version), read once for every subscriber of the process."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.items: OrderedDict[tuple[uuid.UUID, int], model.Case | None] = OrderedDict()

    async def get(self, context: CasesContext, case_id: uuid.UUID, version: int) -> model.Case | None:
        key = (case_id, version)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        async with context.engine.connect() as conn:
            found = await CaseRepository(conn).get(case_id)
        self.items[key] = found
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return found


_RECENT_CASES = _RecentCases()


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=READ,
        description="Changes of the cases the caller may see (as `cases`), by region and holder. With `after` (a "
        "cursor received), every change since then first, then live ones.",
    )
    async def case_changed(
        self, info: Ctx, filter: CaseChangeFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[CaseChange, None]:
        context = info.context
        principal = context.require_principal()
        f = filter or CaseChangeFilter()
        prefix = parse_region_prefix(f.region_prefix or None, "filter.regionPrefix")
        holder = Agency(f.assigned_to).value if f.assigned_to else None

        async def admit(event: CloudEvent) -> bool:
            try:
                case_id, version = uuid.UUID(str(event.data["caseId"])), int(event.data["version"])
            except (KeyError, ValueError):
                return False
            found = await _RECENT_CASES.get(context, case_id, version)
            if found is None or not sees(principal, found):
                return False
            return holder is None or holder in model.holders(found)

        return await live_events(
            context,
            EventQuery(
                subject="demimas.cases.case.>",
                after=after,
                village_of=lambda event: event.data.get("villageCode"),
                matches=lambda event: prefix is None or region_covers(prefix, str(event.data.get("villageCode"))),
                admit=admit,
                build=CaseChange.of,
            ),
        )
