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


def errors_of(values: dict[str, str]) -> list[RowError]:
    result = parse_row(7, values, today=TODAY)
    assert isinstance(result, list), result
    assert result
    return result


def error_of(values: dict[str, str]) -> RowError:
    """The one error of a row with one mistake."""
    (error,) = errors_of(values)
    return error


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


def test_a_row_reports_every_column_error_in_the_files_column_order() -> None:
    # A bad NIK, a bad sex and a missing village: three entries at once, not one upload per mistake.
    errors = errors_of(row(nik="123", sex="X", village_code=""))
    assert [(e.line, e.column, e.code) for e in errors] == [
        (7, "nik", "INVALID_NIK"),
        (7, "sex", "INVALID_VALUE"),
        (7, "village_code", "REQUIRED"),
    ]
    # the wording is that of the same error alone
    assert [e.message for e in errors] == [
        error_of(row(nik="123")).message,
        error_of(row(sex="X")).message,
        error_of(row(village_code="")).message,
    ]
    # the file's order of columns, not the template's
    reordered = {name: row(nik="123", sex="X", village_code="")[name] for name in ["village_code", "sex", *EXAMPLE]}
    assert [e.column for e in errors_of(reordered)] == ["village_code", "sex", "nik"]


def test_every_part_of_a_returned_row_is_judged() -> None:
    errors = errors_of(
        row(full_name="x" * 200, birth_date="2030-01-01", education_level="PHD", phone="12", scheme="SMUGGLED",
            departure_date="soon", occupation_code="97", status="RETURNED", return_date="", return_reason="BORED")
    )  # fmt: skip
    assert [(e.column, e.code) for e in errors] == [
        ("full_name", "TOO_LONG"),
        ("birth_date", "FUTURE_DATE"),
        ("education_level", "INVALID_VALUE"),
        ("phone", "INVALID_VALUE"),
        ("occupation_code", "INVALID_OCCUPATION_CODE"),
        ("scheme", "INVALID_VALUE"),
        ("departure_date", "INVALID_DATE"),
        ("return_date", "REQUIRED"),
        ("return_reason", "INVALID_VALUE"),
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The NIK agrees with the sex and birth date only when both are valid; its structure is judged regardless.
        ({"sex": "X", "nik": "1606131508950001"}, [("sex", "INVALID_VALUE")]),
        ({"sex": "X", "nik": "1606135508950000"}, [("nik", "INVALID_NIK"), ("sex", "INVALID_VALUE")]),
        ({"sex": "MALE", "nik": "1606135508950001"}, [("nik", "INVALID_NIK")]),
        ({"birth_date": "31/02/1995", "nik": "1606135508960001"}, [("birth_date", "INVALID_DATE")]),
        # A return before its departure, only when both dates are valid.
        (
            {"status": "RETURNED", "return_date": "2024-01-01", "sex": "X"},
            [("sex", "INVALID_VALUE"), ("return_date", "INVALID_VALUE")],
        ),
        (
            {"status": "RETURNED", "return_date": "2024-01-01", "departure_date": "later"},
            [("departure_date", "INVALID_DATE")],
        ),
        # A departure before birth, only when both dates are valid.
        (
            {"departure_date": "1990-01-01", "education_level": "?"},
            [("education_level", "INVALID_VALUE"), ("departure_date", "INVALID_VALUE")],
        ),
        # Both rules of a departure's dates, each on its own column.
        (
            {"departure_date": "1990-01-01", "contract_end": "1989-01-01"},
            [("departure_date", "INVALID_VALUE"), ("contract_end", "INVALID_VALUE")],
        ),
        ({"contract_end": "someday", "sex": "?"}, [("sex", "INVALID_VALUE"), ("contract_end", "INVALID_DATE")]),
        # An invalid status: whether the departure columns are needed is unknown, so they are not judged.
        ({"status": "GONE", "sector": "", "scheme": "?"}, [("status", "INVALID_VALUE")]),
        # A candidate's departure columns are not read, as before.
        ({"status": "CANDIDATE", "sex": "X", "scheme": "?"}, [("sex", "INVALID_VALUE")]),
    ],
)
def test_rules_across_columns_need_their_columns_valid(
    changes: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert [(e.column, e.code) for e in errors_of(row(**changes))] == expected


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


def test_a_row_with_several_errors_is_one_rejected_row() -> None:
    principal = Principal("t", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
    rows = [(2, row()), (3, row(nik="123", sex="X", village_code="")), (4, row(sex="?"))]
    report = ImportReport()
    valid = list(validated(rows, villages={"16.06.13.2001"}, principal=principal, report=report, today=TODAY))
    assert [r.line for r in valid] == [2]
    assert [(e.line, e.column) for e in report.rejected] == [(3, "nik"), (3, "sex"), (3, "village_code"), (4, "sex")]
    assert (report.total, report.rejected_rows, report.error_count, report.valid) == (3, 2, 4, 1)
    assert not report.truncated
    assert "rejected: 2 rows (4 errors)" in report.to_text()


def test_the_kept_errors_are_bounded_by_whole_rows() -> None:
    # A hostile file: every row bad in many columns. Counts stay exact; the entries kept stop at the cap.
    principal = Principal("t", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
    bad = row(nik="1", full_name="9", sex="?", birth_date="x", education_level="?", village_code="?", status="?")
    report = ImportReport(max_errors=20)
    assert not list(validated(((n, bad) for n in range(2, 1002)), villages=set(), principal=principal, report=report))
    assert (report.total, report.rejected_rows, report.error_count) == (1000, 1000, 7000)
    assert len(report.rejected) == 21  # three whole rows: the cap is reached inside a row, which is kept whole
    assert {e.line for e in report.rejected} == {2, 3, 4}
    assert report.truncated
    last = report.to_csv().splitlines()[-1]
    assert last.startswith(",,TRUNCATED,")
    assert "21 of 7000 errors" in last
    assert "first 3 of 1000 rejected rows" in last
    assert "report truncated" in report.to_text()
