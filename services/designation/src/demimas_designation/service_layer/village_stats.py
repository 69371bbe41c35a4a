"""The `village-stats` consumer: the registry's worker events (`demimas.registry.worker.>`) kept as per-village
migrant numbers, which the assessment reads. The domain decides what an event changes (`domain.village_stats`); the
repository locks, reads and writes in bulk; the consumer's inbox around each call makes redelivery harmless."""

from __future__ import annotations

from demimas_common.events.envelope import CloudEvent
from demimas_common.skeleton import Consumer
from demimas_designation.domain.village_stats import apply_worker_events, worker_id
from demimas_designation.service_layer.ports import DesignationUoW

__all__ = ["VILLAGE_STATS", "apply_event", "apply_events"]


async def apply_events(batch: list[CloudEvent], uow: DesignationUoW) -> None:
    """A batch of worker events at once: its workers locked and read in one statement each, the events applied in
    stream order, then one bulk write of the changed states and one of the summed counter deltas."""
    if not batch:
        return
    ids = [worker_id(event.id, event.data) for event in batch]
    stats = uow.village_stats
    await stats.lock_workers(ids)
    before = await stats.states(ids)
    change = apply_worker_events(before, [(i, e.type, e.data) for i, e in zip(ids, batch, strict=True)])
    if change.states:
        await stats.write_states(change.states)
    if change.counts:
        await stats.add_counts(change.counts)


async def apply_event(event: CloudEvent, uow: DesignationUoW) -> None:
    """One event (the consumer's one-by-one path, e.g. a retry): a batch of one."""
    await apply_events([event], uow)


VILLAGE_STATS = Consumer("village-stats", ["demimas.registry.worker.>"], apply_event, apply_events)
