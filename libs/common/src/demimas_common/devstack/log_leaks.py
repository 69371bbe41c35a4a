"""Finding personal data in the log files the devstack's servers write (PostgreSQL, NATS), so that a test session
fails when a NIK or a phone number reached one of them (docs/personal-data.md).

Two kinds of search: the shapes of personal data (any 16-digit run, as a NIK is; an Indonesian mobile number in
its national or +62 form, with or without separators), which catches values no test thought of, and exact values
a test knows it used; a line holding URL-encoded text is searched decoded too. A finding names the file, the line
and the kind, never the value itself: the report of a leak must not leak again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

__all__ = ["Leak", "find_leaks", "log_files"]

_NO_WORD_BEFORE = r"(?<![0-9A-Za-z.+-])"
_NO_WORD_AFTER = r"(?![0-9A-Za-z])"
SHAPES = {
    "NIK": re.compile(_NO_WORD_BEFORE + r"\d{16}" + _NO_WORD_AFTER),
    "phone": re.compile(_NO_WORD_BEFORE + r"(?:\+62|62|0)[ -]?8\d{1,3}(?:[ -]?\d{3,4}){2,3}" + _NO_WORD_AFTER),
}


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: a {self.kind}"


def log_files(root: Path) -> list[Path]:
    """Every log file under the devstack's folder (`postgres.log`, `nats.log`, those of extra NATS servers)."""
    return sorted(path for path in root.rglob("*.log") if path.is_file())


def find_leaks(paths: Iterable[Path], values: Iterable[str] = (), *, shapes: bool = True) -> list[Leak]:
    """Lines of these files holding one of `values` (exact, e.g. the NIKs and phone numbers a test used) or, with
    `shapes`, any NIK- or phone-shaped value."""
    exact = sorted({value for value in values if value}, key=len, reverse=True)
    leaks: list[Leak] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                # a URL-encoded value (a GET's query string: `%22<nik>%22`) is searched decoded as well
                texts = (line, unquote_plus(line)) if "%" in line else (line,)
                for kind, shape in SHAPES.items() if shapes else ():
                    if any(shape.search(text) for text in texts):
                        leaks.append(Leak(path, number, kind))
                if any(value in text for value in exact for text in texts):
                    leaks.append(Leak(path, number, "value used by the test"))
    return leaks
