"""Turning validated records into what the database write needs, without I/O: COPY rows for workers, departures
and returns, the outbox records of their events, and the village statistics delta.

This runs while the previous batch is being written, so it is kept lean: enum members go to COPY as they are
(they are `str`), event payloads are serialised once (`outbox_record`). The events come from the same functions
as the single mutations (`domain.events`), so their payloads are the contract ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from demimas_common.events.envelope import Actor, CloudEvent
from demimas_common.events.outbox import OutboxRecord, outbox_record
from demimas_common.events.schemas import validate_event
from demimas_registry.domain import events
from demimas_registry.domain.model import Worker
from demimas_registry.domain.stats import StatKey
from demimas_registry.domain.vocabulary import WorkerStatus
from demimas_registry.importer.rows import ImportRecord
from demimas_registry.service_layer.handlers import worker_contribution

__all__ = [
    "DEPARTURE_COLUMNS",
    "RETURN_COLUMNS",
    "WORKER_COLUMNS",
    "BatchBuilder",
    "PreparedBatch",
    "import_events",
    "restricted",
    "stats_delta",
]

Row = tuple[Any, ...]

WORKER_COLUMNS = (
    "id", "nik", "full_name", "sex", "birth_date", "education", "phone", "address", "passport_number",
    "village_code", "status", "version", "nik_warnings", "latest_departure_id", "created_by",
)  # fmt: skip
DEPARTURE_COLUMNS = (
    "id", "worker_id", "destination_country", "sector", "occupation", "scheme", "procedural", "employer",
    "departure_date", "contract_end", "occupation_code",
)  # fmt: skip
RETURN_COLUMNS = ("id", "worker_id", "departure_id", "return_date", "reason", "note")


def import_events(record: ImportRecord, actor: Actor) -> list[CloudEvent]:
    """The events one imported worker stands for, in order, each with the state it had then: registered
    (CANDIDATE, version 1), departed (ABROAD, 2) if it departed, returned (RETURNED, 3) if it returned."""
    worker = record.worker
    final = (worker.status, worker.version)
    try:
        worker.status, worker.version = WorkerStatus.CANDIDATE, 1
        steps = [events.worker_registered(worker, actor)]
        if record.departure is not None:
            worker.status, worker.version = WorkerStatus.ABROAD, 2
            steps.append(events.worker_departed(worker, record.departure, actor))
        if record.ret is not None:
            worker.status, worker.version = WorkerStatus.RETURNED, 3
            steps.append(events.worker_returned(worker, record.ret, actor))
    finally:
        worker.status, worker.version = final
    return steps


def stats_delta(workers: Iterable[Worker]) -> dict[StatKey, int]:
    """The village statistics change of registering these workers in their final state: the same counters as
    `domain.stats.delta((None, worker_contribution(w)) for w in workers)` (a unit test holds them equal), summed
    in one pass because the general function costs several microseconds per worker. Not sorted: the upsert
    orders the rows in SQL, which is cheaper than sorting tens of thousands of tuples here."""
    keys: list[StatKey] = []
    for worker in workers:
        keys += worker_contribution(worker).keys()
    return {key: n for key, n in Counter(keys).items() if n != 0}


@dataclass(slots=True)
class PreparedBatch:
    records: list[ImportRecord] = field(default_factory=list)
    workers: list[Row] = field(default_factory=list)
    departures: list[Row] = field(default_factory=list)
    returns: list[Row] = field(default_factory=list)
    outbox: list[OutboxRecord] = field(default_factory=list)
    stats: dict[StatKey, int] = field(default_factory=dict)

    @property
    def niks(self) -> list[str]:
        return [record.worker.nik for record in self.records]


class BatchBuilder:
    """Accumulates records one at a time (so the caller can hand the event loop to the writer in between)."""

    def __init__(self, actor: Actor, created_by: str, traceparent: str | None) -> None:
        self.actor, self.created_by, self.traceparent = actor, created_by, traceparent
        self.batch = PreparedBatch()

    def __len__(self) -> int:
        return len(self.batch.records)

    def add(self, record: ImportRecord) -> None:
        b, w = self.batch, record.worker
        b.records.append(record)
        latest = w.latest_departure
        b.workers.append((
            w.id, w.nik, w.full_name, w.sex, w.birth_date, w.education, w.phone, w.address, w.passport_number,
            w.village_code, w.status, w.version, list(w.nik_warnings), latest.id if latest else None, self.created_by,
        ))  # fmt: skip
        d = record.departure
        if d is not None:
            b.departures.append((d.id, d.worker_id, d.destination_country, d.sector, d.occupation, d.scheme,
                                 d.procedural, d.employer, d.departure_date, d.contract_end,
                                 d.occupation_code))  # fmt: skip
        r = record.ret
        if r is not None:
            b.returns.append((r.id, r.worker_id, r.departure_id, r.return_date, r.reason, r.note))
        for event in import_events(record, self.actor):
            b.outbox.append(outbox_record(event, self.traceparent))

    def refusal_record(self, record: ImportRecord, existing_worker_id: Any) -> OutboxRecord:
        """The outbox record of the event recording that this row's NIK belongs to a worker outside the caller's region
        (domain.registration); checked against its schema here, as a unit of work would."""
        event = events.registration_refused(
            str(existing_worker_id), record.worker.village_code, self.actor, via="import"
        )
        validate_event(event)
        return outbox_record(event, self.traceparent)

    def build(self) -> PreparedBatch:
        batch, self.batch = self.batch, PreparedBatch()
        batch.stats = stats_delta(record.worker for record in batch.records)
        return batch


def restricted(batch: PreparedBatch, ids: set[Any], builder: BatchBuilder, *, keep: bool = False) -> PreparedBatch:
    """The same batch without the workers registered before: `ids` are their NIKs, or with `keep`, the ids of
    the workers that were inserted."""
    for record in batch.records:
        if (record.worker.id in ids) if keep else (record.worker.nik not in ids):
            builder.add(record)
    return builder.build()
