"""The pillars schema migrated on the session's devstack, an engine with the service's runtime role, principals of
each agency, and real Kemendagri village codes no other test of the session uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent
from demimas_pillars.adapters.tables import SCHEMA
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.app import SERVICE
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.ports import PillarsUoW

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
SETTINGS = DeliverySettings(clock=lambda: NOW)
"""The tests' delivery settings: a fixed clock."""
TODAY = NOW.date()
C = TypeVar("C")
R = TypeVar("R")


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("pillars")), pool_size=3)
    yield engine
    await engine.dispose()


village = FreshVillages(Path(__file__).resolve().parents[4])
"""A real village code (in `regency` when given, e.g. 16.06) that this session has not handed out before, in no
district an end-to-end test or an example names."""


def principal(agency: str, region: str | None = None) -> Principal:
    a = Agency(agency)
    return Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region)


async def act(
    engine: AsyncEngine,
    principal: Principal,
    handler: Callable[[C, PillarsUoW, Principal, DeliverySettings], Awaitable[R]],
    cmd: C,
    settings: DeliverySettings | None = None,
) -> R:
    """A use case as a resolver runs it: in a unit of work of its own, by `principal`."""
    async with PillarsUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        return await handler(cmd, uow, principal, settings or SETTINGS)


async def consume(engine: AsyncEngine, handler: Callable[[CloudEvent, PillarsUoW], Awaitable[None]],
                  event: CloudEvent) -> None:  # fmt: skip
    """A consumer's handler on one event, as the consumer runs it: joined to a transaction the caller commits."""
    async with engine.begin() as conn, PillarsUnitOfWork.joining(conn, schema=SCHEMA) as uow:
        await handler(event, uow)
