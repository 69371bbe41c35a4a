"""Import rows are judged by the same rules as the mutations, with a stable code and the column at fault."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_registry.importer.load import ImportReport, validated
from demimas_registry.importer.parse import FileRejected, read_rows
from demimas_registry.importer.rows import ImportRecord, RowError, parse_row
from demimas_registry.importer.template import EXAMPLE
from demimas_registry.synthetic import SyntheticWorkers, seed_musi_banyuasin

TODAY = dt.date(2026, 11, 22)


def row(**changes: str) -> dict[str, str]:
    return EXAMPLE | changes


def error_of(values: dict[str, str]) -> RowError:
    result = parse_row(7, values, today=TODAY)
    assert isinstance(result, RowError), result
    return result


def test_the_template_example_is_valid() -> None:
    result = parse_row(2, row(), today=TODAY)
    assert isinstance(result, ImportRecord)
    assert result.worker.status.value == "ABROAD"
    assert result.departure is not None


def test_indonesian_conventions_are_accepted() -> None:
    result = parse_row(2, row(sex="P", birth_date="15/08/1995", procedural="ya"), today=TODAY)
    assert isinstance(result, ImportRecord)


@pytest.mark.parametrize(
    ("changes", "column", "code"),
    [
        ({"nik": ""}, "nik", "REQUIRED"),
        ({"nik": "1606135508950000"}, "nik", "INVALID_NIK"),
        ({"sex": "X"}, "sex", "INVALID_VALUE"),
        ({"birth_date": "31/02/1995"}, "birth_date", "INVALID_DATE"),
        ({"departure_date": "2030-01-01"}, "departure_date", "FUTURE_DATE"),
        ({"full_name": "x" * 200}, "full_name", "TOO_LONG"),
        ({"scheme": "SMUGGLED"}, "scheme", "INVALID_VALUE"),
        ({"destination_country": ""}, "destination_country", "REQUIRED"),
        ({"procedural": "maybe"}, "procedural", "INVALID_VALUE"),
        ({"occupation_code": "97"}, "occupation_code", "INVALID_OCCUPATION_CODE"),
        ({"occupation_code": "operator"}, "occupation_code", "INVALID_OCCUPATION_CODE"),
        ({"status": "RETURNED", "return_date": "2024-01-01"}, "return_date", "INVALID_VALUE"),
    ],
)
def test_bad_rows(changes: dict[str, str], column: str, code: str) -> None:
    error = error_of(row(**changes))
    assert (error.line, error.column, error.code) == (7, column, code)
    assert error.message


def test_unknown_village_region_and_duplicates_are_reported() -> None:
    principal = Principal("t", Agency.DISNAKER, DEFAULT_GRANTS[Agency.DISNAKER], region="16.06")
    rows = [
        (2, row()),
        (3, row(village_code="16.06.99.2999")),
        (4, row(nik="1606135508950002")),
        (5, row(nik="3201015508950001", village_code="32.01.01.1002")),
    ]
    report = ImportReport()
    valid = list(
        validated(rows, villages={"16.06.13.2001", "32.01.01.1002"}, principal=principal, report=report, today=TODAY)
    )
    assert [r.line for r in valid] == [2, 4]
    assert [(e.line, e.code) for e in report.rejected] == [(3, "UNKNOWN_VILLAGE"), (5, "OUTSIDE_REGION")]
    dup = ImportReport()
    list(validated([(2, row()), (3, row())], villages={"16.06.13.2001"}, principal=principal, report=dup, today=TODAY))
    assert [(e.line, e.code) for e in dup.rejected] == [(3, "DUPLICATE_IN_FILE")]


def test_header_problems_reject_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nik,full_name,favourite_colour\n1,2,3\n")
    with pytest.raises(FileRejected) as caught:
        list(read_rows(bad))
    assert caught.value.code == "UNKNOWN_COLUMN"
    missing = tmp_path / "missing.csv"
    missing.write_text("nik,full_name\n1,2\n")
    with pytest.raises(FileRejected) as caught:
        list(read_rows(missing))
    assert caught.value.code == "MISSING_COLUMN"


def test_semicolon_csv_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    names = list(EXAMPLE)
    path.write_text("\ufeff" + ";".join(names) + "\n" + ";".join(EXAMPLE[n] for n in names) + "\n", encoding="utf-8")
    ((line, values),) = list(read_rows(path))
    assert line == 2
    assert values["nik"] == EXAMPLE["nik"]


def test_synthetic_workers_are_valid_and_seed_villages_exact() -> None:
    gen = SyntheticWorkers(seed=1)
    results = [parse_row(i, r, today=dt.date.today()) for i, r in enumerate(gen.rows(500))]
    assert not [r for r in results if isinstance(r, RowError)]
    seeds = list(seed_musi_banyuasin(gen))
    ulak = [r for r in seeds if r["village_code"] == "16.06.13.2001"]
    tebing = [r for r in seeds if r["village_code"] == "16.06.03.2008"]
    assert len(ulak) == 17
    assert {r["destination_country"] for r in ulak} == {"MY"}
    # The proposal's claims: mostly SMK/SMA graduates, production operators (KBJI 2014 major group 8) and general
    # workers (9).
    assert sum(r["education_level"] in ("SMK", "SMA") for r in ulak) > len(ulak) / 2
    assert {r["occupation_code"][0] for r in ulak} == {"8", "9"}
    assert sum(r["occupation_code"][0] == "8" for r in ulak) > len(ulak) / 2
    assert len(tebing) == 13
    assert {r["destination_country"] for r in tebing} == {"TR", "BG", "AE", "HK"}
