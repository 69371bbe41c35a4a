"""An in-memory registry for the use cases' unit tests: `InMemoryWorkers` keeps the contract of
`adapters.repository.WorkerRepository` that the handlers rely on (the NIK is unique and `add` answers with its
holder, `save` is conditional on the version, the village counters move by delta), and `uow` is a
`FakeUnitOfWork` holding it, so events count only when the use case commits."""

from __future__ import annotations

import copy
import uuid
from collections import Counter

import pytest

from demimas_common.db.fake_uow import FakeUnitOfWork
from demimas_common.errors import Conflict
from demimas_registry.domain.model import Departure, FamilyMember, Return, Worker
from demimas_registry.domain.registration import Registered
from demimas_registry.domain.stats import StatKey

VILLAGES = frozenset({"16.06.13.2001", "16.06.13.2002", "35.07.01.2001"})


class InMemoryWorkers:
    def __init__(self, villages: frozenset[str] = VILLAGES) -> None:
        self.villages = villages
        self.workers: dict[uuid.UUID, Worker] = {}
        self.departures: list[Departure] = []
        self.returns: list[Return] = []
        self.family: list[FamilyMember] = []
        self.stats: Counter[StatKey] = Counter()

    async def village_exists(self, code: str) -> bool:
        return code in self.villages

    async def get(self, worker_id: uuid.UUID) -> Worker | None:
        found = self.workers.get(worker_id)
        return copy.deepcopy(found) if found is not None else None  # a fresh read, as from the database

    async def add(self, worker: Worker, *, created_by: str | None) -> Registered | None:
        for existing in self.workers.values():
            if existing.nik == worker.nik:
                return Registered(existing.id, existing.village_code)
        self.workers[worker.id] = copy.deepcopy(worker)
        return None

    async def save(self, worker: Worker, *, expected_version: int) -> None:
        stored = self.workers.get(worker.id)
        if stored is None or stored.version != expected_version:
            raise Conflict(f"worker {worker.id} was changed by someone else", field="expectedVersion")
        self.departures += worker.new_departures
        self.returns += worker.new_returns
        worker.new_departures.clear()
        worker.new_returns.clear()
        self.workers[worker.id] = copy.deepcopy(worker)

    async def add_family_member(self, member: FamilyMember) -> None:
        self.family.append(member)

    async def apply_stats(self, changes: dict[StatKey, int]) -> None:
        self.stats.update(changes)

    def counters(self, village_code: str) -> dict[tuple[str, str], int]:
        """The village's non-zero counters, {(dimension, key): count}."""
        return {(d, k): n for (v, d, k), n in self.stats.items() if v == village_code and n}


class FakeRegistryUoW(FakeUnitOfWork):
    workers: InMemoryWorkers


@pytest.fixture
def workers() -> InMemoryWorkers:
    return InMemoryWorkers()


@pytest.fixture
def uow(workers: InMemoryWorkers) -> FakeRegistryUoW:
    return FakeRegistryUoW(workers=workers)
