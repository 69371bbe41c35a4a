"""Bulk import on real PostgreSQL: valid rows with statistics and events, a report of every bad row, idempotent,
nothing half-written, and the same through the HTTP upload."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import text

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.schemas import validate_event
from demimas_registry.importer import load
from demimas_registry.importer.load import ImportInterrupted, import_workers
from demimas_registry.importer.parse import read_rows
from demimas_registry.importer.prepare import DEPARTURE_COLUMNS
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers

pytestmark = pytest.mark.integration
KP2MI = Principal("test", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
NAMES = [c.name for c in COLUMNS]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=NAMES)
        writer.writeheader()
        writer.writerows(rows)
    return path


async def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql), params)
    finally:
        await engine.dispose()


async def test_import_csv_reports_bad_rows_and_is_idempotent(registry_db: Any, tmp_path: Path) -> None:
    gen = SyntheticWorkers(seed=101)
    rows = list(gen.rows(300))
    rows[10]["nik"] = "123"
    rows[20]["village_code"] = "99.99.99.2999"
    rows[30] = dict(rows[31])  # the same NIK twice
    path = write_csv(tmp_path / "workers.csv", rows)
    engine = create_engine(registry_db.runtime_url)
    try:
        report = await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=64)
        assert report.total == 300
        assert [(e.line, e.column, e.code) for e in report.rejected] == [
            (12, "nik", "INVALID_NIK"),
            (22, "village_code", "UNKNOWN_VILLAGE"),
            (33, "nik", "DUPLICATE_IN_FILE"),
        ]
        assert report.inserted == 297
        again = await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=64)
        assert (again.inserted, again.skipped_existing) == (0, 297)
    finally:
        await engine.dispose()
    abroad = sum(1 for i, r in enumerate(rows) if r["status"] == "ABROAD" and i not in (10, 20, 31))
    niks = [r["nik"] for i, r in enumerate(rows) if i not in (10, 20, 31)]
    stored_abroad = await scalar(
        registry_db.admin_url, "SELECT count(*) FROM registry.workers WHERE nik = ANY(:n) AND status = 'ABROAD'", n=niks
    )
    assert stored_abroad == abroad


async def test_imported_events_follow_the_contract(registry_db: Any, tmp_path: Path) -> None:
    gen = SyntheticWorkers(seed=202)
    rows = [gen.row(status=s) for s in ("CANDIDATE", "ABROAD", "RETURNED")]
    engine = create_engine(registry_db.runtime_url)
    try:
        report = await import_workers(engine, read_rows(write_csv(tmp_path / "three.csv", rows)), principal=KP2MI)
        assert (report.inserted, report.events) == (3, 6)
        async with engine.connect() as conn:
            payloads = (
                await conn.execute(
                    text("SELECT payload FROM registry.outbox WHERE payload->'data'->>'workerId' IN "
                         "(SELECT id::text FROM registry.workers WHERE nik = ANY(:n)) ORDER BY seq"),
                    {"n": [r["nik"] for r in rows]},
                )
            ).scalars().all()  # fmt: skip
    finally:
        await engine.dispose()
    events = [CloudEvent.from_dict(p) for p in payloads]
    for event in events:
        validate_event(event)
    assert sorted(e.type.rsplit(".", 1)[1] for e in events) == sorted(
        ["registered", "registered", "registered", "departed", "departed", "returned"]
    )
    returned = next(e for e in events if e.type.endswith("returned"))
    assert (returned.data["status"], returned.data["version"]) == ("RETURNED", 3)


async def test_a_failing_batch_leaves_nothing_of_the_file(
    registry_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = SyntheticWorkers(seed=303)
    rows = [gen.row(status="ABROAD") for _ in range(20)]
    path = write_csv(tmp_path / "fail.csv", rows)
    real_copy_rest = load._copy_rest
    calls = 0

    async def fails_in_second_batch(uow: Any, batch: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first batch is written; this one's workers and movements too, its events fail
            apg = await uow.driver_connection()
            await apg.copy_records_to_table(
                "departures", schema_name="registry", columns=DEPARTURE_COLUMNS, records=batch.departures
            )
            raise RuntimeError("outbox write failed")
        await real_copy_rest(uow, batch)

    monkeypatch.setattr(load, "_copy_rest", fails_in_second_batch)
    engine = create_engine(registry_db.runtime_url)
    niks = [r["nik"] for r in rows]
    try:
        with pytest.raises(ImportInterrupted, match="outbox write failed") as caught:
            await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=8)
        assert calls == 2
        assert (caught.value.report.inserted, caught.value.report.events) == (0, 0)
        assert await counts_for(registry_db.admin_url, niks) == {"workers": 0, "departures": 0, "events": 0}
        monkeypatch.setattr(load, "_copy_rest", real_copy_rest)
        again = await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=8)
    finally:
        await engine.dispose()
    assert (again.inserted, again.skipped_existing) == (20, 0)
    assert await counts_for(registry_db.admin_url, niks) == {"workers": 20, "departures": 20, "events": 40}


async def counts_for(url: str, niks: list[str]) -> dict[str, int]:
    workers = "SELECT id FROM registry.workers WHERE nik = ANY(:n)"
    worker_ids = "SELECT id::text FROM registry.workers WHERE nik = ANY(:n)"
    return {
        "workers": await scalar(url, f"SELECT count(*) FROM ({workers}) w", n=niks),
        "departures": await scalar(
            url, f"SELECT count(*) FROM registry.departures WHERE worker_id IN ({workers})", n=niks
        ),
        "events": await scalar(url, f"SELECT count(*) FROM registry.outbox WHERE subject IN ({worker_ids})", n=niks),
    }


async def test_statistics_and_events_match_the_imported_rows(registry_db: Any, tmp_path: Path) -> None:
    gen = SyntheticWorkers(seed=505)
    # Villages of Papua Selatan (93), which no other test uses, so the counters are this test's alone.
    villages = gen.villages["93"][:3]
    rows = [gen.row(villages[i % 3]) for i in range(120)]
    path = write_csv(tmp_path / "stats.csv", rows)
    engine = create_engine(registry_db.runtime_url)
    try:
        report = await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=50)
        async with engine.connect() as conn:
            stats = (
                await conn.execute(
                    text("SELECT village_code, dimension, key, count FROM registry.village_stats "
                         "WHERE village_code = ANY(:v)"), {"v": villages})
            ).all()  # fmt: skip
            events = (
                await conn.execute(
                    text("SELECT o.payload FROM registry.outbox o JOIN registry.workers w ON w.id::text = o.subject "
                         "WHERE w.village_code = ANY(:v)"), {"v": villages})
            ).scalars().all()  # fmt: skip
    finally:
        await engine.dispose()
    assert report.inserted == 120
    expected: Counter[tuple[str, str, str]] = Counter()
    for r in rows:
        v = r["village_code"]
        expected[(v, "status", r["status"])] += 1
        expected[(v, "education", r["education_level"])] += 1
        expected[(v, "sex", r["sex"])] += 1
        if r["status"] == "ABROAD":
            expected[(v, "destination", r["destination_country"])] += 1
            expected[(v, "scheme", r["scheme"])] += 1
            expected[(v, "sector", r["sector"])] += 1
            expected[(v, "occupation", r["occupation_code"][:1] or "UNCLASSIFIED")] += 1
        if r["status"] != "CANDIDATE":
            expected[(v, "departed", "ever")] += 1
            expected[(v, "departed", "procedural")] += r["procedural"] == "true"
    assert {(v, d, k): n for v, d, k, n in stats} == {key: n for key, n in expected.items() if n}
    by_type = Counter(e["type"].rsplit(".", 1)[1] for e in events)
    statuses = Counter(r["status"] for r in rows)
    assert by_type == {
        "registered": 120,
        "departed": statuses["ABROAD"] + statuses["RETURNED"],
        "returned": statuses["RETURNED"],
    }
    for payload in events:
        validate_event(CloudEvent.from_dict(payload))
        assert set(payload["data"]).isdisjoint({"nik", "fullName", "phone", "birthDate"})


async def test_upload_xlsx_over_http(client: httpx.AsyncClient, token: Callable[..., str], tmp_path: Path) -> None:
    gen = SyntheticWorkers(seed=404)
    rows = [gen.row() for _ in range(5)] + [gen.row() | {"sex": "?"}]
    rows += [gen.row(status="ABROAD") | {"occupation_code": "97"}, gen.row(status="ABROAD") | {"occupation_code": ""}]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(NAMES)
    for r in rows:
        sheet.append([r[n] for n in NAMES])
    path = tmp_path / "workers.xlsx"
    book.save(path)
    files = {
        "file": ("workers.xlsx", path.read_bytes(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    }
    response = await client.post("/imports/workers", files=files, headers={"Authorization": f"Bearer {token('KP2MI')}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["inserted"]) == (8, 6)
    assert body["rejected"] == [
        {"line": 7, "column": "sex", "code": "INVALID_VALUE", "message": body["rejected"][0]["message"]},
        {"line": 8, "column": "occupation_code", "code": "INVALID_OCCUPATION_CODE",
         "message": body["rejected"][1]["message"]},
    ]  # fmt: skip
    assert "KBJI 2014" in body["rejected"][1]["message"]
    denied = await client.post("/imports/workers", files=files, headers={"Authorization": f"Bearer {token('BNN')}"})
    assert denied.status_code == 403
    anonymous = await client.post("/imports/workers", files=files)
    assert anonymous.status_code == 401
