"""The columns of a record that are read from its event (pure): the writer stores them so that queries can filter
and sort with indexes, and verification derives them again from the hashed event and compares. One function does
both, so what is written and what is checked cannot drift apart.

Every value comes from the event itself, except two fallbacks that come from the record's other hashed facts: an
event without a usable `id` is stored under an id derived from its stream sequence, and an event without a usable
`time` under the moment the store recorded it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["DERIVED_COLUMNS", "derive", "event_id", "event_time"]

DERIVED_COLUMNS = (
    "event_id",
    "type",
    "source",
    "subject",
    "time",
    "actor_agency",
    "actor_sub",
    "trace_id",
    "causation_id",
    "correlation_id",
)


def _trace_id(traceparent: object) -> str | None:
    if isinstance(traceparent, str) and len(traceparent) == 55 and traceparent[2] == "-":
        return traceparent[3:35]
    return None


def event_id(event: Mapping[str, Any], stream_seq: int) -> uuid.UUID:
    """The event's `id`, or (when it is not a UUID) one derived from its place in the stream."""
    try:
        return uuid.UUID(str(event.get("id")))
    except ValueError:  # an envelope without a usable id is kept too, under an id derived from its place
        return uuid.uuid5(uuid.NAMESPACE_URL, f"demimas-stream:{stream_seq}")


def event_time(event: Mapping[str, Any]) -> dt.datetime | None:
    """The event's own `time`, when it is an ISO 8601 instant (one without an offset is taken as UTC, as PostgreSQL
    stores it); None otherwise."""
    try:
        parsed = dt.datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _text(value: object) -> str | None:
    """An optional envelope attribute: a string, or nothing (a number or an object there is not an attribute)."""
    return value if isinstance(value, str) else None


def derive(event: Mapping[str, Any], *, stream_seq: int, recorded_at: dt.datetime) -> dict[str, Any]:
    """The value of each column of `DERIVED_COLUMNS` for this event, as the writer stores it."""
    return {
        "event_id": event_id(event, stream_seq),
        "type": str(event.get("type", "")),
        "source": str(event.get("source", "")),
        "subject": str(event.get("subject", "")),
        "time": event_time(event) or recorded_at,
        "actor_agency": _text(event.get("actoragency")),
        "actor_sub": _text(event.get("actorsub")),
        "trace_id": _trace_id(event.get("traceparent")),
        "causation_id": _text(event.get("causationid")),
        "correlation_id": _text(event.get("correlationid")),
    }
