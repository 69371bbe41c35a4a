"""The overdue sweep: every item past its clock and not yet escalated gets one `demimas.cases.case.overdue` event
(escalated to KP2MI) and is marked escalated, in the same transaction: a crash before the commit escalates it again
on the next run, never twice after it. The clocks are columns (adapters/cases.py), so the sweep survives restarts and
runs in any replica (locked rows are skipped by the others)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.tables import SCHEMA
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain import events
from demimas_cases.service_layer.ports import CasesUoW
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.events.outbox import outbox_record
from demimas_common.telemetry import current_traceparent

__all__ = ["BATCH", "escalate_overdue", "sweep"]

BATCH = 2000
log = logging.getLogger("demimas.cases.escalation")


async def escalate_overdue(uow: CasesUoW, now: dt.datetime, *, batch: int = BATCH) -> int:
    """Escalate up to `batch` overdue items in one transaction; how many were escalated (call again while it
    returns `batch`). One statement per item kind finds and marks the items, with what their events say of the
    case (no case is loaded whole); the events are written to the outbox with one COPY."""
    due = await uow.cases.escalate(now, batch)
    if not due:
        return 0
    traceparent = current_traceparent()
    records = [outbox_record(events.case_overdue(d, d.item), traceparent) for d in due if d.running]
    await uow.copy_events(records)
    await uow.commit()
    if records:
        log.info("escalated %d overdue case items to KP2MI", len(records))
    return len(due)


async def sweep(engine: AsyncEngine, rules: CaseRules) -> int:
    """One run of the periodic job: batches until nothing overdue is left to escalate; how many were escalated."""
    total = 0
    while True:
        async with CasesUnitOfWork(engine, schema=SCHEMA) as uow:
            n = await escalate_overdue(uow, rules.clock())
        total += n
        if n < BATCH:
            return total
