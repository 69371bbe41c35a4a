"""MigrantStats breakdowns through the gateway (issue 20, item 1): after random sequences of registrations,
departures, returns and updates (education, village) made with the agencies' own tokens, every breakdown of every
village and of the regency equals counting the rows of the real database; the counters never drift.

Sex is not among the updates: it is encoded in the NIK (day of birth + 40 for women), which never changes, so
`updateWorker` has no `sex`; a worker's sex is counted from its registration on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_registry.entrypoints.graphql.regions import MIN_CELL
from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

REGENCY = "16.06"
VILLAGES = ("16.06.13.2001", "16.06.13.2002", "16.06.03.2008")
EDUCATION = ("NONE", "SD", "SMP", "SMA", "SMK", "DIPLOMA", "S1")
CODES = (None, "8189", "9329", "5322", "9111.01", "6223", "8", "2")
_serial = itertools.count(5101)

BREAKDOWNS = (
    "total abroad byEducation { key count } bySex { key count } bySector { key count } byOccupation { key label count }"
)
REGISTER = "mutation($i: RegisterWorkerInput!) { registerWorker(input: $i) { id version } }"
DEPART = "mutation($id: ID!, $i: DepartureInput!) { recordDeparture(workerId: $id, input: $i) { version } }"
RETURN = "mutation($id: ID!, $i: ReturnInput!) { recordReturn(workerId: $id, input: $i) { version } }"
UPDATE = "mutation($id: ID!, $i: UpdateWorkerInput!) { updateWorker(id: $id, input: $i) { version } }"

ROW_COUNTS = """
SELECT 'education' AS d, w.education AS k, count(*) AS n FROM registry.workers w WHERE {where} GROUP BY 2
UNION ALL SELECT 'sex', w.sex, count(*) FROM registry.workers w WHERE {where} GROUP BY 2
UNION ALL SELECT 'sector', dep.sector, count(*) FROM registry.workers w
    JOIN registry.departures dep ON dep.id = w.latest_departure_id WHERE w.status = 'ABROAD' AND {where} GROUP BY 2
UNION ALL SELECT 'occupation', coalesce(left(dep.occupation_code, 1), 'UNCLASSIFIED'), count(*) FROM registry.workers w
    JOIN registry.departures dep ON dep.id = w.latest_departure_id WHERE w.status = 'ABROAD' AND {where} GROUP BY 2
"""


def stats_query(codes: list[str]) -> str:
    villages = " ".join(
        f'v{i}: village(code: "{c}") {{ migrantStats {{ {BREAKDOWNS} }} }}' for i, c in enumerate(codes)
    )
    return f'query {{ {villages} region(code: "{REGENCY}") {{ migrantStats {{ {BREAKDOWNS} }} }} }}'


def shown(rows: dict[str, dict[str, int]], min_cell: int) -> dict[str, dict[str, int]]:
    """What a caller whose answers carry `minCell` sees of the true counts: the values held by at least `min_cell`
    people, less the smallest of them while what is left out holds fewer than `min_cell` (docs/registry.md)."""
    return {dim: shown_values(counts, min_cell) for dim, counts in rows.items()}


def shown_values(counts: dict[str, int], min_cell: int) -> dict[str, int]:
    kept = sorted(((k, n) for k, n in counts.items() if n >= min_cell), key=lambda i: (-i[1], i[0]))
    left_out = sum(counts.values()) - sum(n for _, n in kept)
    while kept and 0 < left_out < min_cell:
        left_out += kept.pop()[1]
    return dict(kept)


def as_counts(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        dim: {e["key"]: e["count"] for e in stats[field]}
        for dim, field in (
            ("education", "byEducation"),
            ("sex", "bySex"),
            ("sector", "bySector"),
            ("occupation", "byOccupation"),
        )
    }


async def counted_rows(database_url: str, where: str, params: dict[str, str]) -> dict[str, dict[str, int]]:
    engine = create_engine(with_user(database_url, runtime_role("registry")), pool_size=1)
    out: dict[str, dict[str, int]] = {"education": {}, "sex": {}, "sector": {}, "occupation": {}}
    try:
        async with engine.connect() as conn:
            for d, k, n in (await conn.execute(text(ROW_COUNTS.format(where=where)), params)).all():
                out[d][k] = int(n)
    finally:
        await engine.dispose()
    return out


class World:
    """The workers this test made, as it believes them to be (only to choose valid next steps)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.workers: dict[str, dict[str, Any]] = {}
        self.day = dt.date(2019, 1, 1)

    def next_day(self) -> str:
        self.day += dt.timedelta(days=self.rng.randint(1, 20))
        return self.day.isoformat()


