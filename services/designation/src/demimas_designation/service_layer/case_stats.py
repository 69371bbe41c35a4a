"""The `case-stats` consumer: the cases service's case events (`demimas.cases.case.>`) kept as each protection
case's last known state, which the assessment of `SUSTAINED_PROTECTION` reads. The domain decides what an event
changes (`domain.case_stats`); the repository locks, reads and writes; the consumer's inbox around each call makes
redelivery harmless, and the per-case version makes late and repeated events harmless."""

from __future__ import annotations

from demimas_common.events.envelope import CloudEvent
from demimas_common.skeleton import Consumer
from demimas_designation.domain.case_stats import apply_case_events, case_id
from demimas_designation.service_layer.ports import DesignationUoW

__all__ = ["CASE_STATS", "apply_event", "apply_events"]


async def apply_events(batch: list[CloudEvent], uow: DesignationUoW) -> None:
    """A batch of case events at once: its cases locked and read, the events applied in stream order, one write of
    the states that changed."""
    if not batch:
        return
    ids = [case_id(event.id, event.data) for event in batch]
    stats = uow.case_stats
    await stats.lock_cases(ids)
    before = await stats.states(ids)
    changed = apply_case_events(before, [(i, e.type, e.time, e.data) for i, e in zip(ids, batch, strict=True)])
    if changed:
        await stats.write_states(changed)


async def apply_event(event: CloudEvent, uow: DesignationUoW) -> None:
    """One event (the consumer's one-by-one path, e.g. a retry): a batch of one."""
    await apply_events([event], uow)


CASE_STATS = Consumer("case-stats", ["demimas.cases.case.>"], apply_event, apply_events)
