"""Realistic synthetic workers and families for demo data and benchmarks (seeded: the same seed makes the same
people, so a demo load or a benchmark file can be made again, and importing it again adds nothing).

Distributions follow the programme's published placement figures (docs/registry.md, "Synthetic data"): the top sending
provinces Jawa Timur, Jawa Tengah, Jawa Barat, NTB and Lampung; about two thirds women; ages 18-55; mostly
SMP/SMA/SMK; destinations Hong Kong, Taiwan, Malaysia, Japan, Singapore, South Korea, Saudi Arabia; P to P for most
placements, G to G to Japan and Korea, a few percent non-procedural. NIKs agree with the village's district, the birth
date and the sex, and are unique by construction (a serial per district and birth date). Names come from Faker
`id_ID`, drawn once into pools (Faker costs tens of microseconds a name; a million rows combine the pools instead).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from demimas_registry.adapters.villages import iter_villages
from demimas_registry.importer.template import COLUMNS

__all__ = ["ANCHOR", "SyntheticFamilyMember", "SyntheticWorkers", "seed_musi_banyuasin", "write_csv"]

# "Today" of the generated world: fixed so that a seed always makes the same rows, never later than the real today
# so that no generated date lies in the future.
ANCHOR = dt.date(2026, 11, 1)
Weighted = list[tuple[str, float]]

PROVINCES: Weighted = [("35", 30), ("33", 25), ("32", 18), ("52", 10), ("18", 6)]  # the rest share 11
OTHER_PROVINCES_WEIGHT = 11.0
DESTINATIONS: Weighted = [("TW", 25), ("HK", 22), ("MY", 20), ("JP", 8), ("SG", 5), ("KR", 5), ("SA", 4),
                          ("AE", 2), ("BN", 2), ("QA", 1), ("TR", 1), ("BG", 1), ("PL", 1), ("DE", 1)]  # fmt: skip
# Typical jobs per destination; domestic work is informal (an individual employer), the rest formal.
JOBS: dict[str, Weighted] = {
    "HK": [("Housemaid", 80), ("Caregiver", 20)],
    "TW": [("Caregiver", 45), ("Factory operator", 35), ("Fishing crew", 10), ("Housemaid", 10)],
    "MY": [("Plantation worker", 30), ("Factory operator", 30), ("Construction worker", 15), ("Housemaid", 25)],
    "SG": [("Housemaid", 85), ("Caregiver", 15)],
    "JP": [("Caregiver", 35), ("Factory operator", 40), ("Construction worker", 15), ("Fishing crew", 10)],
    "KR": [("Factory operator", 75), ("Fishing crew", 25)],
    "SA": [("Housemaid", 70), ("Driver", 30)],
}
OTHER_JOBS: Weighted = [("Housemaid", 30), ("Factory operator", 30), ("Hospitality worker", 20),
                        ("Construction worker", 20)]  # fmt: skip
# KBJI 2014 unit groups of the jobs (KBJI 2014 adopts ISCO-08's structure; these are the ISCO-08 unit groups of the
# same titles): domestic helpers 9111, home-based care 5322, plant operators 8189, deep-sea fishery 6223, building
# labourers 9313, car drivers 8322, crop farm labourers 9211, waiters 5131, beauticians 5142, hotel cleaners 9112,
# manufacturing labourers 9329.
OCCUPATION_CODES: dict[str, str] = {
    "Housemaid": "9111", "Caregiver": "5322", "Factory operator": "8189", "Production operator": "8189",
    "Fishing crew": "6223", "Construction worker": "9313", "Driver": "8322", "Plantation worker": "9211",
    "Hospitality worker": "5131", "Spa therapist": "5142", "Hotel staff": "9112", "General worker": "9329",
}  # fmt: skip
MEN_JOBS = {"Fishing crew", "Construction worker", "Driver", "Plantation worker"}
INFORMAL_JOBS = {"Housemaid", "Caregiver"}
# Among procedural placements (2024: P to P 236k, independent 21.6k, G to G 10.5k) with UKPS a little.
SCHEMES: Weighted = [("P_TO_P", 80), ("INDEPENDENT", 8), ("G_TO_G", 4), ("UKPS", 2)]
NON_PROCEDURAL_SHARE = 0.06
EDUCATION: Weighted = [("SD", 10), ("SMP", 30), ("SMA", 30), ("SMK", 22), ("DIPLOMA", 5), ("S1", 3)]
RETURN_REASONS: Weighted = [("CONTRACT_ENDED", 75), ("TERMINATED_EARLY", 8), ("FAMILY", 6), ("HEALTH", 4),
                            ("PROTECTION_CASE", 4), ("DEPORTED", 3)]  # fmt: skip
MOBILE_PREFIXES = ["811", "812", "813", "821", "822", "823", "852", "853", "856", "857", "858", "877", "878",
                   "895", "896", "838", "881", "882"]  # fmt: skip


def _pick(rng: random.Random, weighted: Weighted) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _name_pools(seed: int) -> dict[bool, tuple[list[str], list[str]]]:
    """(first names, last names) for women (True) and men (False)."""
    from faker import Faker

    fake = Faker("id_ID")
    fake.seed_instance(seed)
    draws = range(800)
    return {
        True: (sorted({fake.first_name_female() for _ in draws}), sorted({fake.last_name_female() for _ in draws})),
        False: (sorted({fake.first_name_male() for _ in draws}), sorted({fake.last_name_male() for _ in draws})),
    }


@dataclass(frozen=True, slots=True)
class SyntheticFamilyMember:
    """A family member of a generated worker; children carry a parent's consent (UU 27/2022 Pasal 25)."""

    nik: str
    """The worker's NIK (the stable key of a generated worker)."""
    relation: str
    full_name: str
    birth_date: dt.date


