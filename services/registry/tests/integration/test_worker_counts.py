"""`workers(filter) { totalCount }` from the village counters: exactly the rows' COUNT(*), under every movement.

A filter of region and/or status (and destination, which the counters hold for workers abroad) is answered by
summing `registry.village_stats`; every other filter counts rows. These tests move workers through every status
and across villages, districts, regencies and provinces, and after each step compare every total, for a national
and for regional tokens, with a COUNT(*) written independently here (LIKE instead of the service's key range, the
destination through a join), and with the service's own row count for the same filter.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.engine import create_engine
from demimas_registry.adapters.queries import RegistryQueries, WorkerFilterValues
from demimas_registry.domain.vocabulary import WorkerStatus

from .conftest import GraphQL
from .test_graphql_workers import DEPART, RETURN, departure, register

pytestmark = pytest.mark.integration

UPDATE = "mutation($id: ID!, $input: UpdateWorkerInput!) { updateWorker(id: $id, input: $input) { id version } }"

# Two villages of one district, another district of the regency, another regency of the province, another province.
A1, A2, B, C, D = "16.06.13.2001", "16.06.13.2002", "16.06.01.1009", "16.07.01.2001", "32.01.01.1002"
PREFIXES = [None, "16", "16.06", "16.06.13", "16.06.01", "16.07", "32", "32.01.01", "35", A1, "1", "16.0"]
STATUSES = [None, "CANDIDATE", "ABROAD", "RETURNED"]
DESTINATIONS = [None, "MY", "TW"]
VILLAGE_FILTERS = [(A1, None), (A1, "16.06"), (A2, "16.06.13"), (D, "16.06"), (B, "16.06.01")]
CALLER_REGIONS = [None, "16.06", "16.06.13", "32"]


def filters() -> list[dict[str, str]]:
    """Every prefix x status x destination, and a village (alone and inside a region) x status x destination."""
    out: list[dict[str, str]] = []
    for prefix, status, country in itertools.product(PREFIXES, STATUSES, DESTINATIONS):
        out.append(_filter(None, prefix, status, country))
    for (village, prefix), status, country in itertools.product(VILLAGE_FILTERS, STATUSES, DESTINATIONS):
        out.append(_filter(village, prefix, status, country))
    return out


def _filter(village: str | None, prefix: str | None, status: str | None, country: str | None) -> dict[str, str]:
    values = {"villageCode": village, "regionPrefix": prefix, "status": status, "destinationCountry": country}
    return {k: v for k, v in values.items() if v is not None}


def _literal(flt: dict[str, str]) -> str:
    parts = [f"{k}: {v}" if k == "status" else f'{k}: "{v}"' for k, v in flt.items()]
    return "{ " + ", ".join(parts) + " }"


def totals_query(flts: list[dict[str, str]]) -> str:
    """All the totals in one request (aliases), as a dashboard would ask for its list headers."""
    fields = [f"c{i}: workers(filter: {_literal(f)}, first: 1) {{ totalCount }}" for i, f in enumerate(flts)]
    return "{ " + "\n".join(fields) + " }"


async def real_count(engine: AsyncEngine, flt: dict[str, str], caller_region: str | None) -> int:
    """COUNT(*) of the workers the filter means, written without the service's code."""
    where, values = ["true"], {}
    if "villageCode" in flt:
        where.append("w.village_code = :village")
        values["village"] = flt["villageCode"]
    for name, prefix in (("prefix", flt.get("regionPrefix")), ("caller", caller_region)):
        if prefix is not None:
            where.append(f"(w.village_code = :{name} OR w.village_code LIKE :{name}_under)")  # a village is a region
            values[name], values[f"{name}_under"] = prefix, prefix + ".%"
    if "status" in flt:
        where.append("w.status = :status")
        values["status"] = flt["status"]
    if "destinationCountry" in flt:
        where.append("w.status = 'ABROAD' AND d.destination_country = :country")
        values["country"] = flt["destinationCountry"]
    sql = (
        "SELECT count(*) FROM registry.workers w LEFT JOIN registry.departures d ON d.id = w.latest_departure_id "
        f"WHERE {' AND '.join(where)}"  # fixed fragments, values bound
    )
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), values)).scalar_one())


def filter_values(flt: dict[str, str], caller_region: str | None) -> WorkerFilterValues:
    return WorkerFilterValues(
        village_code=flt.get("villageCode"),
        region_prefix=flt.get("regionPrefix"),
        status=WorkerStatus(flt["status"]) if "status" in flt else None,
        destination_country=flt.get("destinationCountry"),
        caller_region=caller_region,
    )


