"""Revision 0002 backfills the breakdown counters from the rows a registry already holds: a database migrated to
0001 and filled (workers of three villages, candidates, abroad with and without an occupation code, returned) then
migrated to head holds exactly the counters the use cases would have kept."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_common.service import discover_services

pytestmark = pytest.mark.integration

VILLAGES = ("16.06.13.2001", "16.06.13.2002", "16.06.03.2008")
NEW = ("education", "sex", "sector", "occupation")


async def test_revision_0002_backfills_the_breakdowns_from_the_rows(stack: TestStack) -> None:
    spec = next(s for s in discover_services() if s.name == "registry")
    database = f"breakdowns_{uuid.uuid4().hex[:8]}"
    stack.postgres.psql(f'CREATE DATABASE "{database}"')
    try:
        admin = stack.postgres.url(database=database)
        engine = create_engine(admin, pool_size=1)
        try:
            async with engine.begin() as conn:
                await provision_service(conn, spec.name, schema=spec.schema)
        finally:
            await engine.dispose()
        owner = with_user(admin, owner_role(spec.name))
        await upgrade(owner, schema=spec.schema, script_location=spec.migrations, revision="0001")
        expected: Counter[tuple[str, str, str]] = Counter()
        engine = create_engine(owner, pool_size=1)
        try:
            async with engine.begin() as conn:
                for code in VILLAGES:
                    await conn.execute(
                        text("INSERT INTO registry.villages VALUES (:c, 'V', 'DESA', :c, 'D', '16.06', 'R', '16', "
                             "'P', NULL)"), {"c": code})  # fmt: skip
                for i in range(30):
                    village, worker_id = VILLAGES[i % 3], uuid.uuid4()
                    education, sex = ("SMK", "SMA", "SMP", "SD")[i % 4], ("MALE", "FEMALE")[i % 5 == 0]
                    status = ("CANDIDATE", "ABROAD", "RETURNED")[i % 3 if i % 7 else 1]
                    await conn.execute(
                        text("INSERT INTO registry.workers (id, nik, full_name, sex, birth_date, education, "
                             "village_code, status, version) "
                             "VALUES (:id, :nik, 'X', :sex, '1990-01-01', :e, :v, :s, 1)"),
                        {"id": worker_id, "nik": f"{i:016d}", "sex": sex, "e": education, "v": village, "s": status},
                    )  # fmt: skip
                    expected[(village, "education", education)] += 1
                    expected[(village, "sex", sex)] += 1
                    if status == "CANDIDATE":
                        continue
                    departure_id, sector = uuid.uuid4(), ("FORMAL", "INFORMAL")[i % 2]
                    await conn.execute(
                        text("INSERT INTO registry.departures (id, worker_id, destination_country, sector, "
                             "occupation, scheme, procedural, departure_date) "
                             "VALUES (:id, :w, 'MY', :sector, 'Operator', 'P_TO_P', true, :d)"),
                        {"id": departure_id, "w": worker_id, "sector": sector, "d": dt.date(2024, 1, 1)},
                    )  # fmt: skip
                    await conn.execute(
                        text("UPDATE registry.workers SET latest_departure_id = :d WHERE id = :w"),
                        {"d": departure_id, "w": worker_id},
                    )
                    if status == "ABROAD":
                        expected[(village, "sector", sector)] += 1
                        expected[(village, "occupation", "UNCLASSIFIED")] += 1  # 0001 knew no occupation codes
                await conn.execute(
                    text("INSERT INTO registry.village_stats SELECT village_code, 'status', status, count(*) "
                         "FROM registry.workers GROUP BY village_code, status")
                )  # fmt: skip
                before = (await conn.execute(text("SELECT * FROM registry.village_stats"))).all()
                assert before
        finally:
            await engine.dispose()
        await upgrade(owner, schema=spec.schema, script_location=spec.migrations)
        engine = create_engine(owner, pool_size=1)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(text("SELECT village_code, dimension, key, count FROM registry.village_stats"))
                ).all()
                column = await conn.scalar(
                    text("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'registry' "
                         "AND table_name = 'departures' AND column_name = 'occupation_code'")
                )  # fmt: skip
        finally:
            await engine.dispose()
        assert column == 1
        assert {(v, d, k): n for v, d, k, n in rows if d in NEW} == dict(expected)
        assert {tuple(r) for r in rows if r[1] not in NEW} == {tuple(r) for r in before}  # the others untouched
    finally:
        stack.postgres.psql(f'DROP DATABASE "{database}" WITH (FORCE)')
