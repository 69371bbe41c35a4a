"""Reading a CSV import file (UTF-8 with or without BOM, comma or semicolon, sniffed from the first 8 KB) line by
line within the read limits. Invalid UTF-8 anywhere, a line too long, too many rows, columns or characters in a
cell: the file is refused with a code, never half-read."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

from demimas_registry.importer.header import check_header
from demimas_registry.importer.limits import LINE_TOO_LONG, NOT_UTF8, FileRejected, ReadLimits

__all__ = ["HAND_OVER_EVERY", "read_csv"]

Row = tuple[int, dict[str, str]]
HAND_OVER_EVERY = 256
"""Lines between two hand-overs of the interpreter lock: the reader runs in a worker thread, and without them
the event loop would wait up to the switch interval (5 ms) after every one of its I/O waits."""
SAMPLE_CHARS = 8192


def _lines(handle: io.TextIOWrapper, limits: ReadLimits) -> Iterator[str]:
    """Physical lines, each read with a bound so that a file without line breaks is never read whole."""
    longest = limits.max_line_chars
    number = 0
    while True:
        try:
            line = handle.readline(longest + 2)  # room for "\r\n"
        except UnicodeDecodeError:
            raise FileRejected(
                NOT_UTF8, f"the text after line {number} is not UTF-8; save the file as CSV UTF-8"
            ) from None
        if not line:
            return
        number += 1
        if len(line.rstrip("\r\n")) > longest:
            raise FileRejected(
                LINE_TOO_LONG,
                f"line {number} is longer than {longest} characters ({limits.max_columns} cells of "
                f"{limits.max_cell_chars}, settings DEMIMAS_IMPORT_MAX_COLUMNS and DEMIMAS_IMPORT_MAX_CELL_CHARS)",
            )
        if number % HAND_OVER_EVERY == 0:
            time.sleep(0)
        yield line


def _checked(values: list[str], line: int, limits: ReadLimits) -> list[str]:
    if len(values) > limits.max_columns:
        raise limits.too_many_columns(line)
    for column, value in enumerate(values, start=1):
        if len(value) > limits.max_cell_chars:
            raise limits.cell_too_long(line, column)
    return values


def read_csv(path: Path, limits: ReadLimits) -> Iterator[Row]:
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle:
        try:
            sample = handle.read(SAMPLE_CHARS)
        except UnicodeDecodeError:
            raise FileRejected(NOT_UTF8, "the file's first lines are not UTF-8 text; save it as CSV UTF-8") from None
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(_lines(handle, limits), delimiter=delimiter)
        try:
            header = check_header(_checked(next(reader), 1, limits))
            width, rows = len(header), 0
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in _checked(values, line, limits)):
                    continue
                rows += 1
                if rows > limits.max_rows:
                    raise limits.too_many_rows(f"line {line} is data row {rows}")
                if len(values) < width:
                    values = values + [""] * (width - len(values))
                yield line, {name: values[i] for i, name in enumerate(header) if name}
        except StopIteration:
            raise FileRejected("EMPTY_FILE", "the file is empty") from None
        except csv.Error as exc:
            raise FileRejected("MALFORMED_CSV", f"line {reader.line_num}: {exc}") from None
