"""Integration tests' random villages never land in a district an end-to-end test or an example names."""

from __future__ import annotations

from pathlib import Path

from demimas_common.devstack.fresh_villages import FreshVillages, reserved_districts

ROOT = Path(__file__).resolve().parents[4]


def test_the_districts_the_end_to_end_tests_use_are_reserved() -> None:
    reserved = reserved_districts(ROOT)
    # Talang Piase's district (the cases statistics test expects its figures to start at zero) and the guide's
    assert {"16.06.13", "16.06.02", "33.07.01"} <= reserved


def test_fresh_villages_are_distinct_real_codes_outside_reserved_districts() -> None:
    fresh = FreshVillages(ROOT, seed=7)
    codes = [fresh("16.06") for _ in range(40)] + [fresh() for _ in range(40)]
    assert len(set(codes)) == len(codes)
    assert all(not fresh.reserved(c) and len(c) == 13 for c in codes)
    assert all(c.startswith("16.06.") for c in codes[:40])


def test_two_generators_never_hand_out_the_same_village() -> None:
    """Each service's conftest has its own generator; in one session they share what was handed out."""
    one, two = FreshVillages(ROOT, seed=3), FreshVillages(ROOT, seed=3)
    first = [one("33.07") for _ in range(20)]
    second = [two("33.07") for _ in range(20)]
    assert not set(first) & set(second)
