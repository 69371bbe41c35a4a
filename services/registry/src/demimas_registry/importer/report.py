"""What an import did: rows read, inserted, already present, and every rejected row with each error of its columns
(line, column, code), as text for a terminal and as CSV for the clerk who fixes the file.

Rows are counted as rows: a row with three errors is one rejected row and three entries. The entries kept are
bounded (`MAX_KEPT_ERRORS`, whole rows, the file's first): a hostile file of a million rows with twenty bad columns
each costs the counts, not twenty million entries in memory, in the answer and in the stored job."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from demimas_registry.domain.validation import as_plain_text
from demimas_registry.importer.rows import RowError

__all__ = ["MAX_KEPT_ERRORS", "ImportReport", "kept_rows"]

SHOWN_IN_TEXT = 50
MAX_KEPT_ERRORS = 10_000
"""Error entries kept in a report (and so answered and stored): rows are added whole until this many are kept, so
a report holds at most this many plus one row's (every later rejected row is still counted)."""


def kept_rows(errors: Iterable[RowError], limit: int = MAX_KEPT_ERRORS) -> list[RowError]:
    """The entries of whole rows, in the order given (rows' entries next to each other), until `limit` are kept."""
    kept: list[RowError] = []
    for error in errors:
        if len(kept) >= limit and error.line != kept[-1].line:
            break
        kept.append(error)
    return kept


@dataclass
class ImportReport:
    total: int = 0
    """Data rows read (blank lines are not rows)."""
    inserted: int = 0
    skipped_existing: int = 0
    """Valid rows whose NIK was already registered: importing a file twice adds nothing and is no error."""
    rejected: list[RowError] = field(default_factory=list)
    """Every error of the rejected rows, a row's in the file's column order, up to `max_errors` (whole rows)."""
    rejected_rows: int = 0
    """Rows rejected, each once however many errors it has (also those whose entries were not kept)."""
    error_count: int = 0
    """Error entries found, also those not kept: more than `len(rejected)` when the report is truncated."""
    events: int = 0
    elapsed: float = 0.0
    max_errors: int = MAX_KEPT_ERRORS

    def reject(self, errors: Sequence[RowError]) -> None:
        """One rejected row with its errors (at least one)."""
        self.rejected_rows += 1
        self.error_count += len(errors)
        if len(self.rejected) < self.max_errors:
            self.rejected += errors

    @property
    def truncated(self) -> bool:
        """Some errors are counted but not listed (`max_errors`)."""
        return self.error_count > len(self.rejected)

    @property
    def valid(self) -> int:
        return self.total - self.rejected_rows

    def to_text(self) -> str:
        lines = [
            f"rows read: {self.total}; imported: {self.inserted}; already registered (skipped): "
            f"{self.skipped_existing}; rejected: {self.rejected_rows} rows ({self.error_count} errors); "
            f"events: {self.events}; {self.elapsed:.1f} s"
        ]
        lines += [f"  line {e.line}, {e.column}: {e.code}: {e.message}" for e in self.rejected[:SHOWN_IN_TEXT]]
        if len(self.rejected) > SHOWN_IN_TEXT:
            lines.append(f"  ... and {len(self.rejected) - SHOWN_IN_TEXT} more (write them all with --report)")
        if self.truncated:
            lines.append(f"  {self.truncation()}")
        return "\n".join(lines)

    def truncation(self) -> str:
        listed = len({e.line for e in self.rejected})
        return (
            f"report truncated: {len(self.rejected)} of {self.error_count} errors listed, those of the first "
            f"{listed} of {self.rejected_rows} rejected rows (at most {self.max_errors} are kept)"
        )

    def to_csv(self) -> str:
        """For a spreadsheet: the messages quote the file's values, so every cell is written as plain text. A
        truncated report ends with a row of code `TRUNCATED` saying how much is left out."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "column", "code", "message"])
        writer.writerows(
            (e.line, as_plain_text(e.column), as_plain_text(e.code), as_plain_text(e.message)) for e in self.rejected
        )
        if self.truncated:
            writer.writerow(("", "", "TRUNCATED", self.truncation()))
        return out.getvalue()
