"""Writing an import file as one transaction: the workers (idempotent on NIK), their departures and returns,
their events in the outbox and the village statistics all commit together, or nothing does. A file refused
half-way (a limit, invalid UTF-8 near its end) or a write that fails leaves nothing behind, and importing the
same file again adds nothing (rows whose NIK exists are counted, not re-added). Rows that fail validation are
not a failure of the file: they are reported, and the valid rows are imported. A row whose NIK belongs to a
worker outside the caller's region is rejected as `NIK_NOT_REGISTRABLE` and the attempt recorded, as
`registerWorker` does (domain.registration). Known NIKs are looked up before writing, so a duplicate is no failed
statement and the database server never logs one (docs/personal-data.md).

Two things run at once: a worker thread reads, validates and prepares the next batch while the event loop sends
the previous one with binary COPY (the database works on one core while Python works on another). The event
loop never parses: a hostile file costs the thread's time, not the other requests' (the thread hands the
interpreter lock over every few hundred rows). The file is one unit of work; each batch is written under a
savepoint of it, so a NIK registered concurrently is handled by retrying that batch alone; the statistics are
added once, at the end, so their counter rows stay locked only for the commit. The events go to the outbox with
the unit of work's bulk write (`copy_events`), which checks the first event of each type of every batch against
its schema.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.events.outbox import OutboxRecord
from demimas_common.telemetry import current_traceparent
from demimas_registry.domain.registration import NOT_REGISTRABLE, NOT_REGISTRABLE_MESSAGE
from demimas_registry.domain.stats import StatKey
from demimas_registry.importer.prepare import (
    DEPARTURE_COLUMNS,
    RETURN_COLUMNS,
    WORKER_COLUMNS,
    BatchBuilder,
    PreparedBatch,
    restricted,
)
from demimas_registry.importer.report import ImportReport, kept_rows
from demimas_registry.importer.rows import ImportRecord, RowError
from demimas_registry.importer.screen import validated

__all__ = ["ImportInterrupted", "ImportReport", "import_workers", "validated"]

WRITE_SCOPE = "registry:write"
HAND_OVER_EVERY = 64
"""Rows between two hand-overs of the interpreter lock by the preparing thread (about a millisecond of work):
the event loop, which writes the batches and serves every other request, gets it back at once instead of after
the 5 ms switch interval."""
_INSERT_NEW = (
    f"INSERT INTO registry.workers ({', '.join(WORKER_COLUMNS)}) SELECT {', '.join(WORKER_COLUMNS)} "  # noqa: S608
    "FROM workers_in ON CONFLICT (nik) DO NOTHING RETURNING id"
)
_KNOWN_NIKS = "SELECT nik, id, village_code FROM registry.workers WHERE nik = ANY($1::text[])"
_ADD_STATS = (
    "INSERT INTO registry.village_stats (village_code, dimension, key, count) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(v, dim, k, n) "
    # One order for every writer, so that concurrent imports and mutations lock counter rows without deadlocks.
    'ORDER BY v COLLATE "C", dim COLLATE "C", k COLLATE "C" '
    "ON CONFLICT (village_code, dimension, key) DO UPDATE SET count = village_stats.count + EXCLUDED.count"
)


class ImportInterrupted(RuntimeError):
    """The file could not be written (the database failed, or a conflict it cannot resolve); its transaction was
    rolled back and nothing of the file is stored. Running the same file again is safe."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


async def _village_codes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT code FROM registry.villages"))).scalars())


async def _copy_rest(uow: UnitOfWork, batch: PreparedBatch) -> None:
    """Everything after the workers rows but the statistics (added once per file): movements, events."""
    apg = await uow.driver_connection()
    if batch.departures:
        await apg.copy_records_to_table(
            "departures", schema_name="registry", columns=DEPARTURE_COLUMNS, records=batch.departures
        )
    if batch.returns:
        await apg.copy_records_to_table(
            "returns", schema_name="registry", columns=RETURN_COLUMNS, records=batch.returns
        )
    await uow.copy_events(batch.outbox)


async def _add_stats(apg: Any, stats: dict[StatKey, int]) -> None:
    keys = [key for key, n in stats.items() if n]
    if keys:
        await apg.execute(
            _ADD_STATS, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [stats[k] for k in keys]
        )


