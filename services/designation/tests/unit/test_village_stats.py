"""The projection's rules converge on the registry's numbers whatever the order and repetition of delivery."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from demimas_common.errors import BadUserInput
from demimas_designation.domain.village_stats import (
    WorkerState,
    apply_worker_event,
    counts_delta,
    totals,
)

VILLAGES = ["16.06.13.2001", "16.06.03.2008", "33.07.01.2001"]


def history(rng: random.Random, worker: str) -> list[tuple[str, dict[str, Any]]]:
    """A plausible life of one worker in the registry's event order (versions 1, 2, ...)."""
    village = rng.choice(VILLAGES)
    status = "CANDIDATE"
    events = [("demimas.registry.worker.registered", {"workerId": worker, "villageCode": village, "status": status})]
    for _ in range(rng.randint(0, 6)):
        move = rng.random()
        if status != "ABROAD" and move < 0.45:
            status = "ABROAD"
            data = {"villageCode": village, "status": status, "procedural": rng.random() < 0.7}
            events.append(("demimas.registry.worker.departed", {"workerId": worker, **data}))
        elif status == "ABROAD" and move < 0.7:
            status = "RETURNED"
            events.append(
                ("demimas.registry.worker.returned", {"workerId": worker, "villageCode": village, "status": status})
            )
        else:
            previous, village = village, rng.choice(VILLAGES)
            data = {"villageCode": village, "status": status, "previousVillageCode": previous}
            events.append(("demimas.registry.worker.updated", {"workerId": worker, **data}))
    return [(kind, {**data, "version": n}) for n, (kind, data) in enumerate(events, start=1)]


def truth(events: list[tuple[str, dict[str, Any]]]) -> WorkerState:
    procedural = None
    for kind, data in events:
        if kind.endswith("departed"):
            procedural = data["procedural"]
    last = events[-1][1]
    return WorkerState(last["villageCode"], last["status"], last["version"], procedural)


@pytest.mark.parametrize("seed", range(40))
def test_random_orders_and_duplicates_converge_on_the_registry_numbers(seed: int) -> None:
    rng = random.Random(seed)
    workers = {f"w{i}": history(rng, f"w{i}") for i in range(30)}
    delivered = [(w, e) for w, events in workers.items() for e in events]
    delivered += rng.sample(delivered, len(delivered) // 3)  # redeliveries
    rng.shuffle(delivered)
    states: dict[str, WorkerState | None] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for worker, (kind, data) in delivered:
        before = states.get(worker)
        after = apply_worker_event(before, kind, data)
        counts.update(counts_delta(before, after))
        states[worker] = after
    for worker, events in workers.items():
        expected = truth(events)
        got = states[worker]
        assert got is not None
        assert (got.village_code, got.status, got.procedural) == (
            expected.village_code,
            expected.status,
            expected.procedural,
        )
    expected_totals = totals(truth(events) for events in workers.values())
    assert {k: n for k, n in counts.items() if n} == expected_totals


def test_a_move_counts_in_both_villages() -> None:
    before = WorkerState("16.06.13.2001", "ABROAD", 3, procedural=True, procedural_version=2)
    after = apply_worker_event(
        before,
        "demimas.registry.worker.updated",
        {"villageCode": "16.06.03.2008", "status": "ABROAD", "version": 4, "previousVillageCode": "16.06.13.2001"},
    )
    assert counts_delta(before, after) == {
        ("16.06.03.2008", "departed"): 1,
        ("16.06.03.2008", "procedural"): 1,
        ("16.06.03.2008", "status:ABROAD"): 1,
        ("16.06.13.2001", "departed"): -1,
        ("16.06.13.2001", "procedural"): -1,
        ("16.06.13.2001", "status:ABROAD"): -1,
    }


def test_a_stale_event_changes_nothing() -> None:
    state = WorkerState("16.06.13.2001", "RETURNED", 5, procedural=False, procedural_version=4)
    stale = {"villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}
    assert apply_worker_event(state, "demimas.registry.worker.registered", stale) == state


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("demimas.registry.family.added", {"villageCode": "16.06.13.2001", "status": "ABROAD", "version": 1}),
        ("demimas.registry.worker.updated", {"status": "ABROAD", "version": 1}),
        ("demimas.registry.worker.updated", {"villageCode": "16.06.13.2001", "status": "LOST", "version": 1}),
        ("demimas.registry.worker.updated", {"villageCode": "16.06.13.2001", "status": "ABROAD", "version": "x"}),
    ],
)
def test_malformed_events_are_refused(kind: str, data: dict[str, Any]) -> None:
    with pytest.raises(BadUserInput):
        apply_worker_event(None, kind, data)