class SyntheticWorkers:
    """Rows in the import template's columns (`row`, `rows`) and families for them (`family`)."""

    def __init__(self, seed: int = 2026, today: dt.date | None = None) -> None:
        self.seed = seed
        self.today = today or min(ANCHOR, dt.date.today())
        self.rng = random.Random(seed)
        self.names = _name_pools(seed)
        by_province: dict[str, list[str]] = {}
        for village in iter_villages():
            code = str(village[0])
            by_province.setdefault(code[:2], []).append(code)
        self.villages = by_province
        others = [p for p in sorted(by_province) if p not in dict(PROVINCES)]
        self.provinces = [p for p, _ in PROVINCES] + others
        self.province_weights = [w for _, w in PROVINCES] + [OTHER_PROVINCES_WEIGHT / len(others)] * len(others)
        self.serials: dict[str, int] = {}

    # -- people ----------------------------------------------------------------------------------------------------
    def nik(self, village: str, born: dt.date, female: bool) -> str | None:
        """District of the village, birth date (day + 40 for women), then the next free serial (None when all
        9,999 serials of that district and day are taken)."""
        key = f"{village[:2]}{village[3:5]}{village[6:8]}{born.day + (40 if female else 0):02d}{born:%m%y}"
        serial = self.serials.get(key, 0) + 1
        if serial > 9999:
            return None
        self.serials[key] = serial
        return f"{key}{serial:04d}"

    def name(self, female: bool) -> str:
        first, last = self.names[female]
        return f"{self.rng.choice(first)} {self.rng.choice(last)}"

    def phone(self) -> str:
        return f"+62{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**7, 10**8)}"

    def village(self) -> str:
        province = self.rng.choices(self.provinces, weights=self.province_weights)[0]
        return self.rng.choice(self.villages[province])

    def _days_ago(self, low: int, high: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(low, high))

    # -- rows ------------------------------------------------------------------------------------------------------
    def row(self, village: str | None = None, *, status: str | None = None, destination: str | None = None,
            occupation: str | None = None, female: bool | None = None) -> dict[str, str]:  # fmt: skip
        rng = self.rng
        village = village or self.village()
        female = rng.random() < 0.65 if female is None else female
        nik = None
        while nik is None:
            born = self._days_ago(18 * 365 + 30, 55 * 365)
            nik = self.nik(village, born, female)
        row = dict.fromkeys((c.name for c in COLUMNS), "")
        row |= {
            "nik": nik,
            "full_name": self.name(female),
            "sex": "FEMALE" if female else "MALE",
            "birth_date": born.isoformat(),
            "education_level": _pick(rng, EDUCATION),
            "village_code": village,
            "phone": self.phone(),
            "status": status or _pick(rng, [("CANDIDATE", 20), ("ABROAD", 60), ("RETURNED", 20)]),
        }
        if row["status"] != "CANDIDATE":
            row |= self._departure(born, female, destination, occupation)
        if row["status"] == "RETURNED":
            departed = dt.date.fromisoformat(row["departure_date"])
            back = min(self.today, departed + dt.timedelta(days=rng.randint(90, 800)))
            row |= {"return_date": back.isoformat(), "return_reason": _pick(rng, RETURN_REASONS)}
        return row

    def _departure(self, born: dt.date, female: bool, country: str | None, job: str | None) -> dict[str, str]:
        rng = self.rng
        procedural = rng.random() >= NON_PROCEDURAL_SHARE
        # Non-procedural departures leave on a tourist visa, alone or through an unlicensed recruiter.
        scheme = _pick(rng, SCHEMES) if procedural else rng.choice(["INDEPENDENT", "P_TO_P"])
        if country is None:
            country = rng.choice(["JP", "KR"]) if scheme == "G_TO_G" else _pick(rng, DESTINATIONS)
            # Hong Kong and Singapore recruit domestic workers, nearly all women.
            while not female and country in ("HK", "SG") and rng.random() < 0.9:
                country = _pick(rng, DESTINATIONS)
        if job is None:
            # Few women work on boats and building sites, few men as housemaids: redraw such a pick most times.
            job = _pick(rng, JOBS.get(country, OTHER_JOBS))
            while (job in MEN_JOBS if female else job in INFORMAL_JOBS) and rng.random() < 0.9:
                job = _pick(rng, JOBS.get(country, OTHER_JOBS))
        adult = born + dt.timedelta(days=18 * 366)
        departed = max(adult, self._days_ago(0, 6 * 365))
        informal = job in INFORMAL_JOBS and country != "JP"  # Japan's caregivers work for care institutions
        return {
            "destination_country": country,
            "sector": "INFORMAL" if informal else "FORMAL",
            "occupation": job,
            "occupation_code": OCCUPATION_CODES.get(job, ""),
            "scheme": scheme,
            "procedural": "true" if procedural else "false",
            "departure_date": departed.isoformat(),
            "contract_end": (departed + dt.timedelta(days=730)).isoformat(),
        }

    def rows(self, n: int) -> Iterator[dict[str, str]]:
        for _ in range(n):
            yield self.row()

    # -- families --------------------------------------------------------------------------------------------------
    def family(self, row: dict[str, str]) -> list[SyntheticFamilyMember]:
        """Spouse, children and parents of a generated worker (some have none), all born before today."""
        rng, nik = self.rng, row["nik"]
        born, female = dt.date.fromisoformat(row["birth_date"]), row["sex"] == "FEMALE"
        age = (self.today - born).days // 365
        members: list[SyntheticFamilyMember] = []
        if age >= 21 and rng.random() < 0.6:
            # Husbands tend to be a few years older than their wives.
            gap = dt.timedelta(days=rng.randint(-2 * 365, 8 * 365))
            spouse_born = min(born - gap if female else born + gap, self.today - dt.timedelta(days=19 * 366))
            members.append(SyntheticFamilyMember(nik, "SPOUSE", self.name(not female), spouse_born))
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3]) if age >= 22 else 0):
                child_born = self._days_ago(30, min(age - 19, 30) * 365)
                members.append(SyntheticFamilyMember(nik, "CHILD", self.name(rng.random() < 0.5), child_born))
        if rng.random() < 0.3:
            parent_born = born - dt.timedelta(days=rng.randint(20 * 365, 35 * 365))
            members.append(SyntheticFamilyMember(nik, "PARENT", self.name(rng.random() < 0.6), parent_born))
        return members