class _Refusals:
    """Rows whose NIK is registered outside the caller's region: rejected in the report, recorded as events."""

    def __init__(self, covers: Callable[[str], bool]) -> None:
        self.covers = covers

    async def sort_out(
        self, apg: Any, records: list[ImportRecord], builder: BatchBuilder
    ) -> tuple[set[str], list[OutboxRecord], list[RowError]]:
        """(the NIKs among `records` that are registered, refusal events, rejected rows)."""
        known = await apg.fetch(_KNOWN_NIKS, [record.worker.nik for record in records])
        if not known:
            return set(), [], []
        outside = {row[0]: row[1] for row in known if not self.covers(row[2])}
        events, rejected = [], []
        for record in records:
            existing = outside.get(record.worker.nik)
            if existing is not None:
                events.append(builder.refusal_record(record, existing))
                rejected.append(RowError(record.line, "nik", NOT_REGISTRABLE, NOT_REGISTRABLE_MESSAGE))
        return {row[0] for row in known}, events, rejected


async def _write(
    uow: UnitOfWork, batch: PreparedBatch, builder: BatchBuilder, refusals: _Refusals
) -> tuple[PreparedBatch, list[RowError]]:
    """One batch under a savepoint of the file's transaction; returns what was actually written (the workers not
    registered before, the refusal events) and the rows rejected because their NIK is registered outside the
    caller's region."""
    apg = await uow.driver_connection()
    try:
        async with apg.transaction():  # nested in the file's transaction: a savepoint
            # The common case first: look the NIKs up, then COPY the new workers straight into the table.
            known, refused, rejected = await refusals.sort_out(apg, batch.records, builder)
            written = restricted(batch, known, builder) if known else batch
            if written.records:
                await apg.copy_records_to_table(
                    "workers", schema_name="registry", columns=WORKER_COLUMNS, records=written.workers
                )
            written.outbox += refused
            await _copy_rest(uow, written)
        return written, rejected
    except UniqueViolationError:
        # Someone registered one of these NIKs since the lookup (rare): stage, and let ON CONFLICT skip them.
        # The failed COPY is logged by the server as its primary message only, without the key (terse).
        pass
    async with apg.transaction():
        await apg.execute("CREATE TEMP TABLE workers_in (LIKE registry.workers INCLUDING DEFAULTS)")
        await apg.copy_records_to_table("workers_in", columns=WORKER_COLUMNS, records=batch.workers)
        inserted = {row[0] for row in await apg.fetch(_INSERT_NEW)}
        await apg.execute("DROP TABLE workers_in")
        written, rejected = batch, []
        if len(inserted) != len(batch.records):
            skipped = [record for record in batch.records if record.worker.id not in inserted]
            _, refused, rejected = await refusals.sort_out(apg, skipped, builder)
            written = restricted(batch, inserted, builder, keep=True)
            written.outbox += refused
        await _copy_rest(uow, written)
    return written, rejected


def _prepared(
    records: Iterator[ImportRecord],
    builder: BatchBuilder,
    size: int,
    tick: Callable[[], None],
    stop: threading.Event,
) -> Iterator[PreparedBatch]:
    """Batches of prepared records; runs in a worker thread, one batch per step. Ends early once `stop` is set."""
    for count, record in enumerate(records, start=1):
        builder.add(record)
        if count % HAND_OVER_EVERY == 0:
            time.sleep(0)  # hand the interpreter lock to the event loop
            if stop.is_set():
                return
        if len(builder) >= size:
            tick()
            yield builder.build()
    tick()
    if len(builder):
        yield builder.build()


