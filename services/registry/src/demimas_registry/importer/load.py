"""Writing validated import records in large batches, each batch one transaction: the workers (idempotent on NIK),
their departures and returns, the village statistics, and their events in the outbox. A batch commits entirely
or not at all; importing the same file again adds nothing (rows whose NIK exists are counted, not re-added)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_registry.domain import events
from demimas_registry.domain.stats import delta
from demimas_registry.domain.vocabulary import WorkerStatus
from demimas_registry.importer.rows import ImportRecord, RowError, parse_row
from demimas_registry.service_layer.handlers import worker_contribution

__all__ = ["ImportReport", "import_workers", "validated"]

WORKER_COLUMNS = (
    "id", "nik", "full_name", "sex", "birth_date", "education", "phone", "address", "passport_number",
    "village_code", "status", "version", "nik_warnings", "latest_departure_id", "created_by",
)  # fmt: skip
DEPARTURE_COLUMNS = (
    "id", "worker_id", "destination_country", "sector", "occupation", "scheme", "procedural", "employer",
    "departure_date", "contract_end",
)  # fmt: skip
RETURN_COLUMNS = ("id", "worker_id", "departure_id", "return_date", "reason", "note")
OUTBOX_COLUMNS = ("id", "type", "subject", "payload", "traceparent")


@dataclass
class ImportReport:
    total: int = 0
    inserted: int = 0
    skipped_existing: int = 0
    rejected: list[RowError] = field(default_factory=list)
    events: int = 0
    elapsed: float = 0.0

    def to_text(self) -> str:
        lines = [
            f"rows read: {self.total}; imported: {self.inserted}; already registered (skipped): "
            f"{self.skipped_existing}; rejected: {len(self.rejected)}; events: {self.events}; {self.elapsed:.1f} s"
        ]
        lines += [f"  line {e.line}, {e.column}: {e.code}: {e.message}" for e in self.rejected[:50]]
        if len(self.rejected) > 50:
            lines.append(f"  ... and {len(self.rejected) - 50} more (see --report)")
        return "\n".join(lines)

    def to_csv(self) -> str:
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "column", "code", "message"])
        writer.writerows((e.line, e.column, e.code, e.message) for e in self.rejected)
        return out.getvalue()


def validated(
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    villages: set[str],
    principal: Principal,
    report: ImportReport,
    today: dt.date | None = None,
) -> Iterator[ImportRecord]:
    """Valid records only; every rejected row lands in the report with its line, column and code."""
    today = today or dt.date.today()
    seen: dict[str, int] = {}
    for line, values in rows:
        report.total += 1
        result = parse_row(line, values, today=today)
        if isinstance(result, RowError):
            report.rejected.append(result)
            continue
        worker = result.worker
        if worker.village_code not in villages:
            report.rejected.append(
                RowError(line, "village_code", "UNKNOWN_VILLAGE", f"{worker.village_code} is not a Kemendagri village")
            )
            continue
        if not principal.covers(worker.village_code):
            report.rejected.append(
                RowError(line, "village_code", "OUTSIDE_REGION",
                         f"{worker.village_code} lies outside your region {principal.region}")
            )  # fmt: skip
            continue
        if worker.nik in seen:
            report.rejected.append(
                RowError(line, "nik", "DUPLICATE_IN_FILE", f"the same NIK is on line {seen[worker.nik]}")
            )
            continue
        seen[worker.nik] = line
        yield result


async def _village_codes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT code FROM registry.villages"))).scalars())


async def _write_batch(engine: AsyncEngine, batch: list[ImportRecord], principal: Principal) -> tuple[int, int]:
    """One transaction: returns (workers inserted, events written)."""
    agency = principal.agency.value
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TEMP TABLE workers_in (LIKE registry.workers INCLUDING DEFAULTS) ON COMMIT DROP")
        )
        raw = await conn.get_raw_connection()
        apg: Any = raw.driver_connection
        await apg.copy_records_to_table(
            "workers_in",
            records=[_worker_record(r.worker, agency) for r in batch],
            columns=list(WORKER_COLUMNS),
        )
        cols = ", ".join(WORKER_COLUMNS)
        inserted_ids = {
            row[0]
            for row in await apg.fetch(
                f"INSERT INTO registry.workers ({cols}) SELECT {cols} FROM workers_in "  # noqa: S608
                "ON CONFLICT (nik) DO NOTHING RETURNING id"
            )
        }
        fresh = [r for r in batch if r.worker.id in inserted_ids]
        if not fresh:
            return 0, 0
        departures = [r.departure for r in fresh if r.departure is not None]
        if departures:
            await apg.copy_records_to_table(
                "departures", schema_name="registry", columns=list(DEPARTURE_COLUMNS),
                records=[(d.id, d.worker_id, d.destination_country, d.sector.value, d.occupation, d.scheme.value,
                          d.procedural, d.employer, d.departure_date, d.contract_end) for d in departures],
            )  # fmt: skip
        returns = [r.ret for r in fresh if r.ret is not None]
        if returns:
            await apg.copy_records_to_table(
                "returns", schema_name="registry", columns=list(RETURN_COLUMNS),
                records=[(r.id, r.worker_id, r.departure_id, r.return_date, r.reason.value, r.note) for r in returns],
            )  # fmt: skip
        changes = delta((None, worker_contribution(r.worker)) for r in fresh)
        await apg.executemany(
            "INSERT INTO registry.village_stats (village_code, dimension, key, count) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (village_code, dimension, key) DO UPDATE SET count = village_stats.count + EXCLUDED.count",
            [(v, d, k, n) for (v, d, k), n in changes.items()],
        )
        outbox = list(_outbox_rows(fresh, principal))
        await apg.copy_records_to_table("outbox", schema_name="registry", columns=list(OUTBOX_COLUMNS), records=outbox)
    return len(fresh), len(outbox)


def _worker_record(w: Any, agency: str) -> tuple[Any, ...]:
    latest = w.latest_departure.id if w.latest_departure else None
    return (
        w.id, w.nik, w.full_name, w.sex.value, w.birth_date, w.education.value, w.phone, w.address,
        w.passport_number, w.village_code, w.status.value, w.version, list(w.nik_warnings), latest, agency,
    )  # fmt: skip


def _outbox_rows(records: list[ImportRecord], principal: Principal) -> Iterator[tuple[Any, ...]]:
    """The events a worker's import stands for, in order: registered (v1), departed (v2), returned (v3), each
    with the state it had then, built by the same functions as the single mutations."""
    actor = principal.actor
    for record in records:
        worker, departure, ret = record.worker, record.departure, record.ret
        final = (worker.status, worker.version)
        steps = []
        worker.status, worker.version = WorkerStatus.CANDIDATE, 1
        steps.append(events.worker_registered(worker, actor))
        if departure is not None:
            worker.status, worker.version = WorkerStatus.ABROAD, 2
            steps.append(events.worker_departed(worker, departure, actor))
        if ret is not None:
            worker.status, worker.version = WorkerStatus.RETURNED, 3
            steps.append(events.worker_returned(worker, ret, actor))
        worker.status, worker.version = final
        for event in steps:
            yield (uuid.UUID(event.id), event.type, event.subject, orjson.dumps(event.to_dict()).decode(), None)


async def _batches(records: Iterator[ImportRecord], size: int) -> AsyncIterator[list[ImportRecord]]:
    """Batches of valid records; validation hands the loop over every few hundred rows so that the previous
    batch's write (a background task) keeps moving while this one is validated."""
    batch: list[ImportRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) % 250 == 0:
            await asyncio.sleep(0)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_workers(
    engine: AsyncEngine,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    principal: Principal,
    batch_size: int = 10_000,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Validate and write; the write of one batch overlaps the validation of the next."""
    principal.require_scope("registry:write")
    started = time.perf_counter()
    report = ImportReport()
    villages = await _village_codes(engine)
    records = validated(rows, villages=villages, principal=principal, report=report)
    pending: asyncio.Task[tuple[int, int]] | None = None
    seen_rows = 0
    async for batch in _batches(records, batch_size):
        if pending is not None:
            inserted, written = await pending
            report.inserted += inserted
            report.events += written
        pending = asyncio.create_task(_write_batch(engine, batch, principal))
        await asyncio.sleep(0)  # let the write start before validating the next batch
        if progress is not None:
            progress(report.total - seen_rows)
            seen_rows = report.total
    if pending is not None:
        inserted, written = await pending
        report.inserted += inserted
        report.events += written
    if progress is not None:
        progress(report.total - seen_rows)
    valid = report.total - len(report.rejected)
    report.skipped_existing = valid - report.inserted
    report.elapsed = time.perf_counter() - started
    return report
