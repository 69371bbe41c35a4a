"""The subscriptions benchmark's pure helpers (bench/subscriptions.py): what it expects and how it measures."""

from __future__ import annotations

import datetime as dt

from bench.subscriptions import assign, expected_deliveries, latency_s, nik, summary_ms


def test_subscribers_are_spread_evenly_over_the_provinces() -> None:
    assigned = assign(1000, [f"{p}" for p in range(11, 21)])
    assert len(assigned) == 1000
    assert {assigned.count(p) for p in set(assigned)} == {100}


def test_expected_counts_each_change_once_per_subscriber_of_its_province() -> None:
    subscribers = ["11", "11", "12"]
    committed = {"11": 5, "12": 3, "35": 7}  # 35: nobody subscribed
    assert expected_deliveries(committed, subscribers) == 5 * 2 + 3 * 1
    assert expected_deliveries({}, subscribers) == 0


def test_latency_is_measured_from_the_events_time() -> None:
    occurred = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)
    received = occurred.timestamp() + 0.025
    assert abs(latency_s(occurred.isoformat(), received) - 0.025) < 1e-6
    assert abs(latency_s("2026-12-06T20:00:00Z", received) - 0.025) < 1e-6  # the CloudEvent's own spelling


def test_nik_is_16_digits_of_the_villages_district() -> None:
    value = nik("16.06.13.2001", 42)
    assert len(value) == 16
    assert value.isdigit()
    assert value.startswith("160613")


def test_summary_in_milliseconds() -> None:
    assert summary_ms([0.01] * 10) == {"p50": 10.0, "p95": 10.0, "p99": 10.0}
    assert summary_ms([]) == {"p50": -1.0, "p95": -1.0, "p99": -1.0}
