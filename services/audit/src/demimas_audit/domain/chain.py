"""The hash chain (pure): each record's hash is SHA-256 over the previous record's hash followed by what the record
holds, so changing, removing or inserting a record breaks the chain at that record; signed checkpoints pin the head
at moments in time.

Two record formats, told apart by the `digests` column (a record cannot be moved from one to the other without a new
hash, which the next record's link, the writer's head and the checkpoints still contradict):
- format 1 (records written before migration 0002): SHA-256(previous hash + the event in canonical JSON, RFC 8785).
  Existing hashes, checkpoints and exports keep verifying exactly as before;
- format 2: SHA-256(previous hash + "demimas-audit-record/2\n" + digests), where `digests` is one SHA-256 per hashed
  column (`HASHED_COLUMNS`: the event, the stream sequence, the moment the store recorded it), stored with the
  record. The chain covers the writer's own facts as well as the event, and a verifier that finds a column
  disagreeing with its digest can say which column it is (one hash alone only says that something changed).

The columns the queries filter on (type, agency, subject, time...) are not hashed: they are derived from the hashed
event (`envelope.derive`) and compared, so the store keeps its plain, indexed columns and old records stay covered.

`verify` walks records in sequence order and names each problem with the record and, where it can be told, the
column:
- REMOVED: a sequence number missing between two records (or before the first one asked for);
- MODIFIED: a record whose event, hashed column or derived column no longer matches its hash, or whose hash or
  previous hash was rewritten (the next record, or the writer's head, or a signed checkpoint, still holds the old
  one);
- INSERTED: a record beyond the writer's head (the writer never appended it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import rfc8785

from demimas_audit.domain.envelope import DERIVED_COLUMNS, derive, event_time

__all__ = [
    "FORMAT_2",
    "GENESIS",
    "HASHED_COLUMNS",
    "ChainProblem",
    "ChainVerifier",
    "ProblemKind",
    "Record",
    "as_doubles",
    "canonical",
    "digests",
    "link",
    "link_digests",
    "verify",
]

GENESIS = bytes(32)
"""The previous hash of the first record."""


class ProblemKind(StrEnum):
    MODIFIED = "MODIFIED"
    INSERTED = "INSERTED"
    REMOVED = "REMOVED"


FORMAT_2 = b"demimas-audit-record/2\n"
"""What follows the previous hash in a format-2 record's hashed bytes (a format-1 record's event starts with `{`)."""
HASHED_COLUMNS = ("event", "stream_seq", "recorded_at")
"""The columns a format-2 record's hash covers, in the order of their digests."""
_DIGEST = 32


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    event: Mapping[str, Any]
    prev_hash: bytes
    hash: bytes
    stream_seq: int | None = None
    recorded_at: dt.datetime | None = None
    digests: bytes | None = None
    """One SHA-256 per hashed column (format 2); None for a format-1 record."""
    columns: Mapping[str, Any] | None = None
    """The stored values of the derived columns (`envelope.DERIVED_COLUMNS`), checked against the event; None where
    the record is known by its event alone (an export)."""


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: ProblemKind
    detail: str
    column: str | None = None
    """The column of `audit.records` that disagrees, when it can be told."""


_SAFE_INTEGER = 2**53
# A float token as orjson writes it (always with a fraction or an exponent), between JSON punctuation. The same
# text inside a string matches too: that only sends the event to the slower reference path.
_FLOAT = re.compile(rb"[:,\[]-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)[,\]}]")
_AFTER_BMP_PRIVATE = re.compile(rb"[\xee-\xf4]")  # UTF-8 lead bytes of U+E000 and up


