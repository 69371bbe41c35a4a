"""Import jobs: what a file sent over HTTP is becoming or became, kept so that `importJob(id)` can answer it (the
gateway's upload route hands the id back; the registry's own endpoint does too).

A job is written when its file starts importing (`RUNNING`, with the rows read so far and a heartbeat updated while
the import runs), and its result when the import ends: `SUCCEEDED` (the file is stored), `REJECTED` (refused whole,
nothing stored) or `INTERRUPTED` (the write failed, nothing stored). A running job whose heartbeat stopped, because
its process died, is read as `INTERRUPTED`: nothing of its file was stored, since a file is one transaction.

The stored per-row report keeps the line, column and code of every rejected row with a message written from the
code alone: the messages of the upload's answer quote the file's values (names, NIKs), which the uploader sent but
which are not kept at rest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_common.auth.principal import Principal, region_covers
from demimas_registry.importer.report import ImportReport

__all__ = [
    "HEARTBEAT_SECONDS",
    "STALE_SECONDS",
    "ImportJobRecord",
    "JobRow",
    "beat",
    "finish_in",
    "finish_job",
    "interrupt_running",
    "load_job",
    "row_message",
    "start_job",
]

HEARTBEAT_SECONDS = 2.0
"""How often a running import writes its rows read and its heartbeat."""
STALE_SECONDS = 60.0
"""A running job without a heartbeat for this long is read as `INTERRUPTED`: its process is gone (a heartbeat is
written every `HEARTBEAT_SECONDS` even while the database commits, so only a dead or frozen process misses 30)."""

ROW_MESSAGES = {
    "REQUIRED": "a required value is missing",
    "INVALID_NIK": "not a valid NIK (16 digits consistent with sex and birth date)",
    "INVALID_DATE": "not a date (YYYY-MM-DD or DD/MM/YYYY)",
    "FUTURE_DATE": "a date in the future",
    "INVALID_VALUE": "not one of the accepted values for this column",
    "TOO_LONG": "longer than the column allows",
    "UNKNOWN_VILLAGE": "not a known Kemendagri village code",
    "OUTSIDE_REGION": "the village lies outside the region of the uploader's token",
    "DUPLICATE_IN_FILE": "the same NIK is on an earlier line of the file",
    "NIK_NOT_REGISTRABLE": "this NIK cannot be registered by the uploader",
    "INVALID_OCCUPATION_CODE": "not a KBJI 2014 code",
}


def row_message(code: str, column: str) -> str:
    """The stored message of a rejected row: from its code and column only, never from the file's values."""
    return f"{column}: {ROW_MESSAGES.get(code, 'rejected')}"


@dataclass(frozen=True)
class JobRow:
    line: int
    column: str
    code: str
    message: str


@dataclass(frozen=True)
class ImportJobRecord:
    id: uuid.UUID
    agency: str
    region: str | None
    status: str
    total: int
    inserted: int
    skipped_existing: int
    rejected_count: int
    error_code: str | None
    rows: list[JobRow]
    created_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime

    def visible_to(self, principal: Principal) -> bool:
        """The import's own rules: the same agency, and a token whose region covers the uploader's (a regional
        token does not see a national upload; a national token sees its agency's regional ones)."""
        if principal.agency.value != self.agency:
            return False
        if principal.region is None:
            return True
        return self.region is not None and region_covers(principal.region, self.region)


START = text("INSERT INTO registry.import_jobs (id, agency, region, status) VALUES (:id, :agency, :region, 'RUNNING')")
BEAT = text(
    "UPDATE registry.import_jobs SET total = :total, heartbeat_at = now() WHERE id = :id AND status = 'RUNNING'"
)
FINISH = text(
    "UPDATE registry.import_jobs SET status = :status, total = :total, inserted = :inserted,"
    " skipped_existing = :skipped, rejected_count = :rejected, error_code = :error, rows = CAST(:rows AS jsonb),"
    " heartbeat_at = now(), finished_at = now() WHERE id = :id"
)
INTERRUPT = text(
    "UPDATE registry.import_jobs SET status = 'INTERRUPTED', error_code = 'IMPORT_INTERRUPTED', heartbeat_at = now(),"
    " finished_at = now() WHERE id = ANY(:ids) AND status = 'RUNNING'"
)
SELECT = text(
    "SELECT id, agency, region, CASE WHEN status = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => :stale)"
    " THEN 'INTERRUPTED' ELSE status END AS status, total, inserted, skipped_existing, rejected_count,"
    " CASE WHEN status = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => :stale)"
    " THEN 'IMPORT_INTERRUPTED' ELSE error_code END AS error_code, rows, created_at, finished_at, heartbeat_at"
    " FROM registry.import_jobs WHERE id = :id"
)