async def step(world: World, gateway: Any, tokens: dict[str, str]) -> None:
    rng = world.rng
    token = tokens[rng.choice(["KP2MI", "DISNAKER"])]
    candidates = [w for w, s in world.workers.items() if s["status"] != "ABROAD"]
    abroad = [w for w, s in world.workers.items() if s["status"] == "ABROAD"]
    action = rng.choices(
        ["register", "depart", "return", "update"],
        weights=[3, 3 if candidates else 0, 2 if abroad else 0, 2 if world.workers else 0],
    )[0]
    if action == "register":
        village, female = rng.choice(VILLAGES), rng.random() < 0.6
        born = dt.date(rng.randint(1975, 1999), rng.randint(1, 12), rng.randint(1, 28))
        while True:
            nik = f"{village.replace('.', '')[:6]}{born.day + (40 if female else 0):02d}{born:%m%y}{next(_serial):04d}"
            worker = {
                "nik": nik,
                "fullName": "Dewi Lestari",
                "sex": "FEMALE" if female else "MALE",
                "birthDate": born.isoformat(),
                "educationLevel": rng.choice(EDUCATION),
                "villageCode": village,
            }
            _, body = await ask(gateway, REGISTER, {"i": worker}, token=token)
            if not body.get("errors"):
                break
            assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body  # a NIK an earlier run registered
        world.workers[body["data"]["registerWorker"]["id"]] = {"status": "CANDIDATE"}
        return
    if action == "depart":
        worker_id, code = rng.choice(candidates), rng.choice(CODES)
        departure = {
            "destinationCountry": rng.choice(["MY", "HK", "TW"]),
            "sector": rng.choice(["FORMAL", "INFORMAL"]),
            "occupation": "Pekerja",
            "scheme": "P_TO_P",
            "procedural": rng.random() < 0.9,
            "departureDate": world.next_day(),
        }
        if code is not None:
            departure["occupationCode"] = code
        _, body = await ask(gateway, DEPART, {"id": worker_id, "i": departure}, token=token)
        world.workers[worker_id]["status"] = "ABROAD"
    elif action == "return":
        worker_id = rng.choice(abroad)
        ret = {"returnDate": world.next_day(), "reason": "CONTRACT_ENDED"}
        _, body = await ask(gateway, RETURN, {"id": worker_id, "i": ret}, token=token)
        world.workers[worker_id]["status"] = "RETURNED"
    else:
        worker_id = rng.choice(list(world.workers))
        change: dict[str, Any] = {}
        if rng.random() < 0.7:
            change["educationLevel"] = rng.choice(EDUCATION)
        if rng.random() < 0.6 or not change:
            change["villageCode"] = rng.choice(VILLAGES)
        _, body = await ask(gateway, UPDATE, {"id": worker_id, "i": change}, token=token)
    assert "errors" not in body, (action, body)


