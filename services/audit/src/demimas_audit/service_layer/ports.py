"""What the audit's use cases need from the outside world, as Protocols: the real unit of work
(`adapters.unit_of_work.AuditUnitOfWork`) and gateway client (`adapters.gateway.GatewayClient`), and the
in-memory fakes of the unit tests, all fit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from demimas_audit.domain.chain import Record
from demimas_audit.domain.checkpoint import Checkpoint
from demimas_audit.domain.ingest import Head, Prepared

__all__ = ["AuditUoW", "Chain", "Checkpoints", "Gateway"]


class Chain(Protocol):
    """The hash chain as stored: its head, the events it holds, appending, and its records in order."""

    async def head(self) -> Head: ...

    async def stream_position(self) -> int:
        """The last stream sequence the chain has read (0 before any)."""
        ...

    async def stored_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `ids` that are the event id of a stored record."""
        ...

    async def append(self, p: Prepared) -> None:
        """Write the batch's gaps and records and move the head to its end; `HeadMoved` if the chain no longer
        ends where the batch was linked."""
        ...

    def records_in_order(self) -> AsyncIterator[Record]: ...


class Checkpoints(Protocol):
    async def last_seq(self) -> int | None: ...

    async def last(self) -> Checkpoint | None:
        """The stored checkpoint at the highest sequence, if any."""
        ...

    async def add(self, cp: Checkpoint) -> None:
        """Store it; one already stored at its sequence is kept."""
        ...

    async def all(self) -> list[Checkpoint]: ...


class AuditUoW(Protocol):
    """One transaction over the audit store: the repositories and `commit` (leaving without it rolls back). No
    `publish`: the audit publishes no event."""

    @property
    def chain(self) -> Chain: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    async def commit(self) -> None: ...


class Gateway(Protocol):
    """The gateway, as the data-subject report sends its operation through it."""

    async def post(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        """The gateway's JSON answer (data and errors); Unavailable if it does not answer."""
        ...
