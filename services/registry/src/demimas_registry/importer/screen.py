"""The checks of a row that need more than the row: the village exists, it lies in the caller's region, and the
NIK is not already on an earlier line of the same file. Rows that fail land in the report; the rest go on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from demimas_common.auth.principal import Principal
from demimas_registry.importer.report import ImportReport
from demimas_registry.importer.rows import ImportRecord, RowError, parse_row

__all__ = ["validated"]


def validated(
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    villages: set[str],
    principal: Principal,
    report: ImportReport,
    today: dt.date | None = None,
) -> Iterator[ImportRecord]:
    """Valid records only; every rejected row is added to `report` (`ImportReport.reject`) with each of its
    columns' errors (line, column, code). The checks beyond the row run only on rows whose columns all passed."""
    today = today or dt.date.today()
    seen: dict[str, int] = {}
    reject = report.reject
    covers_all = principal.region is None
    for line, values in rows:
        report.total += 1
        result = parse_row(line, values, today=today)
        if isinstance(result, list):
            reject(result)
            continue
        code = result.worker.village_code
        if code not in villages:
            reject([RowError(line, "village_code", "UNKNOWN_VILLAGE",
                             f"{code} is not a village of the Kemendagri reference")])  # fmt: skip
            continue
        if not covers_all and not principal.covers(code):
            reject([RowError(line, "village_code", "OUTSIDE_REGION",
                             f"{code} lies outside your region {principal.region}")])  # fmt: skip
            continue
        nik = result.worker.nik
        first = seen.setdefault(nik, line)
        if first != line:
            reject([RowError(line, "nik", "DUPLICATE_IN_FILE", f"the same NIK is already on line {first}")])
            continue
        yield result