async def start_job(engine: AsyncEngine, principal: Principal) -> uuid.UUID:
    """Write the job of a file about to be imported: `RUNNING`, no rows read yet."""
    job_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(START, {"id": job_id, "agency": principal.agency.value, "region": principal.region})
    return job_id


async def beat(engine: AsyncEngine, job_id: uuid.UUID, rows_read: int) -> None:
    """The running import's progress: rows read so far, and that its process is alive."""
    async with engine.begin() as conn:
        await conn.execute(BEAT, {"id": job_id, "total": rows_read})


async def finish_job(
    engine: AsyncEngine,
    job_id: uuid.UUID,
    report: ImportReport | None,
    *,
    status: str,
    error_code: str | None = None,
) -> None:
    """Write the result: the report of a stored file (`SUCCEEDED`), or a file refused whole (`REJECTED`) or whose
    write failed (`INTERRUPTED`), with `error_code` saying why. The counts of an unstored file's report are kept
    (rows read), its per-row report only when the file was stored."""
    async with engine.begin() as conn:
        await finish_in(conn, job_id, report, status=status, error_code=error_code)


async def finish_in(
    conn: AsyncConnection,
    job_id: uuid.UUID,
    report: ImportReport | None,
    *,
    status: str,
    error_code: str | None = None,
) -> None:
    """`finish_job` in a transaction of the caller's: a stored file's `SUCCEEDED` is written in the file's own
    transaction, so a job never reads INTERRUPTED ("nothing stored") for a file that was stored."""
    rows: list[dict[str, Any]] = []
    if report is not None and status == "SUCCEEDED":
        rows = [
            {"line": e.line, "column": e.column, "code": e.code, "message": row_message(e.code, e.column)}
            for e in report.rejected
        ]
    stored = status == "SUCCEEDED" and report is not None
    await conn.execute(
        FINISH,
        {
            "id": job_id,
            "status": status,
            "total": report.total if report else 0,
            "inserted": report.inserted if stored and report else 0,
            "skipped": report.skipped_existing if stored and report else 0,
            "rejected": report.rejected_rows if stored and report else 0,
            "error": error_code,
            "rows": orjson.dumps(rows).decode(),
        },
    )


async def interrupt_running(engine: AsyncEngine, job_ids: list[uuid.UUID]) -> None:
    """Jobs whose run stopped before its import began (cancelled while waiting, or before its first step): nothing
    of their files was read; those still `RUNNING` are written `INTERRUPTED`."""
    if not job_ids:
        return
    async with engine.begin() as conn:
        await conn.execute(INTERRUPT, {"ids": job_ids})


async def load_job(
    engine: AsyncEngine, job_id: uuid.UUID, *, stale_seconds: float = STALE_SECONDS
) -> ImportJobRecord | None:
    """The job as it stands; `RUNNING` with no heartbeat for `stale_seconds` reads as `INTERRUPTED`."""
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT, {"id": job_id, "stale": stale_seconds})).mappings().first()
    if row is None:
        return None
    return ImportJobRecord(
        id=row["id"],
        agency=row["agency"],
        region=row["region"],
        status=row["status"],
        total=row["total"],
        inserted=row["inserted"],
        skipped_existing=row["skipped_existing"],
        rejected_count=row["rejected_count"],
        error_code=row["error_code"],
        rows=[JobRow(r["line"], r["column"], r["code"], r["message"]) for r in row["rows"]],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        heartbeat_at=row["heartbeat_at"],
    )
