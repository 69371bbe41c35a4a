"""What an import did: rows read, inserted, already present, and every rejected row with its line, column and
code, as text for a terminal and as CSV for the clerk who fixes the file."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from demimas_registry.domain.validation import as_plain_text
from demimas_registry.importer.rows import RowError

__all__ = ["ImportReport"]

SHOWN_IN_TEXT = 50


@dataclass
class ImportReport:
    total: int = 0
    """Data rows read (blank lines are not rows)."""
    inserted: int = 0
    skipped_existing: int = 0
    """Valid rows whose NIK was already registered: importing a file twice adds nothing and is no error."""
    rejected: list[RowError] = field(default_factory=list)
    events: int = 0
    elapsed: float = 0.0

    @property
    def valid(self) -> int:
        return self.total - len(self.rejected)

    def to_text(self) -> str:
        lines = [
            f"rows read: {self.total}; imported: {self.inserted}; already registered (skipped): "
            f"{self.skipped_existing}; rejected: {len(self.rejected)}; events: {self.events}; {self.elapsed:.1f} s"
        ]
        lines += [f"  line {e.line}, {e.column}: {e.code}: {e.message}" for e in self.rejected[:SHOWN_IN_TEXT]]
        if len(self.rejected) > SHOWN_IN_TEXT:
            lines.append(f"  ... and {len(self.rejected) - SHOWN_IN_TEXT} more (write them all with --report)")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """For a spreadsheet: the messages quote the file's values, so every cell is written as plain text."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "column", "code", "message"])
        writer.writerows(
            (e.line, as_plain_text(e.column), as_plain_text(e.code), as_plain_text(e.message)) for e in self.rejected
        )
        return out.getvalue()