def seed_musi_banyuasin(gen: SyntheticWorkers | None = None) -> Iterator[dict[str, str]]:
    """The seed villages (the Musi Banyuasin proposal of 25 Nov 2025), both in Musi Banyuasin (16.06): Ulak Paceh
    (16.06.13.2001), 17 residents in Malaysia as production operators and general workers; Tebing Bulang
    (16.06.03.2008), 13 residents in Turkey, Bulgaria, Dubai (UAE) and Hong Kong. Mostly SMA/SMK graduates."""
    gen = gen or SyntheticWorkers()
    for i in range(17):
        job = "Production operator" if i % 3 else "General worker"
        row = gen.row("16.06.13.2001", status="ABROAD", destination="MY", occupation=job, female=i % 3 != 0)
        row |= {"education_level": ("SMK", "SMA", "SMK", "SMP")[i % 4] if i < 16 else "SMA",
                "sector": "FORMAL", "scheme": "P_TO_P", "procedural": "true"}  # fmt: skip
        yield row
    jobs = {"TR": "Spa therapist", "BG": "Hotel staff", "AE": "Hospitality worker", "HK": "Housemaid"}
    for i, country in enumerate(["TR"] * 4 + ["BG"] * 3 + ["AE"] * 3 + ["HK"] * 3):
        row = gen.row("16.06.03.2008", status="ABROAD", destination=country, occupation=jobs[country], female=True)
        row |= {"education_level": ("SMA", "SMK", "SMA", "SMP")[i % 4], "scheme": "P_TO_P", "procedural": "true",
                "sector": "INFORMAL" if country == "HK" else "FORMAL"}  # fmt: skip
        yield row


def write_csv(path: Path, rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c.name for c in COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
