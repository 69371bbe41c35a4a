"""Generated registry rows for the scale simulation (`bench/scale.py`): workers, departures, returns and family
members as ready-to-COPY tuples in the registry's columns, seeded (the same seed and size make the same people).

Distributions (DOMAIN.md, BP2MI placement statistics):
- **Where.** Every one of the Kemendagri villages may have workers. A province's share follows the sending
  provinces (Jawa Timur, Jawa Tengah, Jawa Barat, NTB, Lampung, Sumatera Utara, Bali, NTT, Banten, ...; the other
  provinces share a few percent); inside a province each regency draws a log-normal factor (sending regencies such
  as Indramayu or Lombok Timur stand out) and each village another (heavier tailed; the product capped at 15 times
  the median, a few thousand workers in the busiest villages), kelurahan (towns) a third of a desa's. Village
  counts are then fixed exactly (largest remainders) and the workers' order shuffled, so that a village's rows
  are spread over the table as registrations over the years would be.
- **Who.** About two thirds women; ages 18-55, most in their twenties and thirties; SD to S1 as in
  `demimas_registry.synthetic`; most with a phone, many with an address; a passport for those who departed.
- **Status.** 12% prospective (CANDIDATE), 58% abroad, 30% returned; a fifth of those who departed had an earlier
  departure and return (circular migration), so departures and returns hold more rows than workers who moved.
  Destinations, jobs per destination, sectors, schemes and the non-procedural share are those of the synthetic
  generator the registry's demo and benchmarks use; the latest departure decides the village counters.
- **Families.** 0-4 members per worker (23/31/25/14/7%), 1.5 on average, exactly `family_target` in all: a spouse
  for most workers from 21, children born after the worker turned 19 (minors with a parent's or guardian's consent,
  UU 27/2022 Pasal 25), parents 18-40 years older.
- **NIK.** District of the village, birth date (day + 40 for women), and a serial that counts per district, sex and
  birth year: unique by construction, valid for `lokal-id` (existing province and district, real date, serial
  not 0000), agreeing with the worker's sex and birth date.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from uuid_utils import uuid7

from demimas_registry.adapters.villages import iter_villages
from demimas_registry.synthetic import (
    ANCHOR,
    DESTINATIONS,
    EDUCATION,
    INFORMAL_JOBS,
    JOBS,
    MEN_JOBS,
    MOBILE_PREFIXES,
    NON_PROCEDURAL_SHARE,
    OCCUPATION_CODES,
    OTHER_JOBS,
    RETURN_REASONS,
    SCHEMES,
)

__all__ = ["FAMILY_COLUMNS", "PROVINCE_SHARES", "Chunk", "Generator", "VillageRef", "village_counts", "villages"]

Row = tuple[Any, ...]
FAMILY_COLUMNS = ("id", "worker_id", "relation", "full_name", "birth_date", "minor", "consent_given_by",
                  "consent_date", "consent_basis", "created_at")  # fmt: skip
# Shares of placements by province of origin (percent; BP2MI 2023-2024, rounded); the rest share OTHERS.
PROVINCE_SHARES = {"35": 25.0, "33": 21.0, "32": 19.0, "52": 11.0, "18": 6.0, "12": 4.0, "51": 2.5, "53": 2.0,
                   "36": 2.0, "16": 1.3, "34": 1.0, "61": 1.0, "73": 1.0}  # fmt: skip
OTHERS = 3.2
STATUS_SHARES = (("CANDIDATE", 0.12), ("ABROAD", 0.58), ("RETURNED", 0.30))
CIRCULAR_SHARE = 0.2
FAMILY_SIZES = ((0, 0.23), (1, 0.31), (2, 0.25), (3, 0.14), (4, 0.07))
MAX_FACTOR = 15.0
CREATORS = (("DISNAKER", 80), ("BP3MI", 15), ("KP2MI", 5))
CONSENT_BASIS = "Formulir persetujuan orang tua/wali (UU 27/2022 Pasal 25)"
EMPLOYERS = ["Sdn Bhd", "Co., Ltd.", "Corporation", "Kabushiki Kaisha", "Pte Ltd", "LLC", "Ltd"]
WIB = dt.timezone(dt.timedelta(hours=7))


class Picker:
    """A weighted choice by one uniform draw and a bisection (random.choices rebuilds its tables per call)."""

    def __init__(self, weighted: Sequence[tuple[Any, float]]) -> None:
        self.values = [v for v, _ in weighted]
        total, cum = 0.0, []
        for _, w in weighted:
            total += w
            cum.append(total)
        self.cum, self.total = cum, total

    def __call__(self, rnd: float) -> Any:
        return self.values[min(bisect(self.cum, rnd * self.total), len(self.values) - 1)]


@dataclass(slots=True)
class Chunk:
    workers: list[Row] = field(default_factory=list)
    departures: list[Row] = field(default_factory=list)
    returns: list[Row] = field(default_factory=list)
    family: list[Row] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VillageRef:
    code: str
    district: str  # 6 digits, the NIK's area
    district_index: int
    kind: str


def villages() -> list[VillageRef]:
    """Every Kemendagri village (desa and kelurahan) with its district: what `village_counts` weighs."""
    districts: dict[str, int] = {}
    out = []
    for row in iter_villages():
        code, kind = str(row[0]), str(row[2])
        district = code[:8].replace(".", "")
        out.append(VillageRef(code, district, districts.setdefault(district, len(districts)), kind))
    return out


def village_counts(villages: Sequence[VillageRef], total: int, rng: random.Random) -> list[int]:
    """Workers per village, summing to `total` exactly: province share x log-normal regency factor x log-normal
    village factor (x 1/3 for a kelurahan), rounded by largest remainders."""
    provinces = sorted({v.code[:2] for v in villages})
    others = [p for p in provinces if p not in PROVINCE_SHARES]
    share = {p: PROVINCE_SHARES.get(p, OTHERS / len(others)) for p in provinces}
    regency_factor: dict[str, float] = {}
    raw: list[float] = []
    for v in villages:
        regency = v.code[:5]
        if regency not in regency_factor:
            regency_factor[regency] = rng.lognormvariate(0, 0.6)
        # capped: the busiest "kantong PMI" villages hold a few thousand workers, not tens of thousands
        factor = min(MAX_FACTOR, regency_factor[regency] * rng.lognormvariate(0, 0.9))
        raw.append(factor * (1 / 3 if v.kind == "KELURAHAN" else 1.0))
    by_province: dict[str, float] = {}
    for v, w in zip(villages, raw, strict=True):
        by_province[v.code[:2]] = by_province.get(v.code[:2], 0.0) + w
    share_total = sum(share.values())
    expected = [
        total * share[v.code[:2]] / share_total * w / by_province[v.code[:2]]
        for v, w in zip(villages, raw, strict=True)
    ]
    counts = [math.floor(e) for e in expected]
    short = total - sum(counts)
    by_remainder = sorted(range(len(villages)), key=lambda i: counts[i] - expected[i])
    for i in by_remainder[:short]:
        counts[i] += 1
    return counts


class Generator:
    """`chunks(size)` yields the rows of `workers` workers and `family_target` family members in order."""

    def __init__(self, workers: int, family_target: int, *, seed: int = 2026, today: dt.date | None = None) -> None:
        self.rng = rng = random.Random(seed)
        self.today = today or min(ANCHOR, dt.date.today())
        self.villages = villages()
        self.counts = village_counts(self.villages, workers, rng)
        order: list[int] = []
        for index, n in enumerate(self.counts):
            order += [index] * n
        rng.shuffle(order)
        self.order = order
        self.workers, self.family_target = workers, family_target
        self.names = self._name_pools(seed)
        # days, as ordinals, from the oldest birth date to today: dates, NIK digits and timestamps by index
        self.base = (self.today - dt.timedelta(days=120 * 366)).toordinal()
        days = range(self.base, self.today.toordinal() + 1)
        self.dates = [dt.date.fromordinal(o) for o in days]
        self.nik_male = [f"{d.day:02d}{d.month:02d}{d.year % 100:02d}" for d in self.dates]
        self.nik_female = [f"{d.day + 40:02d}{d.month:02d}{d.year % 100:02d}" for d in self.dates]
        self.stamps = [dt.datetime(d.year, d.month, d.day, 9, tzinfo=WIB) for d in self.dates]
        self.serials: dict[int, int] = {}
        self.family_carry = 0
        self.family_made = 0
        self.pick_status = Picker(STATUS_SHARES)
        self.pick_family = Picker(FAMILY_SIZES)
        self.pick_education = Picker(EDUCATION)
        self.pick_destination = Picker(DESTINATIONS)
        self.pick_scheme = Picker(SCHEMES)
        self.pick_reason = Picker(RETURN_REASONS)
        self.pick_creator = Picker(CREATORS)
        self.pick_job = {country: Picker(jobs) for country, jobs in JOBS.items()}
        self.pick_other_job = Picker(OTHER_JOBS)

    @staticmethod
    def _name_pools(seed: int) -> dict[bool, tuple[list[str], list[str]]]:
        from faker import Faker

        fake = Faker("id_ID")
        fake.seed_instance(seed)
        draws = range(1500)
        return {
            True: (sorted({fake.first_name_female() for _ in draws}), sorted({fake.last_name_female() for _ in draws})),
            False: (sorted({fake.first_name_male() for _ in draws}), sorted({fake.last_name_male() for _ in draws})),
        }

    # -- one worker ------------------------------------------------------------------------------------------------
    def _name(self, female: bool) -> str:
        first, last = self.names[female]
        rng = self.rng
        return f"{first[int(rng.random() * len(first))]} {last[int(rng.random() * len(last))]}"

    def _nik(self, village: VillageRef, born: int, female: bool) -> str | None:
        year = self.dates[born - self.base].year
        key = ((village.district_index * 2 + female) << 8) | (year % 256)
        serial = self.serials.get(key, 0) + 1
        if serial > 9999:
            return None
        self.serials[key] = serial
        digits = (self.nik_female if female else self.nik_male)[born - self.base]
        return f"{village.district}{digits}{serial:04d}"

    def _departure(self, worker_id: Any, female: bool, left: int) -> Row:
        rng = self.rng
        procedural = rng.random() >= NON_PROCEDURAL_SHARE
        scheme = self.pick_scheme(rng.random()) if procedural else ("INDEPENDENT" if rng.random() < 0.5 else "P_TO_P")
        if scheme == "G_TO_G":
            country = "JP" if rng.random() < 0.5 else "KR"
        else:
            country = self.pick_destination(rng.random())
            while not female and country in ("HK", "SG") and rng.random() < 0.9:
                country = self.pick_destination(rng.random())
        jobs = self.pick_job.get(country, self.pick_other_job)
        job = jobs(rng.random())
        while (job in MEN_JOBS if female else job in INFORMAL_JOBS) and rng.random() < 0.9:
            job = jobs(rng.random())
        informal = job in INFORMAL_JOBS and country != "JP"
        employer = None
        if not informal and rng.random() < 0.8:
            employer = f"{self._name(False).split()[1]} {EMPLOYERS[int(rng.random() * len(EMPLOYERS))]}"
        contract_end = dt.date.fromordinal(left + 730) if procedural else None
        return (uuid7(), worker_id, country, "INFORMAL" if informal else "FORMAL", job, scheme, procedural, employer,
                self.dates[left - self.base], contract_end, OCCUPATION_CODES.get(job),
                self.stamps[left - self.base])  # fmt: skip

    def _worker(self, index: int, chunk: Chunk) -> None:
        rng, today = self.rng, self.today.toordinal()
        village = self.villages[self.order[index]]
        female = rng.random() < 0.65
        status = self.pick_status(rng.random())
        low = 18.05 if status == "CANDIDATE" else 19.5
        nik = None
        while nik is None:
            born = today - int(rng.triangular(low, 55.0, 26.0) * 365.25)
            nik = self._nik(village, born, female)
        adult = born + int(18 * 365.25) + 1
        wid = uuid7()
        moves: list[Row] = []
        rets: list[Row] = []
        registered = max(adult, today - int(rng.random() * 400))
        if status != "CANDIDATE":
            if status == "ABROAD":
                left = max(adult + 30, today - int(rng.random() * 1400))
                back = None
            else:
                back = max(adult + 150, today - int(rng.random() * 6 * 365))
                back = min(back, today)
                left = max(adult + 30, back - 90 - int(rng.random() * 710))
            earlier = left - 700 - int(rng.random() * 800)
            if rng.random() < CIRCULAR_SHARE and earlier > adult + 30:
                first = self._departure(wid, female, earlier)
                moves.append(first)
                came = min(left - 30, earlier + 600 + int(rng.random() * 160))
                rets.append((uuid7(), wid, first[0], self.dates[came - self.base], "CONTRACT_ENDED", None,
                             self.stamps[came - self.base]))  # fmt: skip
            latest = self._departure(wid, female, left)
            moves.append(latest)
            if back is not None:
                reason = self.pick_reason(rng.random())
                rets.append((uuid7(), wid, latest[0], self.dates[back - self.base], reason, None,
                             self.stamps[back - self.base]))  # fmt: skip
            registered = min(registered, moves[0][8].toordinal() - 30 - int(rng.random() * 200))
            registered = max(registered, adult)
        updated = max([registered] + [m[8].toordinal() for m in moves] + [r[3].toordinal() for r in rets])
        phone = None
        if rng.random() < 0.85:
            phone = (
                f"+62{MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]}{10_000_000 + int(rng.random() * 9e7)}"
            )
        address = None
        if rng.random() < 0.7:
            rt, rw = 1 + int(rng.random() * 12), 1 + int(rng.random() * 6)
            address = f"Dusun {1 + int(rng.random() * 6)} RT {rt:03d}/RW {rw:03d}"
        passport = f"{'CBEX'[int(rng.random() * 4)]}{index:08d}" if moves and rng.random() < 0.9 else None
        chunk.workers.append((
            wid, nik, self._name(female), "FEMALE" if female else "MALE", self.dates[born - self.base],
            self.pick_education(rng.random()), phone, address, passport, village.code, status,
            1 + len(moves) + len(rets), [], moves[-1][0] if moves else None, self.pick_creator(rng.random()),
            self.stamps[registered - self.base], self.stamps[updated - self.base],
        ))  # fmt: skip
        chunk.departures += moves
        chunk.returns += rets
        self._family(wid, born, female, registered, chunk)

    def _family(self, wid: Any, born: int, female: bool, registered: int, chunk: Chunk) -> None:
        rng, today, base = self.rng, self.today.toordinal(), self.base
        age = (today - born) / 365.25
        wanted = self.pick_family(rng.random()) + self.family_carry
        remaining = self.family_target - self.family_made
        cap = 2 if age < 21 else 4
        n = min(wanted, cap, remaining)
        self.family_carry = wanted - n if remaining > n else 0
        if n == 0:
            return
        relations: list[str] = []
        if age >= 21 and rng.random() < 0.85:
            relations.append("SPOUSE")
        parents = 2 if age < 21 else (1 if rng.random() < 0.35 else 0)
        for _ in range(n - len(relations)):
            if parents and (age < 21 or rng.random() < 0.4):
                relations.append("PARENT")
                parents -= 1
            else:
                relations.append("CHILD" if age >= 21 else "PARENT")
        recorded = self.stamps[max(registered, today - int(rng.random() * 900)) - base]
        adult_at = born + int(19 * 365.25)
        for relation in relations[:n]:
            consent: tuple[str | None, dt.date | None, str | None] = (None, None, None)
            if relation == "SPOUSE":
                gap = int((rng.random() * 10 - 2) * 365.25)
                when = born - gap if female else born + gap
                when = min(when, today - int(19 * 365.25))
                name = self._name(not female)
            elif relation == "PARENT":
                when = born - int((18 + rng.random() * 22) * 365.25)
                name = self._name(rng.random() < 0.6)
            else:
                when = adult_at + int(rng.random() * max(30, min(today - 30, born + 45 * 365) - adult_at))
                when = min(when, today - 30)
                name = self._name(rng.random() < 0.5)
            birth = self.dates[when - base]
            minor = _age(birth, self.today) < 18
            if minor:
                given = "PARENT" if rng.random() < 0.95 else "GUARDIAN"
                consent = (given, max(birth, recorded.date()), CONSENT_BASIS)
            chunk.family.append((uuid7(), wid, relation, name, birth, minor, *consent, recorded))
        self.family_made += n

    # -- chunks ----------------------------------------------------------------------------------------------------
    def chunks(self, size: int) -> Iterator[Chunk]:
        for start in range(0, self.workers, size):
            chunk = Chunk()
            for index in range(start, min(start + size, self.workers)):
                self._worker(index, chunk)
            yield chunk


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
