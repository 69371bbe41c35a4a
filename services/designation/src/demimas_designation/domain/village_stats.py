"""The village-stats projection's rules: per-village migrant numbers rebuilt from the registry's worker events.

Each worker's last known state is kept (village, status, the latest departure's procedural flag) with the versions
that set them, so the projection converges to the registry's numbers whatever the delivery order:
- village and status come from the event with the highest per-worker `version` (older ones are ignored);
- the procedural flag comes from the `departed` event with the highest version (an `updated` event carries no
  flag, so it must not erase one that an older-numbered departure set).
A worker counts once in its village by status, and, once it has departed, as departed and maybe as procedural:
exactly the registry's `migrantStats` counters (demimas_registry.domain.stats), so the two can be compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from demimas_common.errors import BadUserInput

__all__ = ["CountKey", "WorkerState", "apply_worker_event", "contribution", "counts_delta", "totals"]

CountKey = tuple[str, str]  # (village code, counter): "status:ABROAD", "departed", "procedural"
STATUSES = ("CANDIDATE", "ABROAD", "RETURNED")
WORKER_EVENTS = ("registered", "updated", "departed", "returned")


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
