"""Reading import files as (line number, {column: text}) without loading them whole: CSV (`csv_file`) or XLSX
(`xlsx_file`, the first sheet), each within `ReadLimits`. A file that breaks a limit or cannot be read is refused
as a whole with a `FileRejected`, raised while it is iterated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from demimas_registry.importer.csv_file import read_csv
from demimas_registry.importer.limits import FileRejected, ReadLimits
from demimas_registry.importer.xlsx_file import read_xlsx

__all__ = ["FileRejected", "ReadLimits", "read_rows"]

Row = tuple[int, dict[str, str]]


def read_rows(path: Path, limits: ReadLimits | None = None) -> Iterator[Row]:
    limits = limits or ReadLimits()
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path, limits)
    return read_csv(path, limits)
