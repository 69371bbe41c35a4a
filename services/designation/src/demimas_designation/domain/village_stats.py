"""The village-stats projection's rules: per-village migrant numbers rebuilt from the registry's worker events.

Each worker's last known state is kept (village, status, the latest departure's procedural flag) with the versions
that set them, so the projection converges to the registry's numbers whatever the delivery order:
- village and status come from the event with the highest per-worker `version` (older ones are ignored);
- the procedural flag comes from the `departed` event with the highest version (an `updated` event carries no
  flag, so it must not erase one that an older-numbered departure set).
A worker counts once in its village by status, and, once it has departed, as departed and maybe as procedural:
exactly the registry's `migrantStats` counters (demimas_registry.domain.stats), so the two can be compared.

`apply_worker_events` is what the consumer asks of this module: given the stored states of a batch's workers and the
batch's events in stream order, the states that changed and the counter deltas to add (both sorted, the order the
store writes them in so that concurrent batches never deadlock).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from demimas_common.errors import BadUserInput
from demimas_designation.domain.assessment import VillageCounts

__all__ = [
    "CountKey",
    "StatsChange",
    "WorkerEvent",
    "WorkerState",
    "apply_worker_event",
    "apply_worker_events",
    "contribution",
    "counts_delta",
    "totals",
    "village_counts_of",
    "worker_id",
]

CountKey = tuple[str, str]  # (village code, counter): "status:ABROAD", "departed", "procedural"
STATUSES = ("CANDIDATE", "ABROAD", "RETURNED")
WORKER_EVENTS = ("registered", "updated", "departed", "returned")
WorkerEvent = tuple[uuid.UUID, str, Mapping[str, Any]]
"""(worker id, event type, event data)."""


@dataclass(frozen=True, slots=True)
class WorkerState:
    village_code: str
    status: str
    version: int
    procedural: bool | None = None
    """The latest departure's flag; None while the worker never departed."""
    procedural_version: int = 0


def contribution(state: WorkerState | None) -> list[CountKey]:
    if state is None:
        return []
    keys = [(state.village_code, f"status:{state.status}")]
    if state.procedural is not None:
        keys.append((state.village_code, "departed"))
        if state.procedural:
            keys.append((state.village_code, "procedural"))
    return keys


def counts_delta(before: WorkerState | None, after: WorkerState | None) -> dict[CountKey, int]:
    """Counter changes of one worker's change; a move between villages counts in both."""
    total: Counter[CountKey] = Counter(contribution(after))
    total.subtract(contribution(before))
    return {key: n for key, n in sorted(total.items()) if n != 0}


def apply_worker_event(current: WorkerState | None, event_type: str, data: Mapping[str, Any]) -> WorkerState | None:
    """The worker's state after one event (`current` itself when the event changes nothing, e.g. a stale one)."""
    kind = event_type.rsplit(".", 1)[-1]
    if kind not in WORKER_EVENTS:
        raise BadUserInput(f"not a registry worker event: {event_type!r}", field="type")
    try:
        version = int(data["version"])
        village = str(data["villageCode"])
        status = str(data["status"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadUserInput(f"worker event without {exc}: villageCode, status and version are required") from exc
    if status not in STATUSES:
        raise BadUserInput(f"unknown worker status {status!r}", field="status")
    procedural = data.get("procedural") if kind == "departed" else None
    state = current
    if state is None or version > state.version:
        state = WorkerState(
            village_code=village,
            status=status,
            version=version,
            procedural=state.procedural if state else None,
            procedural_version=state.procedural_version if state else 0,
        )
    if isinstance(procedural, bool) and (state.procedural_version < version):
        state = replace(state, procedural=procedural, procedural_version=version)
    return state


def totals(states: Iterable[WorkerState]) -> dict[CountKey, int]:
    """Counters computed from scratch (what the incremental deltas must add up to)."""
    total: Counter[CountKey] = Counter()
    for state in states:
        total.update(contribution(state))
    return {key: n for key, n in sorted(total.items()) if n}


def worker_id(event_id: str, data: Mapping[str, Any]) -> uuid.UUID:
    """The worker a registry event is about; an event without a valid one is refused."""
    try:
        return uuid.UUID(str(data["workerId"]))
    except (KeyError, ValueError) as exc:
        raise BadUserInput(f"worker event {event_id} without a valid workerId", field="workerId") from exc


@dataclass(frozen=True, slots=True)
class StatsChange:
    states: list[tuple[uuid.UUID, WorkerState]]
    """The workers whose state changed, by worker id."""
    counts: list[tuple[str, str, int]]
    """(village code, counter, delta): the non-zero sums of the changes, by village and counter."""


def apply_worker_events(before: Mapping[uuid.UUID, WorkerState], events: Iterable[WorkerEvent]) -> StatsChange:
    """The events applied in order to the workers' stored states (`before`; a worker missing there is new)."""
    states: dict[uuid.UUID, WorkerState | None] = dict(before)
    for worker, event_type, data in events:
        states[worker] = apply_worker_event(states.get(worker), event_type, data)
    changed = sorted(((w, s) for w, s in states.items() if s is not None and s != before.get(w)), key=lambda ws: ws[0])
    total: Counter[CountKey] = Counter()
    for w, s in changed:
        total.update(counts_delta(before.get(w), s))
    return StatsChange(changed, [(v, c, n) for (v, c), n in sorted(total.items()) if n])


def village_counts_of(counters: Mapping[str, int]) -> VillageCounts | None:
    """What the assessment needs of a village's counters: workers registered, departed at least once, of those
    procedurally (None for a village the projection never heard of)."""
    if not counters:
        return None
    total = sum(v for k, v in counters.items() if k.startswith("status:"))
    return VillageCounts(total=total, departed=counters.get("departed", 0), procedural=counters.get("procedural", 0))
