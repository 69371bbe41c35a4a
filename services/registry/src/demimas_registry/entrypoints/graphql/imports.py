"""`importJob(id)`: what a file sent to the bulk import became (importer/jobs.py).

A job is `RUNNING` from the moment its file is received, with the rows read so far in `total`; then `SUCCEEDED`
(the file is stored, with its rejected rows left out), `REJECTED` (refused whole, nothing stored, `errorCode` says
why) or `INTERRUPTED` (the write failed or its process stopped: nothing stored, running the file again is safe).
"""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from demimas_registry.importer.jobs import ImportJobRecord

__all__ = ["ImportJob", "ImportJobStatus", "ImportRowError", "import_job_of"]


@strawberry.enum(description="Where an uploaded file stands. RUNNING until it ends in one of the other three.")
class ImportJobStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    REJECTED = "REJECTED"
    INTERRUPTED = "INTERRUPTED"


@strawberry.type(
    description="An error of a rejected row (left out of a stored file), one per column at fault. The message names no"
    " value of the file."
)
class ImportRowError:
    line: int = strawberry.field(description="The row's line in the file (the header is line 1).")
    column: str
    code: str = strawberry.field(description="A stable code: REQUIRED, INVALID_NIK, OUTSIDE_REGION, ...")
    message: str


@strawberry.type(description="An upload of workers (CSV or XLSX) and its per-row report.")
class ImportJob:
    id: strawberry.ID
    status: ImportJobStatus
    total: int = strawberry.field(description="Data rows read (so far, while RUNNING: the import's progress).")
    inserted: int
    skipped_existing: int = strawberry.field(description="Rows whose NIK was already registered.")
    rejected_count: int = strawberry.field(
        description="Rows left out, each counted once however many entries it has in `rejected`."
    )
    error_code: str | None = strawberry.field(
        description="Why a REJECTED file was refused whole, or IMPORT_INTERRUPTED (FILE_TOO_LARGE is refused before"
        " a job exists)."
    )
    rejected: list[ImportRowError] = strawberry.field(
        description="Every error of the rejected rows, one entry per column at fault, a row's in the file's column"
        " order; at most 10,000 entries, whole rows, the file's first (`rejectedTruncated`)."
    )
    rejected_truncated: bool = strawberry.field(
        description="Some rejected rows are counted in `rejectedCount` but not listed in `rejected` (the cap on"
        " entries kept)."
    )
    agency: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    progress_at: dt.datetime = strawberry.field(
        description="When the job last reported: rows read while RUNNING (every few seconds), its end after."
    )


def import_job_of(job: ImportJobRecord) -> ImportJob:
    return ImportJob(
        id=strawberry.ID(str(job.id)),
        status=ImportJobStatus(job.status),
        total=job.total,
        inserted=job.inserted,
        skipped_existing=job.skipped_existing,
        rejected_count=job.rejected_count,
        error_code=job.error_code,
        rejected=[ImportRowError(line=r.line, column=r.column, code=r.code, message=r.message) for r in job.rows],
        rejected_truncated=len({r.line for r in job.rows}) < job.rejected_count,  # rows are kept whole
        agency=job.agency,
        created_at=job.created_at,
        finished_at=job.finished_at,
        progress_at=job.heartbeat_at,
    )
