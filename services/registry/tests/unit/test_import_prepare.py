"""Preparing a batch: the statistics delta equals the domain's, and the events are the contract sequence."""

from __future__ import annotations

import datetime as dt

from demimas_common.events.envelope import Actor
from demimas_registry.domain.stats import delta
from demimas_registry.importer.prepare import BatchBuilder, import_events, stats_delta
from demimas_registry.importer.rows import ImportRecord, parse_row
from demimas_registry.service_layer.handlers import worker_contribution
from demimas_registry.synthetic import SyntheticWorkers

ACTOR = Actor("KP2MI", "cli:test")


def records(n: int) -> list[ImportRecord]:
    gen = SyntheticWorkers(seed=21)
    parsed = [parse_row(i, row, today=dt.date.today()) for i, row in enumerate(gen.rows(n), start=2)]
    assert all(isinstance(r, ImportRecord) for r in parsed)
    return [r for r in parsed if isinstance(r, ImportRecord)]


def test_stats_delta_equals_the_domain_delta() -> None:
    batch = [r.worker for r in records(400)]
    assert stats_delta(batch) == delta((None, worker_contribution(w)) for w in batch)


def test_events_replay_the_lifecycle_and_leave_the_worker_as_it_was() -> None:
    returned = next(r for r in records(50) if r.ret is not None)
    events = import_events(returned, ACTOR)
    assert [(e.type.rsplit(".", 1)[1], e.data["status"], e.data["version"]) for e in events] == [
        ("registered", "CANDIDATE", 1),
        ("departed", "ABROAD", 2),
        ("returned", "RETURNED", 3),
    ]
    assert (returned.worker.status.value, returned.worker.version) == ("RETURNED", 3)


def test_builder_rows_line_up_with_the_records() -> None:
    batch_records = records(100)
    builder = BatchBuilder(ACTOR, "KP2MI", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    for record in batch_records:
        builder.add(record)
    batch = builder.build()
    assert len(batch.workers) == 100
    assert len(batch.departures) == sum(1 for r in batch_records if r.departure)
    assert len(batch.returns) == sum(1 for r in batch_records if r.ret)
    assert len(batch.outbox) == 100 + len(batch.departures) + len(batch.returns)
    assert all(row.traceparent is not None and '"traceparent"' in row.payload for row in batch.outbox)
    assert len(builder) == 0
