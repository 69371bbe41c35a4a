"""The demo loader and the `demimas registry` commands, on the session's PostgreSQL."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_registry.demo import DEMO_SEED, load_demo
from demimas_registry.entrypoints.cli import register
from demimas_registry.synthetic import SyntheticWorkers, seed_musi_banyuasin

pytestmark = pytest.mark.integration


async def rows_of(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def test_demo_loads_the_seed_villages_and_families_once(registry_db: Any) -> None:
    await load_demo(registry_db.runtime_url, synthetic=60)
    seeds = list(seed_musi_banyuasin(SyntheticWorkers(seed=DEMO_SEED)))
    sql = (
        "SELECT w.village_code, d.destination_country, count(*) FROM registry.workers w "
        "JOIN registry.departures d ON d.id = w.latest_departure_id "
        "WHERE w.nik = ANY(:n) AND w.status = 'ABROAD' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    expected = [("16.06.03.2008", "AE", 3), ("16.06.03.2008", "BG", 3), ("16.06.03.2008", "HK", 3),
                ("16.06.03.2008", "TR", 4), ("16.06.13.2001", "MY", 17)]  # fmt: skip
    assert [tuple(r) for r in await rows_of(registry_db.admin_url, sql, n=[r["nik"] for r in seeds])] == expected
    # Ulak Paceh as the proposal describes it: production operators (KBJI 2014 major group 8) and general workers
    # (9), mostly SMK/SMA graduates; the village's breakdowns count these rows (tests/e2e/test_gateway_breakdowns.py).
    ulak = [r["nik"] for r in seeds if r["village_code"] == "16.06.13.2001"]
    sql = (
        "SELECT left(d.occupation_code, 1), count(*) FROM registry.workers w "
        "JOIN registry.departures d ON d.id = w.latest_departure_id WHERE w.nik = ANY(:n) GROUP BY 1 ORDER BY 1"
    )
    assert [tuple(r) for r in await rows_of(registry_db.admin_url, sql, n=ulak)] == [("8", 11), ("9", 6)]
    sql = "SELECT education, count(*) FROM registry.workers WHERE nik = ANY(:n) GROUP BY 1 ORDER BY 2 DESC, 1"
    assert [tuple(r) for r in await rows_of(registry_db.admin_url, sql, n=ulak)] == [("SMK", 8), ("SMA", 5),
                                                                                      ("SMP", 4)]  # fmt: skip
    count_sql = (
        "SELECT (SELECT count(*) FROM registry.family_members), "
        "(SELECT count(*) FROM registry.outbox WHERE type = 'demimas.registry.family.added'), "
        "(SELECT count(*) FROM registry.family_members WHERE minor AND consent_given_by IS NULL)"
    )
    ((members, events, minors_without_consent),) = await rows_of(registry_db.admin_url, count_sql)
    assert members > 0
    assert events >= members
    assert minors_without_consent == 0
    await load_demo(registry_db.runtime_url, synthetic=60)
    ((members_again, events_again, _),) = await rows_of(registry_db.admin_url, count_sql)
    assert (members_again, events_again) == (members, events)


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="demimas")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["registry", *argv])
    code: int = args.func(args)
    return code


def test_cli_import_exit_codes_and_report(
    registry_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMIMAS_DATABASE_URL", registry_db.admin_url)
    template = tmp_path / "template.csv"
    assert run_cli("template", str(template)) == 0
    assert run_cli("template", "--xlsx", str(tmp_path / "template.xlsx")) == 0
    generated = tmp_path / "generated.csv"
    assert run_cli("generate", "--rows", "40", "--seed", "77", "--out", str(generated)) == 0
    assert run_cli("import", str(generated), "--quiet") == 0
    with generated.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[3]["birth_date"] = "2030-01-01"
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = tmp_path / "report.csv"
    assert run_cli("import", str(bad), "--quiet", "--report", str(report)) == 1
    assert report.read_text(encoding="utf-8").splitlines()[1].startswith("5,birth_date,")
    out = capsys.readouterr().out
    assert "already registered (skipped): 39" in out
    header_only = tmp_path / "wrong.csv"
    header_only.write_text("nik;colour\n1;red\n", encoding="utf-8")
    assert run_cli("import", str(header_only), "--quiet") == 2
    assert run_cli("import", str(generated), "--quiet", "--agency", "NOBODY") == 2
    assert run_cli("import", str(generated), "--quiet", "--agency", "BNN") == 2
