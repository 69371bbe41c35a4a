"""The registry's unit of work: the common one (one transaction, its events through the outbox) with the worker
repository attached, so use cases reach the data as `uow.workers` and never build a repository themselves."""

from __future__ import annotations

from demimas_common.db.uow import UnitOfWork
from demimas_registry.adapters.repository import WorkerRepository

__all__ = ["RegistryUnitOfWork"]


class RegistryUnitOfWork(UnitOfWork):
    workers: WorkerRepository

    def _begin(self) -> None:
        self.workers = WorkerRepository(self.connection)
