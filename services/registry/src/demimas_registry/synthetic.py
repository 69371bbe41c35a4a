"""Realistic synthetic workers for demo data and benchmarks (seeded, so every run makes the same people).

Distributions follow DOMAIN.md: top sending provinces Jawa Timur, Jawa Tengah, Jawa Barat, NTB, Lampung; about
two thirds women; destinations Hong Kong, Taiwan, Malaysia, Japan, Singapore, South Korea, Saudi Arabia; P to P
for most placements, a few percent non-procedural. NIKs agree with the village's district, birth date and sex,
and are unique by construction (a serial per district and birth date).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from demimas_registry.adapters.villages import iter_villages
from demimas_registry.importer.template import COLUMNS

__all__ = ["SyntheticWorkers", "seed_musi_banyuasin", "write_csv"]

PROVINCE_WEIGHTS = {"35": 30, "33": 25, "32": 18, "52": 10, "18": 6}  # others share the remaining 11
DESTINATIONS = [("HK", 22), ("TW", 25), ("MY", 20), ("JP", 8), ("SG", 5), ("KR", 5), ("SA", 4), ("AE", 2),
                ("TR", 1), ("BG", 1), ("BN", 2), ("QA", 1), ("PL", 1), ("DE", 1)]  # fmt: skip
OCCUPATIONS = {
    "INFORMAL": ["Penata laksana rumah tangga", "Caregiver", "Perawat lansia"],
    "FORMAL": ["Operator produksi", "Pekerja perkebunan", "Anak buah kapal", "Pekerja konstruksi", "Pekerja umum"],
}
SCHEMES = [("P_TO_P", 82), ("G_TO_G", 4), ("INDEPENDENT", 10), ("UKPS", 4)]
EDUCATION = [("SD", 12), ("SMP", 30), ("SMA", 28), ("SMK", 22), ("DIPLOMA", 5), ("S1", 3)]
RETURN_REASONS = [("CONTRACT_ENDED", 75), ("TERMINATED_EARLY", 8), ("PROTECTION_CASE", 4), ("FAMILY", 6),
                  ("HEALTH", 4), ("DEPORTED", 3)]  # fmt: skip


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _name_pools(seed: int) -> tuple[list[str], list[str], list[str]]:
    from faker import Faker

    fake = Faker("id_ID")
    fake.seed_instance(seed)
    men = sorted({fake.first_name_male() for _ in range(600)})
    women = sorted({fake.first_name_female() for _ in range(600)})
    last = sorted({fake.last_name() for _ in range(600)})
    return men, women, last


@dataclass
class SyntheticWorkers:
    seed: int = 2026
    today: dt.date = dt.date(2026, 11, 1)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.men, self.women, self.last = _name_pools(self.seed)
        villages = [v[0] for v in iter_villages() if v[0] is not None]
        by_province: dict[str, list[str]] = {}
        for code in villages:
            by_province.setdefault(str(code)[:2], []).append(str(code))
        self.villages = by_province
        other = [p for p in by_province if p not in PROVINCE_WEIGHTS]
        self.provinces = list(PROVINCE_WEIGHTS) + other
        self.weights = list(PROVINCE_WEIGHTS.values()) + [11 / len(other)] * len(other)
        self.serials: dict[str, int] = {}

    def nik(self, village: str, born: dt.date, female: bool) -> str:
        district = village.replace(".", "")[:6]
        day = born.day + (40 if female else 0)
        key = f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}"
        serial = self.serials.get(key, 0) + 1
        self.serials[key] = serial
        return f"{key}{serial:04d}"

    def village(self) -> str:
        province = self.rng.choices(self.provinces, weights=self.weights)[0]
        return self.rng.choice(self.villages[province])

    def row(self, village: str | None = None, *, status: str | None = None, destination: str | None = None,
            occupation: str | None = None) -> dict[str, str]:  # fmt: skip
        rng = self.rng
        village = village or self.village()
        female = rng.random() < 0.65
        born = self.today - dt.timedelta(days=rng.randint(19 * 365, 50 * 365))
        first = rng.choice(self.women if female else self.men)
        row = {c.name: "" for c in COLUMNS}
        row |= {
            "nik": self.nik(village, born, female),
            "full_name": f"{first} {rng.choice(self.last)}",
            "sex": "FEMALE" if female else "MALE",
            "birth_date": born.isoformat(),
            "education_level": _pick(rng, EDUCATION),
            "village_code": village,
            "phone": f"08{rng.choice('1235789')}{rng.randint(10**8, 10**9 - 1)}",
        }
        status = status or rng.choices(["CANDIDATE", "ABROAD", "RETURNED"], weights=[20, 60, 20])[0]
        row["status"] = status
        if status == "CANDIDATE":
            return row
        country = destination or _pick(rng, DESTINATIONS)
        sector = "INFORMAL" if female and country in ("HK", "TW", "SG", "SA", "AE") and rng.random() < 0.8 else "FORMAL"
        departed = self.today - dt.timedelta(days=rng.randint(30, 6 * 365))
        procedural = rng.random() >= 0.06
        row |= {
            "destination_country": country,
            "sector": sector,
            "occupation": occupation or rng.choice(OCCUPATIONS[sector]),
            "scheme": _pick(rng, SCHEMES) if procedural else rng.choice(["INDEPENDENT", "P_TO_P"]),
            "procedural": "true" if procedural else "false",
            "departure_date": departed.isoformat(),
            "contract_end": (departed + dt.timedelta(days=730)).isoformat(),
        }
        if status == "RETURNED":
            back = min(self.today, departed + dt.timedelta(days=rng.randint(60, 900)))
            row |= {"return_date": back.isoformat(), "return_reason": _pick(rng, RETURN_REASONS)}
        return row

    def rows(self, n: int) -> Iterator[dict[str, str]]:
        for _ in range(n):
            yield self.row()


def seed_musi_banyuasin(gen: SyntheticWorkers) -> Iterator[dict[str, str]]:
    """The seed villages of DOMAIN.md (proposal of 25 Nov 2025): Ulak Paceh, 17 residents in Malaysia as production
    operators and general workers; Tebing Bulang, 13 in Turkey, Bulgaria, the UAE and Hong Kong. Mostly SMA/SMK."""
    for i in range(17):
        row = gen.row("16.06.13.2001", status="ABROAD", destination="MY",
                      occupation="Operator produksi" if i % 3 else "Pekerja umum")  # fmt: skip
        row |= {
            "education_level": "SMK" if i % 2 else "SMA",
            "sector": "FORMAL",
            "scheme": "P_TO_P",
            "procedural": "true",
        }
        yield row
    for i, country in enumerate(["TR"] * 4 + ["BG"] * 3 + ["AE"] * 3 + ["HK"] * 3):
        row = gen.row("16.06.03.2008", status="ABROAD", destination=country)
        row |= {"education_level": "SMA" if i % 2 else "SMK", "procedural": "true"}
        if row["scheme"] not in ("P_TO_P", "G_TO_G"):
            row["scheme"] = "P_TO_P"
        yield row


def write_csv(path: Path, rows: Iterator[dict[str, str]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c.name for c in COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