async def import_workers(
    engine: AsyncEngine,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    principal: Principal,
    batch_size: int = 10_000,
    progress: Callable[[int], object] | None = None,
    report: ImportReport | None = None,
    before_commit: Callable[[AsyncConnection, ImportReport], Awaitable[None]] | None = None,
) -> ImportReport:
    """Validate every row and write the valid ones in one transaction; returns the report. `rows` is read in a
    worker thread. Raises `FileRejected` (from the reader) for a file that cannot be imported at all, and
    `ImportInterrupted` when it cannot be written; either way nothing of the file is stored. A `report` passed in
    is the one filled (its `total` counts rows as they are read: an import job's progress). `before_commit` is
    given the file's transaction and its final report, to write what must be stored with the file (the job's
    result) or not at all."""
    principal.require_scope(WRITE_SCOPE)
    with _fewer_collections():
        return await _import(engine, rows, principal, batch_size, progress, report or ImportReport(), before_commit)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Validation allocates millions of short-lived objects while ten thousands stay alive per batch; at the default
    threshold the cyclic collector runs every 700 allocations and costs a fifth of the import. Restored after."""
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], 50_000), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


async def _import(
    engine: AsyncEngine,
    rows: Iterable[tuple[int, dict[str, str]]],
    principal: Principal,
    batch_size: int,
    progress: Callable[[int], object] | None,
    report: ImportReport,
    before_commit: Callable[[AsyncConnection, ImportReport], Awaitable[None]] | None = None,
) -> ImportReport:
    started = time.perf_counter()
    villages = await _village_codes(engine)
    actor, agency, traceparent = principal.actor, principal.agency.value, current_traceparent()
    reported = 0

    def tick() -> None:
        nonlocal reported
        if progress is not None:
            progress(report.total - reported)
        reported = report.total

    stop = threading.Event()
    records = validated(rows, villages=villages, principal=principal, report=report)
    batches = _prepared(records, BatchBuilder(actor, agency, traceparent), batch_size, tick, stop)
    writing = BatchBuilder(actor, agency, traceparent)
    refusals = _Refusals(principal.covers)
    stats: Counter[StatKey] = Counter()
    written = events = 0
    refused: list[RowError] = []
    refused_rows = 0

    idle = threading.Event()  # set while the preparing thread is out of the generators
    idle.set()

    def step() -> PreparedBatch | None:
        idle.clear()
        try:
            return next(batches, None)
        finally:
            idle.set()

    def next_batch() -> asyncio.Future[PreparedBatch | None]:
        return asyncio.ensure_future(asyncio.to_thread(step))

    pending = next_batch()
    try:
        async with UnitOfWork(engine, schema="registry", actor=actor, traceparent=traceparent) as uow:
            while (batch := await pending) is not None:
                pending = next_batch()  # prepared by the thread while this one is written
                done, rejected = await _write(uow, batch, writing, refusals)
                refused_rows += len(rejected)
                if len(refused) < report.max_errors:  # one entry a row; bounded as the report's are
                    refused += rejected
                written += len(done.records)
                events += len(done.outbox)
                stats.update(done.stats)
            await _add_stats(await uow.driver_connection(), stats)
            if before_commit is not None:
                await before_commit(uow.connection, _settled(report, written, events, refused, refused_rows))
            await uow.commit()
    except Exception as exc:
        if pending.done() and pending.exception() is exc:
            raise  # the reader's or the validation's error: the file's fault, not the database's
        raise ImportInterrupted(
            f"the file could not be written ({type(exc).__name__}: {exc}); nothing of it was stored, "
            "running it again is safe",
            report,
        ) from exc
    finally:
        stop.set()
        await asyncio.gather(pending, return_exceptions=True)
        if not idle.is_set():  # cancelled: `pending` is, but its thread may still be in the generator
            await asyncio.to_thread(idle.wait)
        for generator in (batches, records, rows):  # now, not when collected: the reader closes its file
            close = getattr(generator, "close", None)
            if close is not None:
                close()
        report.elapsed = time.perf_counter() - started
    settled = _settled(report, written, events, refused, refused_rows)
    report.inserted, report.events, report.rejected = settled.inserted, settled.events, settled.rejected
    report.rejected_rows, report.error_count = settled.rejected_rows, settled.error_count
    report.skipped_existing = settled.skipped_existing
    return report


def _settled(
    report: ImportReport, written: int, events: int, refused: list[RowError], refused_rows: int
) -> ImportReport:
    """The report as the file ends: the writer's counts, and its NIK_NOT_REGISTRABLE rows (one entry each, of valid
    rows, so never a row counted twice) among the reader's, the first rows of both kept."""
    rejected = kept_rows(sorted([*report.rejected, *refused], key=_by_line), report.max_errors)
    settled = replace(
        report,
        inserted=written,
        events=events,
        rejected=rejected,
        rejected_rows=report.rejected_rows + refused_rows,
        error_count=report.error_count + refused_rows,
    )
    settled.skipped_existing = settled.valid - settled.inserted
    return settled


def _by_line(error: RowError) -> int:
    return error.line
