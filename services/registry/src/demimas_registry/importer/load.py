"""Writing validated import records in large batches, each batch one transaction: the workers (idempotent on NIK),
their departures and returns, the village statistics, and their events in the outbox. A batch commits entirely
or not at all; importing the same file again adds nothing (rows whose NIK exists are counted, not re-added).
A row whose NIK belongs to a worker outside the caller's region is rejected as `NIK_NOT_REGISTRABLE` and the
attempt recorded, as `registerWorker` does (domain.registration). Known NIKs are looked up before writing, so a
duplicate is no failed statement and the database server never logs one (docs/personal-data.md).

Two things run at once: this coroutine reads, validates and prepares the next batch while a writer task sends
the previous one with binary COPY (the database works on one core while Python works on another). The writer
only awaits the database; the reader hands it the event loop every few dozen rows.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.events.envelope import CloudEvent
from demimas_common.telemetry import current_traceparent
from demimas_registry.domain.registration import NOT_REGISTRABLE, NOT_REGISTRABLE_MESSAGE
from demimas_registry.importer.prepare import (
    DEPARTURE_COLUMNS,
    OUTBOX_COLUMNS,
    RETURN_COLUMNS,
    WORKER_COLUMNS,
    BatchBuilder,
    PreparedBatch,
    Row,
    first_of_each_type,
    restricted,
)
from demimas_registry.importer.report import ImportReport
from demimas_registry.importer.rows import ImportRecord, RowError
from demimas_registry.importer.screen import validated

__all__ = ["ImportInterrupted", "ImportReport", "import_workers", "validated"]

WRITE_SCOPE = "registry:write"
YIELD_EVERY = 32  # rows between hand-overs of the event loop to the writer (a few milliseconds of Python)
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
    """A batch could not be written; it was rolled back, the batches before it stay committed (running the same
    file again is safe: their rows are skipped as already registered)."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


async def _village_codes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT code FROM registry.villages"))).scalars())


async def _copy_rest(apg: Any, batch: PreparedBatch) -> None:
    """Everything after the workers rows: movements, statistics, events."""
    if batch.departures:
        await apg.copy_records_to_table(
            "departures", schema_name="registry", columns=DEPARTURE_COLUMNS, records=batch.departures
        )
    if batch.returns:
        await apg.copy_records_to_table(
            "returns", schema_name="registry", columns=RETURN_COLUMNS, records=batch.returns
        )
    if batch.stats:
        keys = list(batch.stats)
        await apg.execute(
            _ADD_STATS, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], list(batch.stats.values())
        )
    if batch.outbox:
        await apg.copy_records_to_table("outbox", schema_name="registry", columns=OUTBOX_COLUMNS, records=batch.outbox)


class _Refusals:
    """Rows whose NIK is registered outside the caller's region: rejected in the report, recorded as events."""

    def __init__(self, covers: Callable[[str], bool]) -> None:
        self.covers = covers

    async def sort_out(
        self, apg: Any, records: list[ImportRecord], builder: BatchBuilder
    ) -> tuple[set[str], list[Row], list[RowError]]:
        """(the NIKs among `records` that are registered, refusal events, rejected rows)."""
        known = await apg.fetch(_KNOWN_NIKS, [record.worker.nik for record in records])
        if not known:
            return set(), [], []
        outside = {row[0]: row[1] for row in known if not self.covers(row[2])}
        events, rejected = [], []
        for record in records:
            existing = outside.get(record.worker.nik)
            if existing is not None:
                events.append(builder.refusal_row(record, existing))
                rejected.append(RowError(record.line, "nik", NOT_REGISTRABLE, NOT_REGISTRABLE_MESSAGE))
        return {row[0] for row in known}, events, rejected


