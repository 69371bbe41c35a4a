"""The hash chain (pure): each record's hash is SHA-256 over the previous record's hash followed by the event in
canonical JSON (RFC 8785, the JSON Canonicalization Scheme), so changing, removing or inserting a record breaks the
chain at that record; signed checkpoints pin the head at moments in time.

`verify` walks records in sequence order and names each problem:
- REMOVED: a sequence number missing between two records (or before the first one asked for);
- MODIFIED: a record whose event no longer matches its hash, or whose hash was rewritten (the next record, or the
  writer's head, or a signed checkpoint, still holds the old one);
- INSERTED: a record beyond the writer's head (the writer never appended it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import rfc8785

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainVerifier",
    "ProblemKind",
    "Record",
    "as_doubles",
    "canonical",
    "link",
    "verify",
]

GENESIS = bytes(32)
"""The previous hash of the first record."""


class ProblemKind(StrEnum):
    MODIFIED = "MODIFIED"
    INSERTED = "INSERTED"
    REMOVED = "REMOVED"


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    event: Mapping[str, Any]
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: ProblemKind
    detail: str


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
    return hashlib.sha256(prev_hash + canonical(event)).digest()


class ChainVerifier:
    """Checks records fed one by one in sequence order (so a long chain needs no more memory than one record).

    `prev_hash` is the hash the first record must link to (None when unknown, e.g. the record before it is gone);
    `head_seq`/`head_hash` are what the writer last appended; `anchors` are signed checkpoint hashes by sequence."""

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

    def add(self, r: Record) -> None:
        self.checked += 1
        if r.seq > self.head_seq:
            self.problems.append(
                ChainProblem(r.seq, ProblemKind.INSERTED, f"beyond the writer's head ({self.head_seq})")
            )
            return
        if r.seq > self.expected_seq:
            self._removed(self.expected_seq, r.seq - 1)
            self.expected_prev = None
        if link(r.prev_hash, r.event) != r.hash:
            self.problems.append(ChainProblem(r.seq, ProblemKind.MODIFIED, "the event no longer matches its hash"))
        elif self.expected_prev is not None and r.prev_hash != self.expected_prev and self.previous is not None:
            self.problems.append(
                ChainProblem(
                    self.previous.seq,
                    ProblemKind.MODIFIED,
                    f"its hash was rewritten (record {r.seq} links to another one)",
                )
            )
        anchor = self.anchors.get(r.seq)
        if anchor is not None and anchor != r.hash:
            self.problems.append(ChainProblem(r.seq, ProblemKind.MODIFIED, "its hash differs from a signed checkpoint"))
        self.previous, self.expected_seq, self.expected_prev = r, r.seq + 1, r.hash

    def _removed(self, first: int, last: int) -> None:
        missing = f"{first}..{last}" if last > first else f"{first}"
        self.problems.extend(
            ChainProblem(s, ProblemKind.REMOVED, f"records {missing} are missing") for s in range(first, last + 1)
        )

    def finish(self) -> tuple[int, list[ChainProblem]]:
        p = self.previous
        if p is not None and p.seq == self.head_seq and self.head_hash is not None and p.hash != self.head_hash:
            self.problems.append(ChainProblem(p.seq, ProblemKind.MODIFIED, "its hash differs from the writer's head"))
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
    seen: set[tuple[int, ProblemKind]] = set()
    result = []
    for p in sorted(problems, key=lambda p: (p.seq, p.kind)):
        if (p.seq, p.kind) not in seen:
            seen.add((p.seq, p.kind))
            result.append(p)
    return result
