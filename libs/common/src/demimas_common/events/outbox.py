"""Events as outbox rows for bulk writes: binary COPY of many events at once (`UnitOfWork.copy_events`).

`UnitOfWork.publish` writes a use case's few events through SQLAlchemy at commit. An import writes hundreds of
thousands: it turns each event into an `OutboxRecord` while preparing its batch (cheap and free of I/O, so a
worker thread can do it while the previous batch is written) and hands the records to `copy_events`. Either way
only libs/common knows the outbox's columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from demimas_common.events.envelope import CloudEvent
from demimas_common.events.schemas import validate_event

__all__ = ["OutboxRecord", "check_first_of_each_type", "copy_outbox_records", "first_of_each_type", "outbox_record"]


class OutboxRecord(NamedTuple):
    """One event as COPY writes it to the outbox; the fields are the columns written, in order (the others
    take their defaults)."""

    id: str
    type: str
    subject: str
    payload: str
    """The whole CloudEvent as JSON text (asyncpg takes a jsonb as text, and a uuid too)."""
    traceparent: str | None


def outbox_record(event: CloudEvent, traceparent: str | None = None) -> OutboxRecord:
    """`event` as an outbox row; `traceparent` is stamped on an event that has none, as `publish` does with
    the request's trace context. The payload is serialised here, once."""
    traceparent = event.traceparent or traceparent
    payload = event.to_dict()
    if traceparent is not None:
        payload["traceparent"] = traceparent
    return OutboxRecord(event.id, event.type, event.subject, orjson.dumps(payload).decode(), traceparent)


def first_of_each_type(records: Iterable[OutboxRecord]) -> list[OutboxRecord]:
    seen: dict[str, OutboxRecord] = {}
    for record in records:
        seen.setdefault(record.type, record)
    return list(seen.values())


def check_first_of_each_type(records: Iterable[OutboxRecord]) -> None:
    """The first event of each type against its JSON Schema (raises `InvalidEvent`). The events of one bulk
    write come from the same code: checking a million identical shapes would cost more than writing them."""
    for record in first_of_each_type(records):
        validate_event(CloudEvent.from_dict(orjson.loads(record.payload)))


async def copy_outbox_records(driver_connection: Any, schema: str, records: Sequence[OutboxRecord]) -> None:
    """Binary COPY of `records` into `<schema>.outbox` on an asyncpg connection, in its current transaction."""
    await driver_connection.copy_records_to_table(
        "outbox", schema_name=schema, columns=OutboxRecord._fields, records=records
    )
