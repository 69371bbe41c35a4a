"""Read side of the registry: batched look-ups for DataLoaders and keyset pages for connections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_registry.adapters.repository import departure_from_row, worker_from_row
from demimas_registry.adapters.tables import departures, family_members, returns, village_stats, villages, workers
from demimas_registry.domain.model import Consent, Departure, FamilyMember, Return, Worker
from demimas_registry.domain.stats import DESTINATION, STATUS, MigrantStats
from demimas_registry.domain.vocabulary import ConsentGiver, Relation, ReturnReason, WorkerStatus

__all__ = ["RegistryQueries", "WorkerFilterValues", "region_range"]


def region_range(prefix: str) -> tuple[str, str]:
    """Codes equal to `prefix` or inside it (whole segments) as a half-open range: '16.06' <= code < '16.06/'
    ('/' follows '.' and precedes the digits in the C collation, so '16.061' is outside). A village code is a
    region of its own: its range holds that village alone (contracts.md: a region covers the code equal to it)."""
    return prefix, prefix + "/"


class WorkerFilterValues:
    def __init__(
        self,
        *,
        village_code: str | None = None,
        region_prefix: str | None = None,
        status: WorkerStatus | None = None,
        destination_country: str | None = None,
        caller_region: str | None = None,
    ) -> None:
        self.village_code = village_code
        self.region_prefix = region_prefix
        self.status = status
        self.destination_country = destination_country
        self.caller_region = caller_region

    def village_conditions(self, code: ColumnElement[str]) -> list[ColumnElement[bool]]:
        """What the filter and the caller's region ask of a village code: the same conditions on
        `workers.village_code` (counting rows) and on `village_stats.village_code` (summing counters)."""
        out: list[ColumnElement[bool]] = []
        if self.village_code is not None:
            out.append(code == self.village_code)
        for prefix in (self.region_prefix, self.caller_region):
            if prefix is not None:
                low, high = region_range(prefix)
                out.append(and_(code >= low, code < high))
        return out

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        for condition in self.village_conditions(workers.c.village_code):
            stmt = stmt.where(condition)
        if self.status is not None:
            stmt = stmt.where(workers.c.status == self.status.value)
        if self.destination_country is not None:
            stmt = stmt.where(
                workers.c.status == WorkerStatus.ABROAD.value,
                workers.c.latest_departure_id.in_(
                    select(departures.c.id).where(departures.c.destination_country == self.destination_country)
                ),
            )
        return stmt

    def counters(self) -> tuple[str, str | None] | None:
        """The village counters whose sum over the filter's villages is exactly the number of matching workers, as
        (dimension, key; None for every key of the dimension), or None when no counter holds the filter.

        Every worker adds exactly one `status` counter to its village (its status), and, while abroad, one
        `destination` counter (its latest departure's country), in the transaction that changes it
        (`domain.stats.Contribution`). So: no status and no destination, all the village's `status` counters;
        a status, its `status` counter; a destination (the filter then means workers abroad), its `destination`
        counter, with or without status ABROAD. A destination with another status matches no worker: left to
        the rows (PostgreSQL sees the two statuses contradict and reads nothing)."""
        if self.destination_country is not None:
            if self.status not in (None, WorkerStatus.ABROAD):
                return None
            return DESTINATION, self.destination_country
        return STATUS, self.status.value if self.status is not None else None


@dataclass(frozen=True, slots=True)
class VillageRow:
    code: str
    name: str
    kind: str
    district_code: str
    district_name: str
    regency_code: str
    regency_name: str
    province_code: str
    province_name: str
    postal_code: str | None


def _village_of(row: Any) -> VillageRow:
    return VillageRow(*(getattr(row, f"v_{c.name}") for c in villages.c))


class RegistryQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def villages_by_code(self, codes: Sequence[str]) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(villages).where(villages.c.code.in_(list(set(codes)))))).all()
        return {row.code: row for row in rows}

    async def stats_by_village(self, codes: Sequence[str]) -> dict[str, MigrantStats]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(village_stats.c.village_code, village_stats.c.dimension, village_stats.c.key,
                           village_stats.c.count).where(village_stats.c.village_code.in_(list(set(codes))))
                )
            ).all()  # fmt: skip
        grouped: dict[str, list[tuple[str, str, int]]] = {code: [] for code in codes}
        for row in rows:
            grouped[row.village_code].append((row.dimension, row.key, int(row._mapping["count"])))
        return {code: MigrantStats.from_rows(items) for code, items in grouped.items()}

    async def stats_by_region(self, prefixes: Sequence[str]) -> dict[str, MigrantStats]:
        """The village counters summed inside each region (a province, regency or district code): per region one
        range scan of village_stats's primary key (village code first, "C" collation), no scan of workers."""
        out: dict[str, MigrantStats] = {}
        async with self.engine.connect() as conn:
            for prefix in dict.fromkeys(prefixes):
                low, high = region_range(prefix)
                stmt = (
                    select(village_stats.c.dimension, village_stats.c.key, func.sum(village_stats.c.count))
                    .where(village_stats.c.village_code >= low, village_stats.c.village_code < high)
                    .group_by(village_stats.c.dimension, village_stats.c.key)
                )
                rows = (await conn.execute(stmt)).all()
                out[prefix] = MigrantStats.from_rows((row[0], row[1], int(row[2])) for row in rows)
        return out

    async def worker_id_by_nik(self, nik: str) -> uuid.UUID | None:
        """The id of the worker holding a NIK (the unique index on `nik`), or None."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(workers.c.id).where(workers.c.nik == nik))
        return value if isinstance(value, uuid.UUID) else None

    async def workers_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Worker]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(workers).where(workers.c.id.in_(list(set(ids)))))).all()
            latest_ids = [r.latest_departure_id for r in rows if r.latest_departure_id is not None]
            latest = await self._departures_by_id(conn, latest_ids)
        return {row.id: worker_from_row(row, latest.get(row.latest_departure_id)) for row in rows}

    async def _departures_by_id(self, conn: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Departure]:
        if not ids:
            return {}
        rows = (await conn.execute(select(departures).where(departures.c.id.in_(ids)))).all()
        return {row.id: departure_from_row(row) for row in rows}

    async def worker_page(
        self, flt: WorkerFilterValues, *, first: int, after: uuid.UUID | None
    ) -> tuple[list[tuple[Worker, uuid.UUID | None, Any]], bool]:
        """One round trip: the page's workers with their village rows. The latest departure is left to a
        DataLoader (most pages never ask for it)."""
        village_columns = [c.label(f"v_{c.name}") for c in villages.c]
        stmt = (
            flt.apply(select(workers, *village_columns).join(villages, villages.c.code == workers.c.village_code))
            .order_by(workers.c.id)
            .limit(first + 1)
        )
        if after is not None:
            stmt = stmt.where(workers.c.id > after)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        has_next = len(rows) > first
        return [(worker_from_row(r), r.latest_departure_id, _village_of(r)) for r in rows[:first]], has_next

    async def departures_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Departure]:
        async with self.engine.connect() as conn:
            return await self._departures_by_id(conn, list(set(ids)))

    async def worker_count(self, flt: WorkerFilterValues) -> int:
        """`totalCount` of a worker list: from the village counters when they hold the filter (one range scan of
        village_stats, bounded by the number of villages, not of workers), else by counting rows. Both read
        one snapshot, and the counters move in the same transaction as the rows, so the two are always equal."""
        counted = flt.counters()
        if counted is None:
            return await self.row_count(flt)
        dimension, key = counted
        stmt = select(func.coalesce(func.sum(village_stats.c.count), 0)).where(
            village_stats.c.dimension == dimension, *flt.village_conditions(village_stats.c.village_code)
        )
        if key is not None:
            stmt = stmt.where(village_stats.c.key == key)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(stmt) or 0)

    async def row_count(self, flt: WorkerFilterValues) -> int:
        """The matching workers counted one by one (an index scan as long as the filter's rows)."""
        async with self.engine.connect() as conn:
            return int(await conn.scalar(flt.apply(select(func.count()).select_from(workers))) or 0)

    async def village_page(
        self, *, regency_code: str | None, search: str | None, caller_region: str | None, first: int,
        after: str | None,
    ) -> tuple[list[Any], bool, Select[Any]]:  # fmt: skip
        base = select(villages)
        for prefix in (regency_code, caller_region):
            if prefix is not None:
                low, high = region_range(prefix)
                base = base.where(and_(villages.c.code >= low, villages.c.code < high))
        if search:
            base = base.where(func.lower(villages.c.name).contains(search.lower(), autoescape=True))
        stmt = base.order_by(villages.c.code).limit(first + 1)
        if after is not None:
            stmt = stmt.where(villages.c.code > after)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return list(rows[:first]), len(rows) > first, base

    async def count(self, stmt: Select[Any]) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    async def departures_by_worker(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Departure]]:
        out: dict[uuid.UUID, list[Departure]] = {i: [] for i in ids}
        async with self.engine.connect() as conn:
            stmt = select(departures).where(departures.c.worker_id.in_(list(set(ids))))
            for row in (await conn.execute(stmt.order_by(departures.c.departure_date))).all():
                out[row.worker_id].append(departure_from_row(row))
        return out

    async def returns_by_worker(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Return]]:
        out: dict[uuid.UUID, list[Return]] = {i: [] for i in ids}
        async with self.engine.connect() as conn:
            stmt = select(returns).where(returns.c.worker_id.in_(list(set(ids)))).order_by(returns.c.return_date)
            for row in (await conn.execute(stmt)).all():
                out[row.worker_id].append(
                    Return(row.id, row.worker_id, row.departure_id, row.return_date, ReturnReason(row.reason), row.note)
                )
        return out

    async def family_by_worker(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[FamilyMember]]:
        out: dict[uuid.UUID, list[FamilyMember]] = {i: [] for i in ids}
        async with self.engine.connect() as conn:
            stmt = select(family_members).where(family_members.c.worker_id.in_(list(set(ids))))
            for row in (await conn.execute(stmt.order_by(family_members.c.id))).all():
                out[row.worker_id].append(_family_member(row))
        return out

    async def family_members_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[FamilyMember, str]]:
        """Family members by their own id, each with the village code of its worker (where it belongs: a family
        member lives in no village of its own, it goes where its worker goes)."""
        stmt = (
            select(family_members, workers.c.village_code.label("worker_village_code"))
            .join(workers, workers.c.id == family_members.c.worker_id)
            .where(family_members.c.id.in_(list(set(ids))))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {row.id: (_family_member(row), row.worker_village_code) for row in rows}


def _family_member(row: Any) -> FamilyMember:
    consent = (
        Consent(ConsentGiver(row.consent_given_by), row.consent_date, row.consent_basis)
        if row.consent_given_by
        else None
    )
    return FamilyMember(row.id, row.worker_id, Relation(row.relation), row.full_name, row.birth_date, row.minor,
                        consent)  # fmt: skip
