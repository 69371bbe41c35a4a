"""What appending a batch of the stream to the chain means, with no I/O: which message is an event (`incoming`),
and how a batch is linked to the chain's end (`prepare`): what was read before and events stored already are skipped,
gaps in the stream sequence are noted, and each new record is hashed onto the previous hash in format 2, with the
query columns derived from the event.

The linked batch (`Prepared`) holds its records column by column (`RECORD_COLUMNS`, one list each), the form in which
the store inserts a whole batch with one statement: building it here, once, is the ingest's fast path."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

import orjson

from demimas_audit.domain.chain import canonical, digests, link_digests
from demimas_audit.domain.envelope import DERIVED_COLUMNS, derive

__all__ = ["RECORD_COLUMNS", "Head", "HeadMoved", "Incoming", "Prepared", "incoming", "prepare"]

RECORD_COLUMNS = ("seq", "stream_seq", *DERIVED_COLUMNS, "event", "prev_hash", "hash", "recorded_at", "digests")
"""The columns of a record as `prepare` fills them (`event` is its canonical text)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message of the stream: its sequence and the event as received (a JSON object)."""

    stream_seq: int
    body: dict[str, Any]


def incoming(stream_seq: int, data: bytes) -> Incoming | None:
    """The message as an event to chain, or None if it is not a JSON object. Nothing else is checked: an event that
    breaks its contract is still evidence (one left out here shows as a gap in the stream sequence)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return Incoming(stream_seq, body) if isinstance(body, dict) else None


@dataclass(frozen=True, slots=True)
class Head:
    """Where the chain ends: its last sequence and hash, and the last stream sequence read."""

    seq: int
    hash: bytes
    stream_seq: int


@dataclass
class Prepared:
    """A batch linked to the chain in memory, to be written right after `start` (and only there)."""

    start: Head
    end: Head
    rows: dict[str, list[Any]]
    """`RECORD_COLUMNS`, each a list with one value per new record"""
    gaps: list[tuple[int, int, int]]
    """(first missing stream sequence, last one, the chain sequence they follow)"""
    ids: set[uuid.UUID]
    """the event ids of the new records"""

    @property
    def added(self) -> int:
        return len(self.rows["seq"])


class HeadMoved(RuntimeError):
    """The chain's head is not where the batch was linked: another writer, or a lost update. Re-read from the head."""


def prepare(
    batch: Sequence[Incoming], start: Head, stored: Set[uuid.UUID], *, now: dt.datetime | None = None
) -> Prepared:
    """Link the batch (in stream order) to the chain that ends at `start`; `stored` holds the ids of the batch's
    events that the chain already has (a republished event is chained once)."""
    now = now or dt.datetime.now(dt.UTC)
    seq, prev, last_stream = start.seq, start.hash, start.stream_seq
    rows: dict[str, list[Any]] = {c: [] for c in RECORD_COLUMNS}
    found_gaps: list[tuple[int, int, int]] = []
    added: set[uuid.UUID] = set()
    for m in batch:
        if m.stream_seq <= last_stream:  # read before (a redelivery after a reconnect)
            continue
        if m.stream_seq > last_stream + 1:
            found_gaps.append((last_stream + 1, m.stream_seq - 1, seq))
        last_stream = m.stream_seq
        derived = derive(m.body, stream_seq=m.stream_seq, recorded_at=now)
        if derived["event_id"] in stored or derived["event_id"] in added:  # the same event again (republished)
            continue
        added.add(derived["event_id"])
        canon = canonical(m.body)
        record_digests = digests(canon, m.stream_seq, now)
        digest = link_digests(prev, record_digests)
        seq += 1
        values = {
            "seq": seq,
            "stream_seq": m.stream_seq,
            **derived,
            "event": canon.decode(),
            "prev_hash": prev,
            "hash": digest,
            "recorded_at": now,
            "digests": record_digests,
        }
        for c, v in values.items():
            rows[c].append(v)
        prev = digest
    return Prepared(start, Head(seq, prev, last_stream), rows, found_gaps, added)
