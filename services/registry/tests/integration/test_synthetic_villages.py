"""Synthetic rows written by this session's tests go to fresh villages (conftest's autouse fixture): a village any
test counts as its own is never also a random synthetic row's, while a seeded generator still gives the same rows."""

from __future__ import annotations

import pytest

from demimas_registry.synthetic import SyntheticWorkers

from .conftest import fresh_village

pytestmark = pytest.mark.integration


def test_synthetic_rows_are_placed_in_fresh_villages_the_same_for_the_same_seed() -> None:
    rows = list(SyntheticWorkers(seed=101).rows(50))
    codes = {r["village_code"] for r in rows}
    assert all(c in fresh_village._used and not fresh_village.reserved(c) for c in codes)
    assert [r["village_code"] for r in SyntheticWorkers(seed=101).rows(50)] == [r["village_code"] for r in rows]
    assert [r["nik"] for r in SyntheticWorkers(seed=101).rows(50)] == [r["nik"] for r in rows]
    assert fresh_village() not in codes  # and what is handed out next is none of them
