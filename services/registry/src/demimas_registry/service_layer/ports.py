"""What the registry's use cases need from the outside world, as Protocols: the real unit of work
(`adapters.unit_of_work.RegistryUnitOfWork`) and the in-memory fakes of the unit tests both fit."""

from __future__ import annotations

import uuid
from typing import Protocol

from demimas_common.events.envelope import CloudEvent
from demimas_registry.domain.model import FamilyMember, Worker
from demimas_registry.domain.registration import Registered
from demimas_registry.domain.stats import StatKey

__all__ = ["RegistryUoW", "Workers"]


class Workers(Protocol):
    """Workers, their movements and families, and the village counters they move."""

    async def village_exists(self, code: str) -> bool: ...

    async def get(self, worker_id: uuid.UUID) -> Worker | None: ...

    async def add(self, worker: Worker, *, created_by: str | None) -> Registered | None:
        """Insert the worker unless its NIK is registered; then nothing is written and the holder is returned."""
        ...

    async def save(self, worker: Worker, *, expected_version: int) -> None:
        """Write the changed worker and its new movements; CONFLICT if its version is no longer
        `expected_version`."""
        ...

    async def add_family_member(self, member: FamilyMember) -> None: ...

    async def apply_stats(self, changes: dict[StatKey, int]) -> None: ...


class RegistryUoW(Protocol):
    """One transaction: the repositories, the events queued with `publish`, and `commit` (leaving without it
    drops both)."""

    @property
    def workers(self) -> Workers: ...

    def publish(self, event: CloudEvent) -> None: ...

    async def commit(self) -> None: ...
