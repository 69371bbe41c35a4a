"""The registry's per-request GraphQL context: the caller, DataLoaders and the personal-data gate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext
from demimas_registry.adapters.queries import RegistryQueries
from demimas_registry.adapters.unit_of_work import RegistryUnitOfWork
from demimas_registry.domain.model import Departure, FamilyMember, Return
from demimas_registry.domain.stats import MigrantStats
from demimas_registry.entrypoints.graphql.personal_data import PersonalDataGate

__all__ = ["Ctx", "Loaders", "RegistryContext"]


@dataclass
class Loaders:
    villages: DataLoader[str, Any]
    stats: DataLoader[str, MigrantStats]
    region_stats: DataLoader[str, MigrantStats]
    departures: DataLoader[uuid.UUID, list[Departure]]
    returns: DataLoader[uuid.UUID, list[Return]]
    family: DataLoader[uuid.UUID, list[FamilyMember]]
    family_member: DataLoader[uuid.UUID, tuple[FamilyMember, str] | None]
    """A family member by its id, with its worker's village code."""
    departure: DataLoader[uuid.UUID, Departure | None]

    @classmethod
    def create(cls, queries: RegistryQueries) -> Loaders:
        async def villages(codes: list[str]) -> list[Any]:
            found = await queries.villages_by_code(codes)
            return [found.get(code) for code in codes]

        async def stats(codes: list[str]) -> list[MigrantStats]:
            found = await queries.stats_by_village(codes)
            return [found[code] for code in codes]

        async def region_stats(prefixes: list[str]) -> list[MigrantStats]:
            found = await queries.stats_by_region(prefixes)
            return [found[prefix] for prefix in prefixes]

        async def departures(ids: list[uuid.UUID]) -> list[list[Departure]]:
            found = await queries.departures_by_worker(ids)
            return [found[i] for i in ids]

        async def returns(ids: list[uuid.UUID]) -> list[list[Return]]:
            found = await queries.returns_by_worker(ids)
            return [found[i] for i in ids]

        async def family(ids: list[uuid.UUID]) -> list[list[FamilyMember]]:
            found = await queries.family_by_worker(ids)
            return [found[i] for i in ids]

        async def family_member(ids: list[uuid.UUID]) -> list[tuple[FamilyMember, str] | None]:
            found = await queries.family_members_by_id(ids)
            return [found.get(i) for i in ids]

        async def departure(ids: list[uuid.UUID]) -> list[Departure | None]:
            found = await queries.departures_by_id(ids)
            return [found.get(i) for i in ids]

        return cls(
            departure=DataLoader(departure),
            villages=DataLoader(villages),
            stats=DataLoader(stats),
            region_stats=DataLoader(region_stats),
            departures=DataLoader(departures),
            returns=DataLoader(returns),
            family=DataLoader(family),
            family_member=DataLoader(family_member),
        )


class RegistryContext(ServiceContext[RegistryUnitOfWork]):
    """The common service context with the registry's read queries, its DataLoaders and the personal-data gate
    (which records every read of a person)."""

    def __init__(self, principal: Principal | None, *, queries: RegistryQueries, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.queries = queries
        self.registry_loaders = Loaders.create(queries)
        self.personal_data = PersonalDataGate(self.unit_of_work, principal, operation=lambda: self.operation)

    def renew(self) -> None:
        """Fresh loaders and a gate for the current caller: per operation on a WebSocket (whose caller may come
        from `connection_init`, after this context was made) and per event of a subscription."""
        super().renew()
        self.registry_loaders = Loaders.create(self.queries)
        self.personal_data = PersonalDataGate(self.unit_of_work, self.principal, operation=lambda: self.operation)

    @classmethod
    def factory(cls, engine: AsyncEngine) -> Callable[..., RegistryContext]:
        """The per-request constructor the service skeleton calls; the queries (prepared statements) are shared."""
        return partial(cls, queries=RegistryQueries(engine))


Ctx = Info[RegistryContext, None]
"""The `info` of every registry resolver."""