@pytest.mark.parametrize("seed", [20, 2001, 1606])
async def test_breakdowns_equal_the_rows_after_random_changes(
    endpoints: Endpoints, mint: Callable[..., str], stack: TestStack, seed: int
) -> None:
    rng = random.Random(seed)
    writers = {"KP2MI": mint("KP2MI"), "DISNAKER": mint("DISNAKER", region=REGENCY)}
    world = World(rng)
    for _ in range(45):
        await step(world, endpoints.gateway, writers)
    # KEMENDES reads no registry: it sees the values held by at least MIN_CELL people; the regency office sees all
    readers = {"KEMENDES": (mint("KEMENDES"), MIN_CELL), "DISNAKER 16.06": (writers["DISNAKER"], 1)}
    query = stats_query(list(VILLAGES))
    for name, (token, min_cell) in readers.items():
        _, body = await ask(endpoints.gateway, query, token=token)
        assert "errors" not in body, (name, body)
        for i, code in enumerate(VILLAGES):
            stats = body["data"][f"v{i}"]["migrantStats"]
            rows = await counted_rows(stack.database_url, "w.village_code = :v", {"v": code})
            assert as_counts(stats) == shown(rows, min_cell), (seed, name, code)
            assert sum(rows["education"].values()) == sum(rows["sex"].values()) == stats["total"]
            assert sum(rows["sector"].values()) == sum(rows["occupation"].values()) == stats["abroad"]
        region = body["data"]["region"]["migrantStats"]
        rows = await counted_rows(
            stack.database_url, "w.village_code >= :lo AND w.village_code < :hi", {"lo": REGENCY, "hi": REGENCY + "/"}
        )
        assert as_counts(region) == shown(rows, min_cell), (seed, name, REGENCY)
        labels = {e["key"]: e["label"] for e in region["byOccupation"]}
        assert labels.get("8") in (None, "Operator dan Perakit Mesin")
        assert all(labels[k] for k in labels)


async def test_breakdowns_follow_the_region_rules(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    disnaker = mint("DISNAKER", region=REGENCY)
    _, body = await ask(
        endpoints.gateway, '{ region(code: "16") { migrantStats { byEducation { key count } } } }', token=disnaker
    )
    assert body["data"]["region"] in (None, {"migrantStats": None})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    # Outside its regency a regional office sees no village's numbers.
    _, body = await ask(
        endpoints.gateway, '{ village(code: "35.07.01.2001") { migrantStats { bySex { key count } } } }', token=disnaker
    )
    assert (body.get("data") or {}).get("village") is None
    # Anonymous callers get nothing.
    _, body = await ask(endpoints.gateway, '{ region(code: "16.06") { migrantStats { bySector { key count } } } }')
    assert body["data"] is None or body["data"].get("region") is None


async def test_a_bad_occupation_code_is_refused_with_its_reason(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    kp2mi = mint("KP2MI")
    born = dt.date(1991, 5, 9)
    worker = {
        "nik": f"160613{born.day + 40:02d}{born:%m%y}{next(_serial):04d}",
        "fullName": "Rina Wati",
        "sex": "FEMALE",
        "birthDate": born.isoformat(),
        "educationLevel": "SMK",
        "villageCode": VILLAGES[0],
    }
    _, body = await ask(endpoints.gateway, REGISTER, {"i": worker}, token=kp2mi)
    worker_id = body["data"]["registerWorker"]["id"]
    departure = {
        "destinationCountry": "MY",
        "sector": "FORMAL",
        "occupation": "Operator produksi",
        "scheme": "P_TO_P",
        "procedural": True,
        "departureDate": "2025-03-01",
        "occupationCode": "97",
    }
    _, body = await ask(endpoints.gateway, DEPART, {"id": worker_id, "i": departure}, token=kp2mi)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (error["extensions"]["field"], error["extensions"]["reason"]) == (
        "occupationCode",
        "INVALID_OCCUPATION_CODE",
    )
    assert "KBJI 2014" in error["message"]
    departure["occupationCode"] = "8189"
    _, body = await ask(endpoints.gateway, DEPART, {"id": worker_id, "i": departure}, token=kp2mi)
    assert "errors" not in body, body
    query = "query($id: ID!) { worker(id: $id) { latestDeparture { occupation occupationCode } } }"
    _, body = await ask(endpoints.gateway, query, {"id": worker_id}, token=kp2mi)
    assert body["data"]["worker"]["latestDeparture"] == {"occupation": "Operator produksi", "occupationCode": "8189"}
