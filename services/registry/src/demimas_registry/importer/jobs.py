"""Import jobs: what a file sent over HTTP became, kept so that `importJob(id)` can answer it later (the gateway's
upload route hands the id back; the registry's own endpoint does too).

The import is synchronous: the job is written once, when the file is stored (`SUCCEEDED`) or refused whole
(`REJECTED`, nothing stored), so a job read back is always finished. The stored per-row report keeps the line,
column and code of every rejected row with a message written from the code alone: the messages of the upload's
answer quote the file's values (names, NIKs), which the uploader sent but which are not kept at rest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal, region_covers
from demimas_registry.importer.report import ImportReport

__all__ = ["ImportJobRecord", "JobRow", "load_job", "record_job", "row_message"]

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

    def visible_to(self, principal: Principal) -> bool:
        """The import's own rules: the same agency, and a token whose region covers the uploader's (a regional
        token does not see a national upload; a national token sees its agency's regional ones)."""
        if principal.agency.value != self.agency:
            return False
        if principal.region is None:
            return True
        return self.region is not None and region_covers(principal.region, self.region)


INSERT = text(
    "INSERT INTO registry.import_jobs (id, agency, region, status, total, inserted, skipped_existing,"
    " rejected_count, error_code, rows, finished_at)"
    " VALUES (:id, :agency, :region, :status, :total, :inserted, :skipped, :rejected, :error, CAST(:rows AS jsonb),"
    " now())"
)
SELECT = text(
    "SELECT id, agency, region, status, total, inserted, skipped_existing, rejected_count, error_code, rows,"
    " created_at, finished_at FROM registry.import_jobs WHERE id = :id"
)


async def record_job(
    engine: AsyncEngine, principal: Principal, report: ImportReport | None, error_code: str | None = None
) -> uuid.UUID:
    """Write the finished job of a stored file (`report`) or of a file refused whole (`error_code`)."""
    job_id = uuid.uuid4()
    rows: list[dict[str, Any]] = []
    if report is not None:
        rows = [
            {"line": e.line, "column": e.column, "code": e.code, "message": row_message(e.code, e.column)}
            for e in report.rejected
        ]
    async with engine.begin() as conn:
        await conn.execute(
            INSERT,
            {
                "id": job_id,
                "agency": principal.agency.value,
                "region": principal.region,
                "status": "SUCCEEDED" if report is not None else "REJECTED",
                "total": report.total if report else 0,
                "inserted": report.inserted if report else 0,
                "skipped": report.skipped_existing if report else 0,
                "rejected": len(report.rejected) if report else 0,
                "error": error_code,
                "rows": orjson.dumps(rows).decode(),
            },
        )
    return job_id


async def load_job(engine: AsyncEngine, job_id: uuid.UUID) -> ImportJobRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT, {"id": job_id})).mappings().first()
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
    )