def canonical(event: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of the event. orjson with sorted keys writes exactly those bytes for the JSON our contracts
    produce (ten times faster; a test checks it against the reference implementation); the reference `rfc8785`
    takes over when the output holds what orjson writes differently: a float (RFC 8785 spells numbers as ECMAScript
    does), an integer beyond 2^53 (refused by OPT_STRICT_INTEGER), or a character from U+E000 up (keys sort by UTF-16
    code units, where those order differently)."""
    try:
        out = orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:
        return rfc8785.dumps(as_doubles(event))
    if _FLOAT.search(out) or _AFTER_BMP_PRIVATE.search(out):
        return rfc8785.dumps(as_doubles(event))
    return out


def as_doubles(value: Any) -> Any:
    """JSON numbers are IEEE doubles in RFC 8785 (as in JavaScript): an integer beyond 2^53 becomes the nearest
    double, as any JSON.parse would make it."""
    if type(value) is int and not -_SAFE_INTEGER < value < _SAFE_INTEGER:
        return float(value)
    if isinstance(value, dict):
        return {k: as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_doubles(v) for v in value]
    return value


def link(prev_hash: bytes, event: Mapping[str, Any]) -> bytes:
    """A format-1 record's hash."""
    return hashlib.sha256(prev_hash + canonical(event)).digest()


def _recorded_text(at: dt.datetime) -> bytes:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").encode()


def digests(canonical_event: bytes, stream_seq: int, recorded_at: dt.datetime) -> bytes:
    """The digests of a format-2 record's hashed columns, in `HASHED_COLUMNS` order: SHA-256 of the column's name, a
    NUL and its value (the event in canonical JSON, the stream sequence in decimal, the recording time in ISO 8601,
    UTC, to the microsecond as PostgreSQL keeps it)."""
    values = (canonical_event, str(stream_seq).encode(), _recorded_text(recorded_at))
    pairs = zip(HASHED_COLUMNS, values, strict=True)
    return b"".join(hashlib.sha256(name.encode() + b"\0" + value).digest() for name, value in pairs)


def link_digests(prev_hash: bytes, record_digests: bytes) -> bytes:
    """A format-2 record's hash."""
    return hashlib.sha256(prev_hash + FORMAT_2 + record_digests).digest()


class ChainVerifier:
    """Checks records fed one by one in sequence order (so a long chain needs no more memory than one record).

    `prev_hash` is the hash the first record must link to (None when unknown, e.g. the record before it is gone);
    `head_seq`/`head_hash` are what the writer last appended; `anchors` are signed checkpoint hashes by sequence.

    Which column changed is told by elimination: a record whose hash still follows from its stored digests (or, in
    format 1, from its event) and from the previous record's hash is intact but for the columns that disagree with
    their digests or with the event; one whose hash follows only from the previous record's hash had its previous
    hash rewritten; one whose hash follows from its recomputed digests only had its digests rewritten. A format-1
    record whose event no longer links is told apart from one whose hash was rewritten by what vouches for the old
    hash: the next record's link, the writer's head or a signed checkpoint."""

    def __init__(
        self,
        *,
        first_seq: int,
        last_seq: int,
        prev_hash: bytes | None,
        head_seq: int,
        head_hash: bytes | None,
        anchors: Mapping[int, bytes] | None = None,
    ) -> None:
        self.last_seq, self.head_seq, self.head_hash = last_seq, head_seq, head_hash
        self.anchors = anchors or {}
        self.problems: list[ChainProblem] = []
        self.expected_seq, self.expected_prev = first_seq, prev_hash
        self.previous: Record | None = None
        self.checked = 0
        self._format_2_seen = False
        self._unexplained: tuple[Record, bytes] | None = None
        """A format-1 record whose hash does not follow from its event, and the hash its event would give."""

    def _problem(self, seq: int, column: str, detail: str) -> None:
        self.problems.append(ChainProblem(seq, ProblemKind.MODIFIED, detail, column))

    def add(self, r: Record) -> None:
        self.checked += 1
        if self._unexplained is not None:
            self._explain(*self._unexplained, r.prev_hash if r.seq == self._unexplained[0].seq + 1 else None)
        if r.seq > self.head_seq:
            self.problems.append(
                ChainProblem(r.seq, ProblemKind.INSERTED, f"beyond the writer's head ({self.head_seq})", "seq")
            )
            return
        if r.seq > self.expected_seq:
            self._removed(self.expected_seq, r.seq - 1)
            self.expected_prev = None
        linked_by = self._check_format_2(r) if r.digests is not None else self._check_format_1(r)
        rewritten = linked_by is not None and self.expected_prev is not None and linked_by != self.expected_prev
        if rewritten and self.previous is not None:
            self._problem(self.previous.seq, "hash", f"its hash was rewritten (record {r.seq} links to another one)")
        if r.columns is not None:
            self._check_derived(r)
        anchor = self.anchors.get(r.seq)
        if anchor is not None and anchor != r.hash:
            self._problem(r.seq, "hash", "its hash differs from a signed checkpoint")
        self.previous, self.expected_seq, self.expected_prev = r, r.seq + 1, r.hash

    def _previous_hashes(self, r: Record) -> list[bytes]:
        """The previous hashes the record may have been linked to: its own, and the previous record's."""
        if self.expected_prev is None or self.expected_prev == r.prev_hash:
            return [r.prev_hash]
        return [r.prev_hash, self.expected_prev]

    def _check_format_1(self, r: Record) -> bytes | None:
        """The previous hash the record's hash follows from (None when it follows from none)."""
        prevs = self._previous_hashes(r)
        linked = next((p for p in prevs if link(p, r.event) == r.hash), None)
        if linked is None:
            recomputed = self._digests(r)
            linked = next((p for p in prevs if recomputed and link_digests(p, recomputed) == r.hash), None)
            if linked is None:
                self._unexplained = (r, link(r.prev_hash, r.event))
                return None
            self._problem(r.seq, "digests", "its digests were removed (its columns still match its hash)")
        elif self._format_2_seen:
            self._problem(r.seq, "digests", "it is in format 1 after records in format 2 (only a rewrite does that)")
        if linked != r.prev_hash:
            self._problem(r.seq, "prev_hash", "its previous hash was rewritten (its hash follows from another)")
        return linked

    @staticmethod
    def _digests(r: Record) -> bytes | None:
        """The digests of the record's hashed columns as they are now (None when the record does not hold them)."""
        if r.stream_seq is None or r.recorded_at is None:
            return None
        return digests(canonical(r.event), r.stream_seq, r.recorded_at)

    def _check_format_2(self, r: Record) -> bytes | None:
        """As `_check_format_1`, for a record with digests."""
        self._format_2_seen = True
        stored = r.digests or b""
        recomputed = self._digests(r)
        for prev in self._previous_hashes(r):
            if link_digests(prev, stored) == r.hash:
                if recomputed is not None:
                    for i, column in enumerate(HASHED_COLUMNS):
                        part = slice(i * _DIGEST, (i + 1) * _DIGEST)
                        if stored[part] != recomputed[part]:
                            self._problem(r.seq, column, f"the {column} no longer matches its hash")
                break
            if recomputed is not None and link_digests(prev, recomputed) == r.hash:
                self._problem(r.seq, "digests", "its digests were rewritten (its columns still match its hash)")
                break
        else:
            if recomputed is not None and recomputed != stored:
                self._problem(r.seq, "hash", "its hash follows neither from its columns nor from its digests")
            else:
                self._problem(r.seq, "hash", "its hash was rewritten (its columns still match their digests)")
            return None
        if prev != r.prev_hash:
            self._problem(r.seq, "prev_hash", "its previous hash was rewritten (its hash follows from another)")
        return prev

    def _explain(self, r: Record, from_event: bytes, vouched: bytes | None) -> None:
        """Settle a format-1 record whose hash did not follow from its event, once the next link (or the head) is
        known: if what vouches for its hash is the hash its event gives, its hash column was rewritten."""
        self._unexplained = None
        if from_event in (vouched, self.anchors.get(r.seq)):
            self._problem(r.seq, "hash", "its hash was rewritten (its event still links to the chain)")
        else:
            self._problem(r.seq, "event", "the event no longer matches its hash")

    def _check_derived(self, r: Record) -> None:
        stored = r.columns or {}
        if r.stream_seq is None or r.recorded_at is None:
            return
        expected = derive(r.event, stream_seq=r.stream_seq, recorded_at=r.recorded_at)
        for column in DERIVED_COLUMNS:
            if stored.get(column) == expected[column]:
                continue
            if column == "time" and r.digests is None and event_time(r.event) is None:
                continue  # a format-1 record of an event without a usable time: stored at an unrecorded moment
            self._problem(
                r.seq, column, f"{column} is {stored.get(column)!r} in the table but {expected[column]!r} in its event"
            )

    def _removed(self, first: int, last: int) -> None:
        missing = f"{first}..{last}" if last > first else f"{first}"
        self.problems.extend(
            ChainProblem(s, ProblemKind.REMOVED, f"records {missing} are missing", "seq")
            for s in range(first, last + 1)
        )

    def finish(self) -> tuple[int, list[ChainProblem]]:
        if self._unexplained is not None:
            self._explain(*self._unexplained, self.head_hash if self._unexplained[0].seq == self.head_seq else None)
        p = self.previous
        if p is not None and p.seq == self.head_seq and self.head_hash is not None and p.hash != self.head_hash:
            self._problem(p.seq, "hash", "its hash differs from the writer's head")
        if self.expected_seq <= self.last_seq:
            self._removed(self.expected_seq, self.last_seq)
        return self.checked, _unique(self.problems)


def verify(
    records: Iterable[Record],
    *,
    first_seq: int,
    last_seq: int,
    prev_hash: bytes | None,
    head_seq: int,
    head_hash: bytes | None,
    anchors: Mapping[int, bytes] | None = None,
) -> tuple[int, list[ChainProblem]]:
    """(records checked, problems) for the records of sequences `first_seq`..`last_seq` (and any beyond the head),
    given in order; see `ChainVerifier`."""
    verifier = ChainVerifier(
        first_seq=first_seq,
        last_seq=last_seq,
        prev_hash=prev_hash,
        head_seq=head_seq,
        head_hash=head_hash,
        anchors=anchors,
    )
    for r in records:
        verifier.add(r)
    return verifier.finish()


def _unique(problems: list[ChainProblem]) -> list[ChainProblem]:
    """One problem per record, kind and column (the first found says the most), in sequence order."""
    seen: set[tuple[int, ProblemKind, str | None]] = set()
    result = []
    for p in sorted(problems, key=lambda p: (p.seq, p.kind)):
        if (p.seq, p.kind, p.column) not in seen:
            seen.add((p.seq, p.kind, p.column))
            result.append(p)
    return result
