"""Reading and writing workers, movements, families and village statistics inside a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Text, and_, any_, exists, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict
from demimas_registry.adapters.tables import departures, family_members, returns, village_stats, villages, workers
from demimas_registry.domain.model import Departure, FamilyMember, Return, Worker
from demimas_registry.domain.registration import Registered
from demimas_registry.domain.stats import StatKey
from demimas_registry.domain.vocabulary import (
    EducationLevel,
    PlacementScheme,
    Sector,
    Sex,
    WorkerStatus,
)

__all__ = ["WorkerRepository", "departure_from_row", "worker_from_row"]


def departure_from_row(row: Row[Any] | Any) -> Departure:
    return Departure(
        id=row.id,
        worker_id=row.worker_id,
        destination_country=row.destination_country,
        sector=Sector(row.sector),
        occupation=row.occupation,
        scheme=PlacementScheme(row.scheme),
        procedural=row.procedural,
        employer=row.employer,
        departure_date=row.departure_date,
        contract_end=row.contract_end,
        occupation_code=row.occupation_code,
    )


def worker_from_row(row: Row[Any] | Any, latest: Departure | None = None) -> Worker:
    return Worker(
        id=row.id,
        nik=row.nik,
        full_name=row.full_name,
        sex=Sex(row.sex),
        birth_date=row.birth_date,
        education=EducationLevel(row.education),
        village_code=row.village_code,
        status=WorkerStatus(row.status),
        phone=row.phone,
        address=row.address,
        passport_number=row.passport_number,
        nik_warnings=tuple(row.nik_warnings or ()),
        version=row.version,
        latest_departure=latest,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def worker_values(worker: Worker) -> dict[str, Any]:
    return {
        "id": worker.id,
        "nik": worker.nik,
        "full_name": worker.full_name,
        "sex": worker.sex.value,
        "birth_date": worker.birth_date,
        "education": worker.education.value,
        "phone": worker.phone,
        "address": worker.address,
        "passport_number": worker.passport_number,
        "village_code": worker.village_code,
        "status": worker.status.value,
        "version": worker.version,
        "nik_warnings": list(worker.nik_warnings),
        "latest_departure_id": worker.latest_departure.id if worker.latest_departure else None,
    }


class WorkerRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def village_exists(self, code: str) -> bool:
        return bool(await self.conn.scalar(select(villages.c.code).where(villages.c.code == code)))

    async def get(self, worker_id: uuid.UUID) -> Worker | None:
        row = (await self.conn.execute(select(workers).where(workers.c.id == worker_id))).first()
        if row is None:
            return None
        latest = None
        if row.latest_departure_id is not None:
            drow = (
                await self.conn.execute(select(departures).where(departures.c.id == row.latest_departure_id))
            ).first()
            latest = departure_from_row(drow) if drow else None
        return worker_from_row(row, latest)

    async def ids_without_family(self, niks: Iterable[str]) -> dict[str, uuid.UUID]:
        """{NIK: worker id} of the workers among `niks` that have no family member recorded yet."""
        rows = await self.conn.execute(
            select(workers.c.nik, workers.c.id).where(
                workers.c.nik == any_(literal(sorted(set(niks)), ARRAY(Text))),  # one array parameter
                ~exists().where(family_members.c.worker_id == workers.c.id),
            )
        )
        return {row.nik: row.id for row in rows}

    async def id_for_nik(self, nik: str) -> uuid.UUID | None:
        value = await self.conn.scalar(select(workers.c.id).where(workers.c.nik == nik))
        return value if isinstance(value, uuid.UUID) else None

    async def add(self, worker: Worker, *, created_by: str | None) -> Registered | None:
        """Insert the worker, unless its NIK is registered: then nothing is written and the worker holding the NIK
        is returned. A duplicate is not a failed statement (ON CONFLICT DO NOTHING), so the database server never
        logs the unique violation's `Key (nik)=(...) already exists` (docs/personal-data.md)."""
        inserted = await self.conn.scalar(
            pg_insert(workers)
            .values(**worker_values(worker), created_by=created_by)
            .on_conflict_do_nothing(index_elements=[workers.c.nik])
            .returning(workers.c.id)
        )
        if inserted is not None:
            return None
        # READ COMMITTED: this statement sees the row the insert conflicted with (ON CONFLICT waited for it).
        row = (
            await self.conn.execute(select(workers.c.id, workers.c.village_code).where(workers.c.nik == worker.nik))
        ).first()
        if row is None:  # registry rows are never deleted; kept for a clear answer if that ever changes
            raise Conflict("a worker with this NIK was being registered at the same time; try again", field="nik")
        return Registered(row.id, row.village_code)

    async def save(self, worker: Worker, *, expected_version: int) -> None:
        """Write the changed worker; fails with CONFLICT when someone else changed it since it was read."""
        for departure in worker.new_departures:
            await self.conn.execute(insert(departures).values(**_departure_values(departure)))
        for ret in worker.new_returns:
            await self.conn.execute(insert(returns).values(**_return_values(ret)))
        values = worker_values(worker)
        values.pop("id")
        values.pop("nik")
        result = await self.conn.execute(
            update(workers)
            .where(and_(workers.c.id == worker.id, workers.c.version == expected_version))
            .values(**values, updated_at=func.now())
        )
        if result.rowcount != 1:
            raise Conflict(
                f"worker {worker.id} was changed by someone else (expected version {expected_version}); "
                "read it again and retry",
                field="expectedVersion",
            )
        worker.new_departures.clear()
        worker.new_returns.clear()

    async def add_family_member(self, member: FamilyMember) -> None:
        consent = member.consent
        await self.conn.execute(
            insert(family_members).values(
                id=member.id,
                worker_id=member.worker_id,
                relation=member.relation.value,
                full_name=member.full_name,
                birth_date=member.birth_date,
                minor=member.minor,
                consent_given_by=consent.given_by.value if consent else None,
                consent_date=consent.date if consent else None,
                consent_basis=consent.basis if consent else None,
            )
        )

    async def apply_stats(self, changes: dict[StatKey, int]) -> None:
        """Add counter deltas (already sorted by key, so concurrent writers lock rows in the same order)."""
        if not changes:
            return
        stmt = pg_insert(village_stats).values(
            [{"village_code": v, "dimension": d, "key": k, "count": n} for (v, d, k), n in changes.items()]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[village_stats.c.village_code, village_stats.c.dimension, village_stats.c.key],
            set_={"count": village_stats.c.count + stmt.excluded.count},
        )
        await self.conn.execute(stmt)


def _departure_values(d: Departure) -> dict[str, Any]:
    return {
        "id": d.id,
        "worker_id": d.worker_id,
        "destination_country": d.destination_country,
        "sector": d.sector.value,
        "occupation": d.occupation,
        "scheme": d.scheme.value,
        "procedural": d.procedural,
        "employer": d.employer,
        "departure_date": d.departure_date,
        "contract_end": d.contract_end,
        "occupation_code": d.occupation_code,
    }


def _return_values(r: Return) -> dict[str, Any]:
    return {
        "id": r.id,
        "worker_id": r.worker_id,
        "departure_id": r.departure_id,
        "return_date": r.return_date,
        "reason": r.reason.value,
        "note": r.note,
    }


async def lock_timeout(conn: AsyncConnection, seconds: float) -> None:
    await conn.execute(text(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'"))
