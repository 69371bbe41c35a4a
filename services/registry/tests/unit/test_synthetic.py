"""The synthetic generator makes rows the registry accepts, with the distributions docs/registry.md describes, and the
exact seed villages of the Musi Banyuasin proposal."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from demimas_registry.domain.validation import check_nik
from demimas_registry.domain.vocabulary import Sex
from demimas_registry.importer.rows import ImportRecord, parse_row
from demimas_registry.synthetic import SyntheticWorkers, seed_musi_banyuasin

N = 3000


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return list(SyntheticWorkers(seed=11).rows(N))


def share(rows: list[dict[str, str]], key: str, value: str) -> float:
    return sum(1 for r in rows if r[key] == value) / len(rows)


def test_every_row_is_accepted_by_the_import_rules(rows: list[dict[str, str]]) -> None:
    results = [parse_row(i, r, today=dt.date.today()) for i, r in enumerate(rows, start=2)]
    assert [r for r in results if not isinstance(r, ImportRecord)] == []


def test_niks_agree_with_district_birth_date_and_sex_and_are_unique(rows: list[dict[str, str]]) -> None:
    for r in rows:
        sex = Sex(r["sex"])
        check_nik(r["nik"], sex=sex, birth_date=dt.date.fromisoformat(r["birth_date"]))
        assert r["nik"][:6] == r["village_code"].replace(".", "")[:6]
    assert len({r["nik"] for r in rows}) == len(rows)


def test_distributions_follow_the_statistics(rows: list[dict[str, str]]) -> None:
    assert 0.60 < share(rows, "sex", "FEMALE") < 0.70
    assert 0.55 < share(rows, "status", "ABROAD") < 0.65
    top_provinces = sum(1 for r in rows if r["village_code"][:2] in {"35", "33", "32", "52", "18"}) / N
    assert 0.83 < top_provinces < 0.95
    departed = [r for r in rows if r["status"] != "CANDIDATE"]
    assert 0.03 < share(departed, "procedural", "false") < 0.09
    assert 0.72 < share(departed, "scheme", "P_TO_P") < 0.90
    top = {c for c, _ in Counter(r["destination_country"] for r in departed).most_common(3)}
    assert top == {"TW", "HK", "MY"}
    education = Counter(r["education_level"] for r in rows)
    assert (education["SMP"] + education["SMA"] + education["SMK"]) / N > 0.7
    housemaids = [r for r in departed if r["occupation"] == "Housemaid"]
    assert share(housemaids, "sector", "INFORMAL") == 1.0
    assert share(housemaids, "sex", "FEMALE") > 0.9


def test_ages_and_dates_lie_in_the_past(rows: list[dict[str, str]]) -> None:
    today = dt.date.today()
    for r in rows:
        born = dt.date.fromisoformat(r["birth_date"])
        assert 18 <= (today - born).days // 365.25 <= 56
        for column in ("departure_date", "return_date"):
            if r[column]:
                assert born < dt.date.fromisoformat(r[column]) <= today
        if r["return_date"]:
            assert r["return_date"] >= r["departure_date"]


def test_the_same_seed_makes_the_same_rows() -> None:
    assert list(SyntheticWorkers(seed=5).rows(20)) == list(SyntheticWorkers(seed=5).rows(20))


def test_families_have_plausible_ages() -> None:
    gen = SyntheticWorkers(seed=3)
    today = dt.date.today()
    relations: Counter[str] = Counter()
    for row in gen.rows(500):
        born = dt.date.fromisoformat(row["birth_date"])
        for member in gen.family(row):
            relations[member.relation] += 1
            assert member.birth_date < today
            if member.relation == "CHILD":
                assert (member.birth_date - born).days > 18 * 365
            if member.relation == "PARENT":
                assert member.birth_date < born
            if member.relation == "SPOUSE":
                assert (today - member.birth_date).days > 18 * 365
    assert set(relations) == {"SPOUSE", "CHILD", "PARENT"}


def test_seed_villages_are_exact() -> None:
    seeds = list(seed_musi_banyuasin(SyntheticWorkers(seed=1)))
    ulak = [r for r in seeds if r["village_code"] == "16.06.13.2001"]
    tebing = [r for r in seeds if r["village_code"] == "16.06.03.2008"]
    assert len(seeds) == 30
    assert len(ulak) == 17
    assert {(r["status"], r["destination_country"], r["sector"], r["scheme"], r["procedural"]) for r in ulak} == {
        ("ABROAD", "MY", "FORMAL", "P_TO_P", "true")
    }
    assert {r["occupation"] for r in ulak} == {"Production operator", "General worker"}
    assert len(tebing) == 13
    assert Counter(r["destination_country"] for r in tebing) == {"TR": 4, "BG": 3, "AE": 3, "HK": 3}
    assert {r["status"] for r in tebing} == {"ABROAD"}
    for village in (ulak, tebing):
        assert sum(1 for r in village if r["education_level"] in ("SMA", "SMK")) / len(village) > 0.6
    results = [parse_row(i, r, today=dt.date.today()) for i, r in enumerate(seeds)]
    assert all(isinstance(r, ImportRecord) for r in results)