async def _write(
    engine: AsyncEngine, batch: PreparedBatch, builder: BatchBuilder, refusals: _Refusals
) -> tuple[PreparedBatch, list[RowError]]:
    """One transaction; returns what was actually written (the workers not registered before, the refusal
    events) and the rows rejected because their NIK is registered outside the caller's region."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        apg: Any = raw.driver_connection
        try:
            async with apg.transaction():
                # The common case first: look the NIKs up, then COPY the new workers straight into the table.
                known, refused, rejected = await refusals.sort_out(apg, batch.records, builder)
                written = restricted(batch, known, builder) if known else batch
                if written.records:
                    await apg.copy_records_to_table(
                        "workers", schema_name="registry", columns=WORKER_COLUMNS, records=written.workers
                    )
                written.outbox += refused
                await _copy_rest(apg, written)
            return written, rejected
        except UniqueViolationError:
            # Someone registered one of these NIKs since the lookup (rare): stage, and let ON CONFLICT skip them.
            # The failed COPY is logged by the server as its primary message only, without the key (terse).
            pass
        async with apg.transaction():
            await apg.execute("CREATE TEMP TABLE workers_in (LIKE registry.workers INCLUDING DEFAULTS) ON COMMIT DROP")
            await apg.copy_records_to_table("workers_in", columns=WORKER_COLUMNS, records=batch.workers)
            inserted = {row[0] for row in await apg.fetch(_INSERT_NEW)}
            written, rejected = batch, []
            if len(inserted) != len(batch.records):
                skipped = [record for record in batch.records if record.worker.id not in inserted]
                _, refused, rejected = await refusals.sort_out(apg, skipped, builder)
                written = restricted(batch, inserted, builder, keep=True)
                written.outbox += refused
            await _copy_rest(apg, written)
        return written, rejected


async def _writer(
    engine: AsyncEngine,
    queue: asyncio.Queue[PreparedBatch | None],
    report: ImportReport,
    builder: BatchBuilder,
    refusals: _Refusals,
) -> None:
    while (batch := await queue.get()) is not None:
        written, rejected = await _write(engine, batch, builder, refusals)
        report.inserted += len(written.records)
        report.events += len(written.outbox)
        report.rejected += rejected


async def _hand_over(queue: asyncio.Queue[PreparedBatch | None], item: PreparedBatch | None, writer: Any) -> None:
    """Queue a batch for the writer, or raise the writer's error if it failed meanwhile."""
    put = asyncio.ensure_future(queue.put(item))
    done, _ = await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
    if put not in done:
        put.cancel()
    if writer in done:
        writer.result()  # the writer only ends before its last batch by failing: raise that


def _check_contract(batch: PreparedBatch) -> None:
    """The first event of each type of an import is checked against its JSON Schema (the single mutations check
    every event; checking a million identical shapes would cost more than writing them)."""
    from demimas_common.events.schemas import validate_event

    for row in first_of_each_type(batch):
        validate_event(CloudEvent.from_dict(orjson.loads(row[3])))


async def _batches(
    records: Iterator[ImportRecord], builder: BatchBuilder, size: int, tick: Callable[[], None]
) -> AsyncIterator[PreparedBatch]:
    for count, record in enumerate(records, start=1):
        builder.add(record)
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # let the writer issue its next statement
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
) -> ImportReport:
    """Validate every row and write the valid ones; returns the report. Raises `FileRejected` (from the reader)
    for a file that cannot be imported at all, and `ImportInterrupted` when a batch cannot be written."""
    principal.require_scope(WRITE_SCOPE)
    with _fewer_collections():
        return await _import(engine, rows, principal, batch_size, progress)


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
) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport()
    villages = await _village_codes(engine)
    actor, agency, traceparent = principal.actor, principal.agency.value, current_traceparent()
    reported = 0

    def tick() -> None:
        nonlocal reported
        if progress is not None:
            progress(report.total - reported)
        reported = report.total

    queue: asyncio.Queue[PreparedBatch | None] = asyncio.Queue(maxsize=1)
    refusals = _Refusals(principal.covers)
    writer = asyncio.create_task(_writer(engine, queue, report, BatchBuilder(actor, agency, traceparent), refusals))
    checked = False
    try:
        records = validated(rows, villages=villages, principal=principal, report=report)
        async for batch in _batches(records, BatchBuilder(actor, agency, traceparent), batch_size, tick):
            if not checked:
                _check_contract(batch)
                checked = True
            await _hand_over(queue, batch, writer)
        await _hand_over(queue, None, writer)
        await writer
    except Exception as exc:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        report.rejected.sort(key=_by_line)
        report.elapsed = time.perf_counter() - started
        if isinstance(exc, ImportInterrupted) or not _is_write_error(exc, writer):
            raise
        raise ImportInterrupted(
            f"a batch could not be written and was rolled back ({type(exc).__name__}: {exc}); "
            f"{report.inserted} workers were imported before it; running the same file again skips them",
            report,
        ) from exc
    report.rejected.sort(key=_by_line)  # the writer adds NIK_NOT_REGISTRABLE rows after the reader's
    report.skipped_existing = report.valid - report.inserted
    report.elapsed = time.perf_counter() - started
    return report


def _by_line(error: RowError) -> int:
    return error.line


def _is_write_error(exc: BaseException, writer: asyncio.Task[None]) -> bool:
    return writer.done() and not writer.cancelled() and writer.exception() is exc
