"""An in-memory stand-in for `UnitOfWork`, for fast unit tests of service-layer rules.

It keeps the contract that matters to a use case: events queued with `publish()` are checked against their JSON
Schema as the real one does, and they count (`published`) only once `commit()` is called inside the block; leaving
the block without a commit drops them, as a rollback would. A service's fake adds its in-memory repositories as
attributes (`FakeUnitOfWork(workers=InMemoryWorkers())`), matching the attributes its real unit of work attaches
in `_begin()`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from demimas_common.db.uow import prepared_event
from demimas_common.events.envelope import Actor, CloudEvent

__all__ = ["FakeUnitOfWork"]


class FakeUnitOfWork:
    def __init__(
        self, *, schema: str = "fake", actor: Actor | None = None, traceparent: str | None = None, **repositories: Any
    ) -> None:
        self.schema = schema
        self.actor = actor
        self.traceparent = traceparent
        self.published: list[CloudEvent] = []
        """Events of committed blocks, in order."""
        self.commits = 0
        self.rollbacks = 0
        self._pending: list[CloudEvent] = []
        for name, repository in repositories.items():
            setattr(self, name, repository)

    @property
    def committed(self) -> bool:
        return self.commits > 0

    async def __aenter__(self) -> Self:
        self._pending = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pending:
            self.rollbacks += 1
        self._pending = []

    def publish(self, event: CloudEvent) -> None:
        self._pending.append(prepared_event(event, self.actor, self.traceparent))

    @property
    def pending_events(self) -> list[CloudEvent]:
        return list(self._pending)

    async def flush_events(self) -> None:
        """Nothing to write: events count at commit."""

    async def commit(self) -> None:
        self.published.extend(self._pending)
        self._pending = []
        self.commits += 1

    def types(self) -> list[str]:
        """The types of the published events, for short assertions."""
        return [event.type for event in self.published]
