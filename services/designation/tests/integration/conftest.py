"""The designation schema migrated on the session's devstack, an engine with the service's runtime role, village
codes no other test uses, and use cases and consumer handlers run in a unit of work of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_designation.adapters.tables import SCHEMA
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.app import SERVICE
from demimas_designation.service_layer.ports import DesignationUoW
from demimas_designation.service_layer.proposals import WorkflowSettings

C = TypeVar("C")
R = TypeVar("R")
SETTINGS = WorkflowSettings(procedural_threshold=0.8)


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("designation")), pool_size=2)
    yield engine
    await engine.dispose()


village = FreshVillages(Path(__file__).resolve().parents[4])
"""A real village code (in `regency` when given, e.g. 16.06) that this session has not handed out before, in no
district an end-to-end test or an example names."""


async def run(
    engine: AsyncEngine,
    handler: Callable[[C, DesignationUoW, Principal, WorkflowSettings], Awaitable[R]],
    command: C,
    principal: Principal,
    settings: WorkflowSettings = SETTINGS,
) -> R:
    """A use case as the GraphQL resolvers run it: in a unit of work of its own, which the handler commits."""
    async with DesignationUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        return await handler(command, uow, principal, settings)


async def consume(engine: AsyncEngine, handler: Callable[[C, DesignationUoW], Awaitable[None]], events: C) -> None:
    """A consumer's handler on one event or a batch, in a transaction of its own (the consumer's inbox left out)."""
    async with DesignationUnitOfWork(engine, schema=SCHEMA) as uow:
        await handler(events, uow)
        await uow.commit()
