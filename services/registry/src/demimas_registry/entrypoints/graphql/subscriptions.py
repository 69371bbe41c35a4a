"""The registry's subscriptions (docs/registry.md, "Subscriptions"): `workerChanged` and `villageStatsChanged`,
fed by the worker events the registry already publishes (`demimas.registry.worker.>`) through the process's live
fan-out (`demimas_common.subscriptions`).

The event objects carry ids, codes, statuses, versions and the kind of change, never personal data; `worker` and
`village` are entity references (the gateway joins other subgraphs' fields through them), resolved per event
under the queries' rules (`registry:read` and the region for a worker; personal fields keep their scopes, purpose
and recorded read).

Who sees which event: `workerChanged` needs `registry:read` (as `workers`), `villageStatsChanged` needs
`stats:read` (as `migrantStats`); a caller with a region sees only events of villages inside it (a worker who moved
counts where it moved to; for village numbers, either village of a move). A `regionPrefix` outside the caller's
region is a filter like the queries' one: nothing matches.

A thousand subscribers of one event would each read the same worker: the worker at an event's version is read
once per process (`_RecentWorkers`) and villages, which do not change, are kept (`_Villages`); each subscriber
still gets only what its caller may see.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from enum import StrEnum
from typing import Any

import strawberry

from demimas_common.auth.principal import region_covers
from demimas_common.errors import BadUserInput, NotFound
from demimas_common.events.envelope import CloudEvent
from demimas_common.subscriptions import EventQuery, live_events, shown_code, visible_in_region
from demimas_registry.domain import model
from demimas_registry.domain import validation as v
from demimas_registry.domain.vocabulary import WorkerStatus
from demimas_registry.entrypoints.graphql.context import Ctx, RegistryContext
from demimas_registry.entrypoints.graphql.enums import WorkerStatusEnum
from demimas_registry.entrypoints.graphql.regions import MigrantStats
from demimas_registry.entrypoints.graphql.types import Village, Worker

__all__ = ["Subscription", "VillageStatsChange", "WorkerChange", "WorkerChangeKind"]

WORKER_EVENTS = "demimas.registry.worker.>"


@strawberry.enum(description="What happened to a worker (the event type's last word).")
class WorkerChangeKind(StrEnum):
    REGISTERED = "REGISTERED"
    UPDATED = "UPDATED"
    DEPARTED = "DEPARTED"
    RETURNED = "RETURNED"


def _kind(event: CloudEvent) -> WorkerChangeKind | None:
    try:
        return WorkerChangeKind(event.type.rsplit(".", 1)[-1].upper())
    except ValueError:
        return None


@strawberry.input(description="Which worker changes to receive (both optional; the caller's region applies anyway).")
class WorkerChangeFilter:
    region_prefix: str | None = strawberry.field(default=None, description="e.g. 16.06 for Musi Banyuasin.")
    village_code: str | None = None


@strawberry.type(description="A change of a migrant worker's record: ids, status and version, never personal data.")
class WorkerChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    kind: WorkerChangeKind
    worker_id: strawberry.ID
    village_code: str = strawberry.field(description="The worker's village after the change.")
    moved_from: strawberry.Private[str | None]
    status: WorkerStatusEnum  # type: ignore[valid-type]
    version: int = strawberry.field(description="The worker's version after the change.")
    occurred_at: dt.datetime = strawberry.field(
        description="When the change happened: the event's time, set in the transaction that committed it."
    )

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(
        description="The village it left, when it moved; null when that village lies outside the caller's region "
        "(a code outside it is never told, docs/contracts.md#the-region-rule)."
    )
    def previous_village_code(self, info: Ctx) -> str | None:
        return shown_code(info.context.require_principal(), self.moved_from)

    @strawberry.field(description="The worker as it is now (needs registry:read; personal fields their own scopes).")
    async def worker(self, info: Ctx) -> Worker:
        principal = info.context.require_principal()
        principal.require_scope("registry:read")
        found = await _RECENT_WORKERS.get(info.context, uuid.UUID(str(self.worker_id)), self.version)
        if found is None or not principal.covers(found.village_code):
            raise NotFound("this worker is no longer visible to the caller (it moved out of its region)")
        return Worker.from_domain(found)

    @strawberry.field
    async def village(self, info: Ctx) -> Village:
        return await _VILLAGES.get(info.context, self.village_code)

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> WorkerChange | None:
        kind = _kind(event)
        if kind is None:
            return None
        data = event.data
        return cls(
            cursor=cursor,
            kind=kind,
            worker_id=strawberry.ID(str(data["workerId"])),
            village_code=str(data["villageCode"]),
            moved_from=data.get("previousVillageCode"),
            status=WorkerStatus(data["status"]),
            version=int(data["version"]),
            occurred_at=event.time,
        )


@strawberry.type(description="A village's migrant numbers changed (a worker registered, moved, departed or returned).")
class VillageStatsChange:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    village_code: str
    cause: WorkerChangeKind = strawberry.field(description="The kind of worker change that moved the numbers.")

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    async def village(self, info: Ctx) -> Village:
        return await _VILLAGES.get(info.context, self.village_code)

    @strawberry.field(description="The village's numbers when the event is delivered (needs stats:read).")
    async def migrant_stats(self, info: Ctx) -> MigrantStats:
        principal = info.context.require_principal()
        principal.require_scope("stats:read")
        principal.require_region(self.village_code)
        return MigrantStats.from_value(await info.context.registry_loaders.stats.load(self.village_code), principal)


_REGION_PREFIX = re.compile(r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")


def _prefix(value: str | None, field: str) -> str | None:
    """A region prefix filter (35, 35.07, 35.07.01, or a village code)."""
    if value is None:
        return None
    value = value.strip()
    if not _REGION_PREFIX.match(value):
        raise BadUserInput(f"{value[:40]!r} is not a region code prefix such as 16.06", field=field)
    return value


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=[["registry:read"]],
        description="Workers registered, updated, departed or returned, in the caller's region. With `after` (a "
        "cursor received), every change since then first, then live ones.",
    )
    async def worker_changed(
        self, info: Ctx, filter: WorkerChangeFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[WorkerChange, None]:
        principal = info.context.require_principal()
        principal.require_scope("registry:read")
        f = filter or WorkerChangeFilter()
        prefix = _prefix(f.region_prefix, "filter.regionPrefix")
        village = v.check_village_code(f.village_code, field="filter.villageCode") if f.village_code else None

        def matches(event: CloudEvent) -> bool:
            code = str(event.data.get("villageCode"))
            return (prefix is None or region_covers(prefix, code)) and (village is None or code == village)

        return await live_events(
            info.context,
            EventQuery(
                subject=WORKER_EVENTS,
                after=after,
                village_of=lambda event: event.data.get("villageCode"),
                matches=matches,
                build=WorkerChange.of,
            ),
        )

    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=[["stats:read"]],
        description="A village's migrant numbers changed: one village (`villageCode`) or a region's "
        "(`regionPrefix`), inside the caller's region. With `after`, every change since then first.",
    )
    async def village_stats_changed(
        self, info: Ctx, village_code: str | None = None, region_prefix: str | None = None, after: str | None = None
    ) -> AsyncGenerator[VillageStatsChange, None]:
        principal = info.context.require_principal()
        principal.require_scope("stats:read")
        village = v.check_village_code(village_code, field="villageCode") if village_code else None
        prefix = _prefix(region_prefix, "regionPrefix")

        def affected(event: CloudEvent) -> str | None:
            """The village of the event the subscriber is shown: the worker's village, else the one it left."""
            for code in (event.data.get("villageCode"), event.data.get("previousVillageCode")):
                if code is None or not visible_in_region(principal, code):
                    continue
                if (prefix is None or region_covers(prefix, code)) and (village is None or code == village):
                    return str(code)
            return None

        def build(cursor: str, event: CloudEvent) -> VillageStatsChange | None:
            code, kind = affected(event), _kind(event)
            if code is None or kind is None:
                return None
            return VillageStatsChange(cursor=cursor, village_code=code, cause=kind)

        return await live_events(
            info.context,
            EventQuery(subject=WORKER_EVENTS, after=after, village_of=affected, matches=lambda e: True, build=build),
        )


class _RecentWorkers:
    """The workers of recent events, by (id, version), read once for every subscriber of the process."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.items: OrderedDict[tuple[uuid.UUID, int], model.Worker | None] = OrderedDict()

    async def get(self, context: RegistryContext, worker_id: uuid.UUID, version: int) -> model.Worker | None:
        key = (worker_id, version)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        found = (await context.queries.workers_by_id([worker_id])).get(worker_id)
        self.items[key] = found
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return found


class _Villages:
    """Villages by code (reference data, never changed by the service), kept for the process's events."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self.rows: OrderedDict[str, Any] = OrderedDict()

    async def get(self, context: RegistryContext, code: str) -> Village:
        row = self.rows.get(code)
        if row is None:
            row = await context.registry_loaders.villages.load(code)
            if row is None:
                raise NotFound(f"no village {code}")
            self.rows[code] = row
            while len(self.rows) > self.size:
                self.rows.popitem(last=False)
        return Village.from_row(row)


_RECENT_WORKERS = _RecentWorkers()
_VILLAGES = _Villages()
