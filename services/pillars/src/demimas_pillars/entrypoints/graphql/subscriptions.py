"""The pillars service's subscriptions (docs/pillars.md, "Subscriptions"): `activityRecorded` and
`pilotProjectChanged`, fed by its own events (`demimas.pillars.activity.>`, `demimas.pillars.pilot.>`) through the
process's live fan-out (`demimas_common.subscriptions`).

Access per event, as the queries: `activityRecorded` needs `pillars:read` (as `activity`), `pilotProjectChanged`
needs `pilot:read` (as `pilotProjects`); a caller with a region sees only events of villages inside it. The events
carry counts and codes, never who took part; `activity`, `pilotProject` and `village` are entity references
resolved when the event is delivered, under their usual rules (participants keep their own scopes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from enum import StrEnum

import strawberry
from strawberry.types import Info

from demimas_common.auth.principal import Agency, Principal, region_covers
from demimas_common.errors import NotFound
from demimas_common.events.envelope import CloudEvent
from demimas_common.graphql.ids import parse_uuid
from demimas_common.graphql.village import parse_region_prefix
from demimas_common.subscriptions import EventQuery, live_events
from demimas_pillars.domain import vocabulary as v
from demimas_pillars.entrypoints.graphql.common import shown_village
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import AgencyEnum, ServicePillarEnum
from demimas_pillars.entrypoints.graphql.graph import Activity, PilotProject, Village

__all__ = ["ActivityRecorded", "PilotProjectChange", "Subscription", "pilot_event_villages", "pilot_event_visible"]

Ctx = Info[PillarsContext, None]


def _village_of(event: CloudEvent) -> str | None:
    code = event.data.get("villageCode")
    return str(code) if code is not None else None


def _inside(prefix: str | None, code: object) -> bool:
    return prefix is None or region_covers(prefix, str(code))


def _pilot_villages(event: CloudEvent) -> list[str]:
    """The villages a pilot event concerns: `villageCode` (the lead, or the village added or removed) first, then
    the pilot's others (`villageCodes`; events written before multi-village pilots carry none)."""
    d = event.data
    codes = [str(d["villageCode"])] if d.get("villageCode") is not None else []
    return codes + [str(c) for c in d.get("villageCodes") or () if str(c) not in codes]


def pilot_event_villages(event: CloudEvent) -> list[str]:
    """The villages that decide who receives a pilot event: a milestone's event that names the milestone's village
    (`milestoneVillageCode`) is of that village alone, as `PilotProject.milestones` shows the milestone only where its
    village is seen; a village added or removed is of that village alone; any other pilot event is of every village
    of the pilot."""
    milestone_village = event.data.get("milestoneVillageCode")
    if milestone_village is not None:
        return [str(milestone_village)]
    if event.type.endswith((".village_added", ".village_removed")) and event.data.get("villageCode") is not None:
        # a village added or removed is news only where that village is seen (`PilotProject.villages` hides the
        # others), as in webhooks and the change feed
        return [str(event.data["villageCode"])]
    return _pilot_villages(event)


def pilot_event_visible(event: CloudEvent, principal: Principal, prefix: str | None) -> bool:
    """Whether a caller (its region, and its `regionPrefix`) receives a pilot event: one of its deciding villages
    inside both."""
    return any(_inside(prefix, c) and principal.covers(c) for c in pilot_event_villages(event))


@strawberry.input(description="Which recorded activities to receive (all optional; the caller's region applies).")
class ActivityRecordedFilter:
    region_prefix: str | None = None
    pillar: ServicePillarEnum | None = None  # type: ignore[valid-type]
    agency: AgencyEnum | None = None  # type: ignore[valid-type]


@strawberry.type(description="An activity was recorded: its pillar, agency, village and how many it reached.")
class ActivityRecorded:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    activity_id: strawberry.ID
    village_code: str
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    agency: AgencyEnum  # type: ignore[valid-type]
    occurred_on: dt.date
    people_reached: int

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The activity as recorded.")
    async def activity(self, info: Ctx) -> Activity:
        found = await Activity.resolve_reference(info, self.activity_id)
        if found is None:
            raise NotFound(f"no activity {self.activity_id}")
        return found

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> ActivityRecorded | None:
        if event.type != "demimas.pillars.activity.recorded":
            return None
        d = event.data
        return cls(
            cursor=cursor,
            activity_id=strawberry.ID(str(d["activityId"])),
            village_code=str(d["villageCode"]),
            pillar=v.ServicePillar(d["pillar"]),
            agency=Agency(d["agency"]),
            occurred_on=dt.date.fromisoformat(str(d["occurredOn"])),
            people_reached=int(d["peopleReached"]),
        )


