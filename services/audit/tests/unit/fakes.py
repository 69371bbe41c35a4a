"""In-memory stand-ins for the audit's repositories and gateway, for fast tests of the service layer.

They keep the rules the use cases rely on: a batch is appended only right after the head it was linked to
(`HeadMoved` otherwise), appending moves the head, a checkpoint already stored at a sequence is kept. Unlike a
database, what a use case wrote is kept even without a commit: the tests check `uow.commits` for that."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson

from demimas_audit.domain.chain import GENESIS, Record
from demimas_audit.domain.checkpoint import Checkpoint
from demimas_audit.domain.ingest import Head, HeadMoved, Prepared
from demimas_common.db.fake_uow import FakeUnitOfWork

__all__ = ["FakeGateway", "InMemoryChain", "InMemoryCheckpoints", "fake_uow"]


class InMemoryChain:
    def __init__(self) -> None:
        self.current = Head(0, GENESIS, 0)
        self.records: list[dict[str, Any]] = []
        self.gaps: list[tuple[int, int, int]] = []
        self.appends = 0

    async def head(self) -> Head:
        return self.current

    async def stream_position(self) -> int:
        return self.current.stream_seq

    async def stored_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        held = {r["event_id"] for r in self.records}
        return {i for i in ids if i in held}

    async def append(self, p: Prepared) -> None:
        if p.start != self.current:
            raise HeadMoved(f"the chain no longer ends at {p.start.seq}")
        columns = list(p.rows)
        self.records += [dict(zip(columns, values, strict=True)) for values in zip(*p.rows.values(), strict=True)]
        self.gaps += p.gaps
        self.current = p.end
        self.appends += 1

    async def records_in_order(self) -> AsyncIterator[Record]:
        for r in self.records:
            yield Record(r["seq"], orjson.loads(r["event"]), r["prev_hash"], r["hash"], stream_seq=r["stream_seq"],
                         recorded_at=r["recorded_at"], digests=r["digests"])  # fmt: skip


class InMemoryCheckpoints:
    def __init__(self) -> None:
        self.stored: dict[int, Checkpoint] = {}

    async def last_seq(self) -> int | None:
        return max(self.stored, default=None)

    async def last(self) -> Checkpoint | None:
        return self.stored[max(self.stored)] if self.stored else None

    async def add(self, cp: Checkpoint) -> None:
        self.stored.setdefault(cp.seq, cp)

    async def all(self) -> list[Checkpoint]:
        return [self.stored[s] for s in sorted(self.stored)]


def fake_uow(chain: InMemoryChain | None = None, checkpoints: InMemoryCheckpoints | None = None) -> FakeUnitOfWork:
    """A unit of work over the given (or new, empty) in-memory repositories."""
    chain, checkpoints = chain or InMemoryChain(), checkpoints or InMemoryCheckpoints()
    return FakeUnitOfWork(schema="audit", chain=chain, checkpoints=checkpoints)


class FakeGateway:
    """Answers every operation with `answer`, keeping what was sent."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        self.answer = dict(answer)
        self.sent: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def post(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        self.sent.append((dict(body), dict(headers)))
        return self.answer
