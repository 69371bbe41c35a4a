"""What an import file may hold before it is read any further, and the refusal that names the limit it broke.

Every limit is checked before the work it bounds: the archive's central directory before anything is inflated,
a row's index before its cells are built, a CSV line's length before it is split. A refusal is a `FileRejected`
with a stable code; the message says which limit, its value, and the setting that changes it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CELL_TOO_LONG",
    "COMPRESSION_TOO_HIGH",
    "INFLATED_TOO_LARGE",
    "LINE_TOO_LONG",
    "NOT_UTF8",
    "TOO_MANY_COLUMNS",
    "TOO_MANY_ROWS",
    "UNREADABLE_XLSX",
    "FileRejected",
    "ReadLimits",
]

TOO_MANY_ROWS = "TOO_MANY_ROWS"
TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
CELL_TOO_LONG = "CELL_TOO_LONG"
LINE_TOO_LONG = "LINE_TOO_LONG"
INFLATED_TOO_LARGE = "INFLATED_TOO_LARGE"
COMPRESSION_TOO_HIGH = "COMPRESSION_TOO_HIGH"
NOT_UTF8 = "NOT_UTF8"
UNREADABLE_XLSX = "UNREADABLE_XLSX"


class FileRejected(ValueError):
    """The file cannot be imported at all (unreadable, over a limit, or a header that does not match the
    template). Nothing of it is stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The bounds of one import file (the registry settings `DEMIMAS_IMPORT_MAX_*` in the service)."""

    max_rows: int = 1_000_000
    """Data rows after the header (an XLSX row index beyond max_rows + 1 is refused even if the rows between
    are empty, so that a sheet's gaps cannot be made to cost more than its limit)."""
    max_columns: int = 64
    """Cells per row, counted from the first column. In an XLSX a cell in the next column refuses the file;
    cells further right are never read (no header cell names them, and unnamed columns are ignored anyway)."""
    max_cell_chars: int = 2_000
    """Characters in one cell (the template's longest field, address, allows 500)."""
    max_inflated_bytes: int = 2 * 1024**3
    """Sum of the XLSX parts' declared uncompressed sizes (a million-row sheet written with inline strings
    inflates to about 1 GB)."""
    max_compression_ratio: int = 100
    """Uncompressed to compressed size of any XLSX part larger than 1 MiB inflated (real sheets: 5 to 20)."""

    @property
    def max_line_chars(self) -> int:
        """The longest physical CSV line: every cell at its limit, quoted, with its separator."""
        return self.max_columns * (self.max_cell_chars + 3)

    def too_many_rows(self, seen: str) -> FileRejected:
        return FileRejected(
            TOO_MANY_ROWS,
            f"{seen}; at most {self.max_rows} data rows are imported from one file "
            "(setting DEMIMAS_IMPORT_MAX_ROWS); split the file",
        )

    def too_many_columns(self, line: int) -> FileRejected:
        return FileRejected(
            TOO_MANY_COLUMNS,
            f"line {line} has cells beyond column {self.max_columns}, the most a file may have "
            "(setting DEMIMAS_IMPORT_MAX_COLUMNS)",
        )

    def cell_too_long(self, line: int, column: int) -> FileRejected:
        return FileRejected(
            CELL_TOO_LONG,
            f"line {line}, column {column} holds more than {self.max_cell_chars} characters, the most a cell may "
            "hold (setting DEMIMAS_IMPORT_MAX_CELL_CHARS)",
        )
