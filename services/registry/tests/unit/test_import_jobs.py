"""Import jobs (issue 20 item 6): who may read one back, and a stored row message that names no value of the file."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_registry.entrypoints.graphql.imports import ImportJob, import_job_of
from demimas_registry.importer.jobs import ROW_MESSAGES, ImportJobRecord, JobRow, row_message


def job(agency: str, region: str | None) -> ImportJobRecord:
    now = dt.datetime.now(dt.UTC)
    return ImportJobRecord(uuid.uuid4(), agency, region, "SUCCEEDED", 1, 1, 0, 0, None, [], now, now, now)


def token(agency: Agency, region: str | None) -> Principal:
    return Principal("t", agency, DEFAULT_GRANTS[agency], region)


@pytest.mark.parametrize(
    ("uploaded", "reader", "seen"),
    [
        (("KP2MI", None), token(Agency.KP2MI, None), True),
        (("KP2MI", None), token(Agency.BP3MI, "16.06"), False),  # another agency
        (("DISNAKER", "16.06"), token(Agency.DISNAKER, "16"), True),  # a wider region of the same agency
        (("DISNAKER", "16.06"), token(Agency.DISNAKER, "16.06"), True),
        (("DISNAKER", "16.06"), token(Agency.DISNAKER, "16.07"), False),  # a neighbouring region
        (("DISNAKER", "16"), token(Agency.DISNAKER, "16.06"), False),  # a narrower token: not the whole upload
        (("KP2MI", None), token(Agency.KP2MI, "16.06"), False),  # a regional token, a national upload
        (("DISNAKER", "16.06"), token(Agency.DISNAKER, "16.061"), False),  # whole segments only
    ],
)
def test_a_job_is_seen_by_its_agency_within_a_region_covering_the_upload(
    uploaded: tuple[str, str | None], reader: Principal, seen: bool
) -> None:
    assert job(*uploaded).visible_to(reader) is seen


def test_every_row_code_has_a_message_made_of_the_code_alone() -> None:
    codes = {"REQUIRED", "INVALID_NIK", "INVALID_DATE", "FUTURE_DATE", "INVALID_VALUE", "TOO_LONG",
             "UNKNOWN_VILLAGE", "OUTSIDE_REGION", "DUPLICATE_IN_FILE", "NIK_NOT_REGISTRABLE",
             "INVALID_OCCUPATION_CODE"}  # fmt: skip
    assert codes <= set(ROW_MESSAGES)
    assert row_message("INVALID_NIK", "nik") == f"nik: {ROW_MESSAGES['INVALID_NIK']}"
    assert row_message("SOMETHING_NEW", "sex") == "sex: rejected"


def test_a_job_whose_rejected_rows_are_not_all_listed_says_it_was_truncated() -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        JobRow(3, "nik", "INVALID_NIK", ""),
        JobRow(3, "sex", "INVALID_VALUE", ""),
        JobRow(5, "sex", "REQUIRED", ""),
    ]

    def answered(rejected_count: int) -> ImportJob:
        record = ImportJobRecord(uuid.uuid4(), "KP2MI", None, "SUCCEEDED", 9, 9 - rejected_count, 0, rejected_count,
                                 None, rows, now, now, now)  # fmt: skip
        return import_job_of(record)

    assert (answered(2).rejected_count, answered(2).rejected_truncated) == (2, False)  # two rows, three entries
    assert answered(3).rejected_truncated  # a third rejected row is counted but not listed