@pytest.fixture
async def engine(registry_db: Any) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(registry_db.runtime_url, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


class Checker:
    def __init__(
        self, gql: GraphQL, token: Callable[..., str], engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.gql, self.token, self.engine = gql, token, engine
        self.queries = RegistryQueries(engine)
        self.flts = filters()
        self.rounds = 0
        self.counted_rows: list[WorkerFilterValues] = []
        row_count = RegistryQueries.row_count

        async def spy(queries: RegistryQueries, flt: WorkerFilterValues) -> int:
            self.counted_rows.append(flt)
            return await row_count(queries, flt)

        monkeypatch.setattr(RegistryQueries, "row_count", spy)

    async def totals(self, caller_region: str | None) -> list[int]:
        """The API's totals; only the filters the counters do not hold (a destination with a status other than
        ABROAD) count rows."""
        tok = self.token("KP2MI") if caller_region is None else self.token("DISNAKER", region=caller_region)
        self.counted_rows.clear()
        body = await self.gql(totals_query(self.flts), token=tok)
        assert "errors" not in body, body["errors"][:3]
        slow = [f for f in self.flts if "destinationCountry" in f and f.get("status", "ABROAD") != "ABROAD"]
        assert len(self.counted_rows) == len(slow)
        assert all(f.caller_region == caller_region for f in self.counted_rows)
        return [body["data"][f"c{i}"]["totalCount"] for i in range(len(self.flts))]

    async def check(self) -> dict[tuple[str | None, int], int]:
        """Every filter for every caller: the API's total == COUNT(*) == the service's row count."""
        self.rounds += 1
        seen: dict[tuple[str | None, int], int] = {}
        for caller in CALLER_REGIONS:
            totals = await self.totals(caller)
            for i, (flt, total) in enumerate(zip(self.flts, totals, strict=True)):
                expected = await real_count(self.engine, flt, caller)
                assert total == expected, (self.rounds, caller, flt, total, expected)
                assert await self.queries.row_count(filter_values(flt, caller)) == expected, (caller, flt)
                seen[(caller, i)] = total
        return seen

    def index(self, **flt: str) -> int:
        return self.flts.index(flt)


class TestCountsFromCounters:
    async def test_region_status_and_destination_filters_take_the_counters(self) -> None:
        """Which filters are answered by summing counters, and which count rows."""
        fast = [
            {},
            {"regionPrefix": "35"},
            {"regionPrefix": "16.06", "status": "ABROAD"},
            {"status": "RETURNED"},
            {"destinationCountry": "MY"},
            {"regionPrefix": "16.06.13", "status": "ABROAD", "destinationCountry": "TW"},
            {"villageCode": A1, "status": "CANDIDATE"},
            {"villageCode": A1, "regionPrefix": "16.06", "destinationCountry": "MY"},
        ]
        for flt in fast:
            for caller in (None, "16.06"):
                assert filter_values(flt, caller).counters() is not None, flt
        slow = [{"status": "CANDIDATE", "destinationCountry": "MY"}, {"status": "RETURNED", "destinationCountry": "MY"}]
        for flt in slow:
            assert filter_values(flt, None).counters() is None, flt

    async def test_totals_equal_count_star_through_every_movement(
        self, gql: GraphQL, token: Callable[..., str], engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        kp2mi = token("KP2MI")
        checker = Checker(gql, token, engine, monkeypatch)
        before = await checker.check()

        # Registered in five villages: 4 in A1, 2 in A2, 2 in B, 2 in C, 2 in D.
        places = [A1, A1, A1, A1, A2, A2, B, B, C, C, D, D]
        w = [(await register(gql, kp2mi, village=v))["id"] for v in places]
        after = await checker.check()
        district = checker.index(regionPrefix="16.06.13", status="CANDIDATE")
        assert after[(None, district)] == before[(None, district)] + 6
        assert after[("16.06", checker.index(regionPrefix="32"))] == 0  # outside a regional caller's region

        # Departures to Malaysia and Taiwan, a return, a second departure (circular migration) elsewhere.
        destinations = {0: "MY", 1: "TW", 4: "MY", 6: "TW", 8: "MY", 10: "TW", 11: "MY"}
        for i, country in destinations.items():
            body = await gql(DEPART, {"id": w[i], "input": departure(destinationCountry=country)}, token=kp2mi)
            assert "errors" not in body, body
        for i in (1, 6, 11):
            body = await gql(RETURN, {"id": w[i], "input": {"returnDate": "2025-06-01", "reason": "CONTRACT_ENDED"}},
                             token=kp2mi)  # fmt: skip
            assert "errors" not in body, body
        body = await gql(DEPART, {"id": w[1], "input": departure("2025-09-01", destinationCountry="MY")}, token=kp2mi)
        assert "errors" not in body, body
        after = await checker.check()
        abroad_my = checker.index(regionPrefix="16.06.13", destinationCountry="MY")
        assert after[(None, abroad_my)] == before[(None, abroad_my)] + 3  # w0, w1 (again, to MY), w4

        # Moves: within a district, to another district, regency and province, while abroad and after a return.
        moves = {0: A2, 4: B, 8: D, 6: C, 2: "16.06.01.1010", 10: A1}
        for i, village in moves.items():
            version = await gql("query($id: ID!) { worker(id: $id) { version } }", {"id": w[i]}, token=kp2mi)
            body = await gql(UPDATE, {"id": w[i], "input": {"villageCode": village,
                                                             "expectedVersion": version["data"]["worker"]["version"]}},
                             token=kp2mi)  # fmt: skip
            assert "errors" not in body, body
        after = await checker.check()
        assert after[(None, abroad_my)] == before[(None, abroad_my)] + 2  # w4 moved to another district
        # A regional office moves a worker inside its region; a district-level caller sees it leave.
        body = await gql(UPDATE, {"id": w[3], "input": {"villageCode": C}}, token=token("DISNAKER", region="16"))
        assert "errors" not in body, body
        after = await checker.check()
        assert after[("16.06.13", checker.index())] < after[("16.06", checker.index())]
