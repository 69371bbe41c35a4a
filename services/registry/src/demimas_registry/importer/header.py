"""The header row of an import file against the template: every name known, every required one present, none
twice. A header problem rejects the whole file."""

from __future__ import annotations

from demimas_registry.importer.limits import FileRejected
from demimas_registry.importer.template import COLUMNS, REQUIRED

__all__ = ["check_header"]

KNOWN = {c.name for c in COLUMNS}


def check_header(header: list[str]) -> list[str]:
    """The column names in file order (blank where the file has a column without a name, which is ignored)."""
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
