"""Reading the first sheet of an XLSX import file within the read limits.

openpyxl's read-only mode trusts the sheet's declared `<dimension>`: a 1.6 KB file claiming `A1:XFD1048576` made
it pad every row to 16,384 cells and the sheet to a million rows. Here the declared dimension is dropped
(`reset_dimensions`), rows are read one column past the column limit only (a cell there refuses the file; cells
further right are never built), a row index past the row limit refuses the file before the rows in between are
looked at any further, and the archive is checked before anything is inflated (`archive.check_archive`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from demimas_registry.importer.archive import check_archive
from demimas_registry.importer.csv_file import HAND_OVER_EVERY
from demimas_registry.importer.header import check_header
from demimas_registry.importer.limits import UNREADABLE_XLSX, FileRejected, ReadLimits

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = ["read_xlsx"]

Row = tuple[int, dict[str, str]]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cells(values: tuple[object, ...], line: int, limits: ReadLimits) -> list[str]:
    """The row's text cells; `values` has one column more than the limit, which must be empty."""
    if values[-1] is not None:
        raise limits.too_many_columns(line)
    cells = [_cell(v) for v in values[:-1]]
    for column, cell in enumerate(cells, start=1):
        if len(cell) > limits.max_cell_chars:
            raise limits.cell_too_long(line, column)
    return cells


def read_xlsx(path: Path, limits: ReadLimits) -> Iterator[Row]:
    check_archive(path, limits)
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileRejected(UNREADABLE_XLSX, f"not a readable XLSX file ({type(exc).__name__})") from None
    try:
        yield from _rows(book, limits)
    except FileRejected:
        raise
    except Exception as exc:  # a damaged part found while streaming the sheet (bad XML, a CRC error)
        raise FileRejected(UNREADABLE_XLSX, f"not a readable XLSX file ({type(exc).__name__})") from None
    finally:
        book.close()


def _rows(book: Workbook, limits: ReadLimits) -> Iterator[Row]:
    if not book.worksheets:
        raise FileRejected(UNREADABLE_XLSX, "the workbook has no worksheet")
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # the declared size is not trusted
    rows = sheet.iter_rows(max_col=limits.max_columns + 1, values_only=True)
    try:
        yield from _lines(rows, limits)
    finally:
        rows.close()  # now, not when collected: it holds the sheet's part open


def _lines(rows: Iterator[tuple[object, ...]], limits: ReadLimits) -> Iterator[Row]:
    last_line = limits.max_rows + 1
    try:
        header = check_header(_cells(next(rows), 1, limits))
    except StopIteration:
        raise FileRejected("EMPTY_FILE", "the sheet is empty") from None
    for line, values in enumerate(rows, start=2):
        if line > last_line:
            raise limits.too_many_rows(f"the sheet goes on past row {last_line}")
        if line % HAND_OVER_EVERY == 0:
            time.sleep(0)
        if values.count(None) == len(values):  # a row absent from the sheet, or empty: skipped at C speed
            continue
        cells = _cells(values, line, limits)
        if not any(c.strip() for c in cells):
            continue
        yield line, {name: cells[i] for i, name in enumerate(header) if name}
