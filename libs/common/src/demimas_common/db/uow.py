"""The unit of work: one transaction for a use case's changes and the events they cause (the outbox).

    async with UnitOfWork(engine, schema="registry", actor=actor) as uow:
        await repo(uow.connection).add(worker)
        uow.publish(new_event(...))
        await uow.commit()

Leaving the block without `commit()` rolls everything back, events included: an event exists if and only if its
change does. The relay publishes committed outbox rows to JetStream later.

A service subclasses it to reach its repositories through the unit of work (`uow.workers`), attaching them in
`_begin()`; use cases are written against the service's Protocol of it, so that `FakeUnitOfWork` (in
`demimas_common.db.fake_uow`) can stand in for it in fast unit tests.

A consumer's handler gets a unit of work *joined* to the consumer's transaction (`UnitOfWork.joining`): its
`commit()` writes the queued events there and leaves the commit to the consumer, which commits them together with
the inbox row and the handler's changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from demimas_common.events.envelope import Actor, CloudEvent
from demimas_common.events.outbox import OutboxRecord, check_first_of_each_type, copy_outbox_records
from demimas_common.events.schemas import validate_event
from demimas_common.events.tables import event_tables
from demimas_common.telemetry import current_traceparent

__all__ = ["UnitOfWork", "outbox_rows", "prepared_event"]


def outbox_rows(events: Iterable[CloudEvent]) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.UUID(event.id),
            "type": event.type,
            "subject": event.subject,
            "payload": event.to_dict(),
            "traceparent": event.traceparent,
        }
        for event in events
    ]


def prepared_event(event: CloudEvent, actor: Actor | None, traceparent: str | None) -> CloudEvent:
    """The event as a unit of work queues it: the trace context and the actor it does not name yet filled in from
    the unit's caller, then checked against its JSON Schema (raises `InvalidEvent`). The fake unit of work uses it
    too, so the two cannot drift apart."""
    if event.traceparent is None and traceparent is not None:
        event = event.with_traceparent(traceparent)
    if event.actoragency is None and actor is not None:
        event = event.with_actor(actor)
    validate_event(event)
    return event


class UnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine | None,
        *,
        schema: str,
        actor: Actor | None = None,
        traceparent: str | None = None,
        connection: AsyncConnection | None = None,
    ) -> None:
        if (engine is None) == (connection is None):
            raise ValueError("a unit of work takes an engine (it owns its transaction) or a connection (it joins one)")
        self._engine = engine
        self.schema = schema
        self.actor = actor
        self.traceparent = traceparent
        self._events: list[CloudEvent] = []
        self._joined = connection is not None
        self._connection: AsyncConnection | None = connection
        self._transaction: AsyncTransaction | None = None
        self.committed = False

    @classmethod
    def joining(
        cls, connection: AsyncConnection, *, schema: str, actor: Actor | None = None, traceparent: str | None = None
    ) -> Self:
        """A unit of work inside a transaction someone else owns (a consumer's): `commit()` only writes the events."""
        return cls(None, schema=schema, actor=actor, traceparent=traceparent, connection=connection)

    def _begin(self) -> None:
        """Called once the connection is open: subclasses attach their repositories to `self.connection` here."""

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._connection

    async def __aenter__(self) -> Self:
        if not self._joined:
            assert self._engine is not None
            self._connection = await self._engine.connect()
            self._transaction = await self._connection.begin()
        self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._joined:  # the owner of the transaction decides; events not committed are dropped
            self._events.clear()
            return
        try:
            if self._transaction is not None and self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            if self._connection is not None:
                await self._connection.close()
            self._connection = None
            self._transaction = None

    def publish(self, event: CloudEvent) -> None:
        """Queue an event; it is written to the outbox at commit, with this request's trace context and, when the
        event names no actor, the unit of work's (the caller's), so that every event of a request says who caused
        it. The payload is checked against its JSON Schema here, so a producer cannot emit an event that breaks the
        contract."""
        self._events.append(prepared_event(event, self.actor, self.traceparent or current_traceparent()))

    @property
    def pending_events(self) -> list[CloudEvent]:
        return list(self._events)

    async def flush_events(self) -> None:
        if self._events:
            await self.connection.execute(insert(event_tables(self.schema).outbox), outbox_rows(self._events))
            self._events.clear()

    async def commit(self) -> None:
        await self.flush_events()
        if not self._joined:
            assert self._transaction is not None
            await self._transaction.commit()
        self.committed = True

    async def driver_connection(self) -> Any:
        """The asyncpg connection under this unit, its transaction begun, for bulk work: COPY, and savepoints
        with its `transaction()` (nested in this unit's transaction, which still commits or rolls back all)."""
        driver: Any = (await self.connection.get_raw_connection()).driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter sends BEGIN with a transaction's first statement.
            await self.connection.exec_driver_sql("SELECT 1")
        return driver

    async def copy_events(self, records: Sequence[OutboxRecord]) -> None:
        """Write many events at once with binary COPY, in this unit's transaction (or in the savepoint the caller
        holds on `driver_connection()`): the bulk counterpart of `publish`, for imports. The records come from
        `demimas_common.events.outbox.outbox_record`. Unlike `publish`, which checks every event, this checks
        the first event of each type against its JSON Schema (`check_first_of_each_type`)."""
        if not records:
            return
        check_first_of_each_type(records)
        await copy_outbox_records(await self.driver_connection(), self.schema, records)
