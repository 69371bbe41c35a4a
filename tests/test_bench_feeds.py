"""The feeds benchmark's pure helpers (bench/feeds.py): how it counts lost and duplicate deliveries and latency."""

from __future__ import annotations

import datetime as dt

from bench.feeds import Record, latency_s, summary_ms, tally


def _record(index: int, webhook_id: str, seq: int, event_id: str) -> Record:
    return (index, webhook_id, 0.0, seq, event_id, "", None, None)


def test_tally_counts_lost_pairs_duplicates_and_events_outside_the_range() -> None:
    records = [
        _record(0, "a", 10, "e1"),
        _record(1, "b", 10, "e1"),
        _record(0, "c", 11, "e2"),
        _record(0, "c", 11, "e2"),  # the same webhook-id again (a retry the receiver saw twice)
        _record(0, "d", 11, "e2"),  # the same event to the same endpoint under another id
        _record(1, "x", 9, "e0"),  # before the range
    ]
    counted = tally(records, endpoints=2, first_seq=10, last_seq=11, expected_events=2)
    assert counted == {"received": 5, "lost": 1, "duplicates": 2, "outside": 1}  # (e2, endpoint 1) never came


def test_tally_of_everything_received_once() -> None:
    records = [_record(i, f"{i}-{e}", 5 + e, f"e{e}") for i in range(3) for e in range(4)]
    assert tally(records, endpoints=3, first_seq=5, last_seq=8, expected_events=4) == {
        "received": 12, "lost": 0, "duplicates": 0, "outside": 0,
    }  # fmt: skip


def test_latency_is_measured_from_the_cloud_events_time() -> None:
    occurred = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)
    assert abs(latency_s("2026-12-06T20:00:00Z", occurred.timestamp() + 0.04) - 0.04) < 1e-6


def test_summary_in_milliseconds() -> None:
    assert summary_ms([0.01] * 99 + [1.0])["p50"] == 10.0
    assert summary_ms([]) == {"p50": -1.0, "p95": -1.0, "p99": -1.0}
