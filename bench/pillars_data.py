"""The generated pillar activities and joint pilots of the pillars benchmark, also seeded by the scale simulation:
activities skewed over villages (a few busy ones) over three years, 1-2 outputs each, registered participants drawn
from a pool of people per village, anonymous counts; one pilot per village (2-4 partners, 3 milestones, 2 linked
activities), each village designated; copied into the tables with asyncpg, then the progress rollups rebuilt."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from demimas_common.db.engine import create_engine
from demimas_common.db.urls import asyncpg_dsn
from demimas_pillars.adapters.progress import rebuild_rollups
from demimas_pillars.domain.vocabulary import OUTPUTS, ServicePillar

__all__ = ["PILOTS", "Rows", "activity_rows", "load_rows", "pilot_rows"]

PILOTS = 1000
Rows = dict[str, list[tuple[Any, ...]]]  # table -> records to COPY
PILLARS = list(ServicePillar)
# who records each pillar in the generated data, in ServicePillar's order
AGENCIES = dict(
    zip(PILLARS, ["BP3MI", "KP2MI", "BNN", "KEMENIMIPAS", "KP2MI", "KEMENDES", "KP2MI", "KEMENPPPA", "KP2MI", "BP3MI"],
        strict=True)
)  # fmt: skip


def activity_rows(rng: random.Random, villages: list[str], n: int, today: dt.date) -> Rows:
    """Skewed over villages (a few busy ones), dates over three years."""
    weights = [1 / (i + 1) ** 0.6 for i in range(len(villages))]
    chosen = rng.choices(villages, weights=weights, k=n)
    pool = {v: [uuid.uuid4() for _ in range(200)] for v in villages}
    now = dt.datetime.now(dt.UTC)
    rows: Rows = {"activities": [], "outputs": [], "participants": [], "anonymous": []}
    for village in chosen:
        aid, pillar = uuid.uuid4(), rng.choice(PILLARS)
        day = today - dt.timedelta(days=rng.randrange(3 * 365))
        people = rng.sample(pool[village], rng.choice((0, 0, 1, 2, 3)))
        anonymous = rng.randrange(5, 60) if rng.random() < 0.6 else 0
        rows["activities"].append((aid, village, pillar.value, "Kegiatan pilar", None, day, AGENCIES[pillar], None,
                                   "bench", now, len(people) + anonymous, anonymous))  # fmt: skip
        for kind in rng.sample(sorted(OUTPUTS[pillar]), rng.choice((1, 2))):
            rows["outputs"].append((aid, kind.value, rng.randrange(1, 40), village, pillar.value, day))
        for person in people:
            rows["participants"].append((aid, person, "WORKER", village, pillar.value, day))
        if anonymous:
            rows["anonymous"].append((aid, "FEMALE", "COMMUNITY", anonymous))
    return rows


def pilot_rows(rng: random.Random, villages: list[str], activities: list[tuple[Any, ...]], today: dt.date) -> Rows:
    """One pilot for each of the first PILOTS villages, its partners and milestones, the village designated."""
    by_village: dict[str, list[uuid.UUID]] = {}
    for row in activities:
        by_village.setdefault(row[1], []).append(row[0])
    partners_all = [("KEMENPPPA", "DRPPA"), ("BNN", "DESA_BERSINAR"), ("KEMENDES", "BUMDES"),
                    ("KEMENIMIPAS", "DESA_BINAAN_IMIGRASI")]  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    rows: Rows = {"pilots": [], "partners": [], "milestones": [], "links": [], "pilot_villages": [],
                                              "designations": [], "transitions": [], "portfolios": []}  # fmt: skip
    for village in villages[:PILOTS]:
        pid, start = uuid.uuid4(), today - dt.timedelta(days=rng.randrange(30, 400))
        rows["pilots"].append((pid, village, "Pilot Demimas terpadu", "KEMENKO_POLKAM", "ACTIVE", None, start, now,
                               "bench"))  # fmt: skip
        rows["pilot_villages"].append((pid, village, True, now))
        for agency, programme in rng.sample(partners_all, rng.randrange(2, 5)):
            rows["partners"].append((pid, agency, programme, "Komitmen mitra"))
        for seq, days in enumerate((20, 120, 365), start=1):
            due = start + dt.timedelta(days=days)
            done = due - dt.timedelta(days=3) if due < today and rng.random() < 0.7 else None
            # no village of its own; one already overdue counts as announced (no burst of events at start-up)
            rows["milestones"].append((uuid.uuid4(), pid, seq, f"Tahap {seq}", due, "KEMENKO_POLKAM", done,
                                       "KEMENKO_POLKAM" if done else None, None,
                                       today if due < today and done is None else None))  # fmt: skip
        for aid in by_village.get(village, [])[:2]:
            rows["links"].append((pid, aid))
        did = uuid.uuid4()
        rows["designations"].append((did, village, "SK 12/2026", dt.date(2026, 1, 15), "DEMIMAS", None, "ACTIVE", 1))
        rows["transitions"].append((did, 0, "ACTIVE", now, "KP2MI", "bench", None))
        rows["portfolios"].append((village, did, "OPEN", now, now))
    return rows


async def load_rows(admin: str, rows: Rows) -> None:
    import asyncpg

    targets = {
        "activities": ("pillars", "activities"), "outputs": ("pillars", "activity_outputs"),
        "participants": ("pillars", "activity_participants"), "anonymous": ("pillars", "activity_anonymous"),
        "pilots": ("pillars", "pilots"), "partners": ("pillars", "pilot_partners"),
        "milestones": ("pillars", "milestones"), "links": ("pillars", "pilot_activities"),
        "pilot_villages": ("pillars", "pilot_villages"),
        "portfolios": ("pillars", "portfolios"), "designations": ("designation", "designations"),
        "transitions": ("designation", "designation_transitions"),
    }  # fmt: skip
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        for key, (schema, table) in targets.items():
            await conn.copy_records_to_table(table, schema_name=schema, records=rows[key])
    finally:
        await conn.close()
    engine = create_engine(admin, pool_size=1)  # the COPY bypassed ActivityRepository.add: roll the activities up
    async with engine.begin() as sa_conn:
        await rebuild_rollups(sa_conn)
    await engine.dispose()
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        rollups = [("pillars", "activity_daily"), ("pillars", "output_daily"), ("pillars", "participant_last")]
        for schema, table in [*{*targets.values()}, *rollups]:
            await conn.execute(f"VACUUM ANALYZE {schema}.{table}")
    finally:
        await conn.close()