@strawberry.enum(description="What happened to a joint pilot project.")
class PilotProjectChangeKind(StrEnum):
    CREATED = "CREATED"
    MILESTONE_COMPLETED = "MILESTONE_COMPLETED"
    STATUS_CHANGED = "STATUS_CHANGED"
    VILLAGE_ADDED = "VILLAGE_ADDED"
    VILLAGE_REMOVED = "VILLAGE_REMOVED"


@strawberry.type(
    description="A joint pilot project was created, moved to another status, gained or lost a village, or one of "
    "its milestones was completed."
)
class PilotProjectChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    kind: PilotProjectChangeKind
    pilot_project_id: strawberry.ID
    village_code: str = strawberry.field(
        description="The pilot's lead village (for VILLAGE_ADDED and VILLAGE_REMOVED the village added or removed); "
        "for a caller whose region leaves it out, the first of the pilot's villages inside that region."
    )
    milestone_id: strawberry.ID | None = strawberry.field(description="The milestone completed (MILESTONE_COMPLETED).")

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The pilot project as it is now.")
    async def pilot_project(self, info: Ctx) -> PilotProject:
        found = await PilotProject.resolve_reference(info, self.pilot_project_id)
        if found is None:
            raise NotFound(f"no pilot project {self.pilot_project_id}")
        return found

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent, principal: Principal | None = None) -> PilotProjectChange | None:
        try:
            kind = PilotProjectChangeKind(event.type.rsplit(".", 1)[-1].upper())
        except ValueError:
            return None
        d = event.data
        milestone = d.get("milestoneId")
        return cls(cursor=cursor, kind=kind, pilot_project_id=strawberry.ID(str(d["pilotId"])),
                   village_code=shown_village(_pilot_villages(event), principal),
                   milestone_id=strawberry.ID(str(milestone)) if milestone else None)  # fmt: skip


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=[["pillars:read"]],
        description="Activities recorded in the caller's region (by region, pillar, agency). With `after` (a cursor "
        "received), every one since then first, then live ones.",
    )
    async def activity_recorded(
        self, info: Ctx, filter: ActivityRecordedFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[ActivityRecorded, None]:
        info.context.require_principal().require_scope("pillars:read")
        f = filter or ActivityRecordedFilter()
        prefix = parse_region_prefix(f.region_prefix, "filter.regionPrefix")
        pillar = v.ServicePillar(f.pillar).value if f.pillar else None
        agency = Agency(f.agency).value if f.agency else None

        def matches(event: CloudEvent) -> bool:
            d = event.data
            return (_inside(prefix, d.get("villageCode")) and (pillar is None or d.get("pillar") == pillar)
                    and (agency is None or d.get("agency") == agency))  # fmt: skip

        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.pillars.activity.>",
                after=after,
                matches=matches,
                build=ActivityRecorded.of,
                village_of=_village_of,
            ),
        )

    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=[["pilot:read"]],
        description="Joint pilot projects created or advanced, in the caller's region: one project (`id`) or a "
        "region's (`regionPrefix`). With `after`, every change since then first.",
    )
    async def pilot_project_changed(
        self, info: Ctx, id: strawberry.ID | None = None, region_prefix: str | None = None, after: str | None = None
    ) -> AsyncGenerator[PilotProjectChange, None]:
        principal = info.context.require_principal()
        principal.require_scope("pilot:read")
        prefix = parse_region_prefix(region_prefix, "regionPrefix")
        wanted = str(parse_uuid(id, field="id")) if id is not None else None

        def matches(event: CloudEvent) -> bool:  # a pilot is in a region when any of its villages is
            d = event.data
            return pilot_event_visible(event, principal, prefix) and (wanted is None or str(d.get("pilotId")) == wanted)

        def village_of(event: CloudEvent) -> str | None:
            codes = pilot_event_villages(event)
            return shown_village(codes, principal) if codes else None

        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.pillars.pilot.>",
                after=after,
                matches=matches,
                build=lambda cursor, event: PilotProjectChange.of(cursor, event, principal),
                village_of=village_of,
            ),
        )
