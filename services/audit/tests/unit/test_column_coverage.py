"""Every column of `audit.records` is covered by the chain or declared outside what auditors are served, and the
verifier names the record and the column for each kind of change (pure, no I/O; the same on a real database in
integration/test_tampering.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from demimas_audit.adapters.tables import records
from demimas_audit.domain.chain import (
    GENESIS,
    HASHED_COLUMNS,
    ChainProblem,
    ProblemKind,
    Record,
    canonical,
    digests,
    link,
    link_digests,
    verify,
)
from demimas_audit.domain.coverage import COVERAGE, Coverage
from demimas_audit.domain.envelope import DERIVED_COLUMNS, derive

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def event(n: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"0193a000-0000-7000-8000-{n:012d}",
        "type": "demimas.registry.worker.registered",
        "source": "/registry",
        "subject": f"worker-{n}",
        "time": "2026-11-01T07:59:00Z",
        "actoragency": "KP2MI",
        "actorsub": "officer-1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "causationid": "c-1",
        "correlationid": "r-1",
        "data": {"workerId": f"worker-{n}", "villageCode": "16.06.13.2001"},
    }


def chain(n: int, *, format_1: int = 0) -> list[Record]:
    """n records as the store holds them (with their derived columns), the first `format_1` of them in format 1."""
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        e, stream_seq, at = event(seq), 100 + seq, T0 + dt.timedelta(seconds=seq)
        columns = derive(e, stream_seq=stream_seq, recorded_at=at)
        if seq <= format_1:
            d, h = None, link(prev, e)
        else:
            d = digests(canonical(e), stream_seq, at)
            h = link_digests(prev, d)
        out.append(Record(seq, e, prev, h, stream_seq=stream_seq, recorded_at=at, digests=d, columns=columns))
        prev = h
    return out


def check(rs: list[Record], head_hash: bytes | None = None) -> list[ChainProblem]:
    """Verified against the writer's head: the last record's hash unless the head holds another one."""
    head = rs[-1]
    return verify(
        rs, first_seq=1, last_seq=head.seq, prev_hash=GENESIS, head_seq=head.seq, head_hash=head_hash or head.hash
    )[1]


def named(problems: list[ChainProblem]) -> set[tuple[int, str | None]]:
    return {(p.seq, p.column) for p in problems}


def test_every_column_of_the_table_is_declared() -> None:
    """A column added to `audit.records` fails here until it is covered by the chain (hashed, derived and checked,
    or part of the links) or declared as never served to auditors, with a reason."""
    assert set(COVERAGE) == set(records.columns.keys())
    assert all(why for _, why in COVERAGE.values())
    by_kind = {k: {c for c, (kind, _) in COVERAGE.items() if kind is k} for k in Coverage}
    assert by_kind[Coverage.HASHED] == set(HASHED_COLUMNS)
    assert by_kind[Coverage.DERIVED] == set(DERIVED_COLUMNS)


def test_an_intact_chain_in_both_formats_has_no_problem() -> None:
    assert check(chain(6, format_1=3)) == []
    assert check(chain(3, format_1=3)) == []


def forged(value: Any) -> Any:
    if isinstance(value, str):
        return value + "-forged"
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(hours=1)
    if isinstance(value, int):
        return value + 1000
    if value is None:
        return "forged"
    return None  # a UUID: gone


@pytest.mark.parametrize("column", DERIVED_COLUMNS)
@pytest.mark.parametrize("format_1", [0, 5])
def test_a_derived_column_changed_is_named(column: str, format_1: int) -> None:
    rs = chain(5, format_1=format_1)
    stored = dict(rs[2].columns or {})
    stored[column] = forged(stored[column])
    rs[2] = replace(rs[2], columns=stored)
    problems = check(rs)
    assert named(problems) == {(3, column)}
    assert problems[0].kind is ProblemKind.MODIFIED
    assert column in problems[0].detail


@pytest.mark.parametrize("column", HASHED_COLUMNS)
@pytest.mark.parametrize("at", [1, 3, 5])
def test_a_hashed_column_changed_is_named(column: str, at: int) -> None:
    rs = chain(5)
    r = rs[at - 1]
    if column == "event":
        r = replace(r, event={**r.event, "data": {"villageCode": "33.07.01.2001"}})
    elif column == "stream_seq":
        r = replace(r, stream_seq=forged(r.stream_seq))
    else:
        r = replace(r, recorded_at=forged(r.recorded_at))
    rs[at - 1] = r
    assert named(check(rs)) == {(at, column)}


@pytest.mark.parametrize("at", [1, 3, 5])
@pytest.mark.parametrize("format_1", [0, 5])
def test_links_changed_are_named(at: int, format_1: int) -> None:
    rs = chain(5, format_1=format_1)
    r = rs[at - 1]
    cases: dict[str, Record] = {
        "hash": replace(r, hash=bytes(32)),
        "prev_hash": replace(r, prev_hash=b"\x01" * 32),
        "digests": replace(r, digests=None if r.digests is None else b"\x02" * 96),
    }
    for column, changed in cases.items():
        if column == "digests" and r.digests is None:
            continue
        problems = check([*rs[: at - 1], changed, *rs[at:]], head_hash=rs[-1].hash)
        assert named(problems) == {(at, column)}, column


def test_digests_removed_from_a_format_2_record_are_named() -> None:
    rs = chain(5)
    for at in (1, 3, 5):
        changed = [*rs[: at - 1], replace(rs[at - 1], digests=None), *rs[at:]]
        assert named(check(changed)) == {(at, "digests")}


def test_a_format_1_event_changed_is_told_from_its_hash_rewritten() -> None:
    rs = chain(5, format_1=5)
    for at in (2, 5):  # the next record's link vouches for the old hash, or the writer's head does
        r = rs[at - 1]
        changed = replace(r, event={**r.event, "data": {}})
        assert named(check([*rs[: at - 1], changed, *rs[at:]])) == {(at, "event")}


def test_a_consistent_rewrite_is_named_at_the_record_rewritten() -> None:
    rs = chain(5)
    r = rs[2]
    e = {**r.event, "data": {}}
    d = digests(canonical(e), r.stream_seq or 0, r.recorded_at or T0)
    rs[2] = replace(r, event=e, digests=d, hash=link_digests(r.prev_hash, d))
    assert named(check(rs)) == {(3, "hash")}


def test_removed_and_inserted_records_name_the_sequence() -> None:
    rs = chain(5)
    head = rs[3]
    _, problems = verify(
        [rs[0], rs[2], rs[3], replace(rs[4], seq=9)],
        first_seq=1,
        last_seq=4,
        prev_hash=GENESIS,
        head_seq=4,
        head_hash=head.hash,
    )
    assert [(p.seq, p.kind, p.column) for p in problems] == [
        (2, ProblemKind.REMOVED, "seq"),
        (9, ProblemKind.INSERTED, "seq"),
    ]
