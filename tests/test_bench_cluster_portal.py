"""The cluster rehearsal's page figures and verdict (bench/cluster.py), from literal probes: no cluster started."""

from __future__ import annotations

from typing import Any

from bench.cluster import PHASES, PortalProbe, _verdict


def _probe(probes: list[tuple[str, str, float]]) -> PortalProbe:
    probe = PortalProbe.__new__(PortalProbe)  # no client: figures() reads only the probes
    probe.probes = probes
    return probe


def _all_tables(n: int = 3) -> list[tuple[str, str, float]]:
    return [(phase, "table", 100.0 + i) for phase in PHASES for i in range(n)]


def test_every_faultless_page_a_table_and_one_replica_down_passes() -> None:
    figures = _probe(_all_tables()).figures()
    assert figures["portal_faultless_pages_ok"] is True
    assert figures["portal_one_replica_down_ok"] is True
    assert figures["phases"]["before"] == {"probes": 3, "table": 3, "error_page": 0, "other": {}, "p50_ms": 101.0,
                                           "p95_ms": 101.9, "all_ms_p95": 101.9}  # fmt: skip


def test_one_error_page_in_a_faultless_phase_fails_but_not_in_a_reported_one() -> None:
    probes = [*_all_tables(), ("nats_node_down", "error_page", 15000.0), ("replicas_restarted", "transport", 1.0)]
    assert _probe(probes).figures()["portal_faultless_pages_ok"] is True
    probes.append(("nats_node_restarted", "signed_out", 5.0))
    figures = _probe(probes).figures()
    assert figures["portal_faultless_pages_ok"] is False
    assert figures["phases"]["nats_node_restarted"]["other"] == {"signed_out": 1}


def test_with_a_replica_down_nine_in_ten_tables_are_needed() -> None:
    base = [p for p in _all_tables() if p[0] != "replicas_down"]
    nine = base + [("replicas_down", "table", 50.0)] * 9 + [("replicas_down", "error_page", 50.0)]
    eight = base + [("replicas_down", "table", 50.0)] * 8 + [("replicas_down", "error_page", 50.0)] * 2
    assert _probe(nine).figures()["portal_one_replica_down_ok"] is True
    assert _probe(eight).figures()["portal_one_replica_down_ok"] is False
    assert _probe(base).figures()["portal_one_replica_down_ok"] is False  # no probe in the phase: not shown


def test_the_verdict_needs_every_check() -> None:
    good: dict[str, Any] = {
        "cluster_events_lost": 0, "cluster_double_effects": 0, "audit_chain": {"ok": True},
        "feeds_events_missing": 0, "feeds_events_unexpected": 0, "feeds_out_of_order": 0,
        "feeds_concurrent_sends": 0, "feeds_bad_signatures": 0, "feeds_body_mismatches": 0,
        "feeds_events_under_two_webhook_ids": 0, "portal": _probe(_all_tables()).figures(),
    }  # fmt: skip
    assert _verdict(good) == {"passed": True, "checks": dict.fromkeys(_verdict(good)["checks"], True)}
    bad = good | {"portal": _probe([p for p in _all_tables() if p[0] != "before"]).figures()}
    verdict = _verdict(bad)
    assert verdict["passed"] is False
    assert [name for name, ok in verdict["checks"].items() if not ok] == ["portal_faultless_pages_ok"]
