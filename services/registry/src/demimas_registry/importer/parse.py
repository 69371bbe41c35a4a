"""Reading import files as (line number, {column: text}) without loading them whole: CSV (UTF-8 with or without
BOM, comma or semicolon, sniffed) and XLSX (first sheet, read-only). Header problems reject the whole file."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from demimas_registry.importer.template import COLUMNS, REQUIRED

__all__ = ["FileRejected", "read_rows"]

KNOWN = {c.name for c in COLUMNS}
Row = tuple[int, dict[str, str]]


class FileRejected(ValueError):
    """The file cannot be imported at all (unreadable, or a header that does not match the template)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_header(header: list[str]) -> list[str]:
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n and n not in KNOWN]
    if unknown:
        raise FileRejected("UNKNOWN_COLUMN", f"unknown column(s) {', '.join(unknown)}; see the import template")
    missing = sorted(REQUIRED - set(names))
    if missing:
        raise FileRejected("MISSING_COLUMN", f"missing required column(s) {', '.join(missing)}")
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if duplicated:
        raise FileRejected("DUPLICATE_COLUMN", f"column(s) {', '.join(duplicated)} appear twice")
    return names


def _read_csv(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(8192)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = _check_header(next(reader))
        except StopIteration:
            raise FileRejected("EMPTY_FILE", "the file is empty") from None
        except UnicodeDecodeError:
            raise FileRejected("NOT_UTF8", "the file is not UTF-8 text; save it as CSV UTF-8") from None
        width = len(header)
        try:
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) < width:
                    values = values + [""] * (width - len(values))
                yield reader.line_num, {name: values[i] for i, name in enumerate(header) if name}
        except UnicodeDecodeError:
            raise FileRejected("NOT_UTF8", f"line {reader.line_num + 1} is not UTF-8 text") from None
        except csv.Error as exc:
            raise FileRejected("MALFORMED_CSV", f"line {reader.line_num}: {exc}") from None


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


def _read_xlsx(path: Path) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileRejected("UNREADABLE_XLSX", f"not a readable XLSX file ({type(exc).__name__})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        try:
            header = _check_header([_cell(v) for v in next(rows)])
        except StopIteration:
            raise FileRejected("EMPTY_FILE", "the sheet is empty") from None
        for line, values in enumerate(rows, start=2):
            cells = [_cell(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            cells += [""] * (len(header) - len(cells))
            yield line, {name: cells[i] for i, name in enumerate(header) if name}
    finally:
        book.close()


def read_rows(path: Path) -> Iterator[Row]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    return _read_csv(path)
