"""The cases schema migrated on the session's devstack, an engine with the service's runtime role, principals of
each agency, a clock the tests move, and real Kemendagri village codes no other test of the session uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.tables import SCHEMA
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.app import SERVICE
from demimas_cases.service_layer.ports import CasesUoW
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent

C = TypeVar("C")
R = TypeVar("R")


class Clock:
    """The tests' time: starts now, moved forward by `advance`."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rules(clock: Clock) -> CaseRules:
    return CaseRules(clock=clock)


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("cases")), pool_size=3)
    yield engine
    await engine.dispose()


village = FreshVillages(Path(__file__).resolve().parents[4])
"""A real village code (in `regency` when given, e.g. 16.06) that this session has not handed out before, in no
district an end-to-end test or an example names."""


def principal(agency: str, region: str | None = None, *, purpose: Purpose | None = None) -> Principal:
    a = Agency(agency)
    return Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region, purpose)


async def act(
    engine: AsyncEngine,
    principal: Principal,
    handler: Callable[[C, CasesUoW, Principal, CaseRules], Awaitable[R]],
    cmd: C,
    rules: CaseRules,
) -> R:
    """A use case as a resolver runs it: in a unit of work of its own, by `principal`."""
    async with CasesUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        return await handler(cmd, uow, principal, rules)


async def consume(
    engine: AsyncEngine, handler: Callable[[CloudEvent, CasesUoW], Awaitable[None]], event: CloudEvent
) -> None:
    """A consumer's handler on one event, as the consumer runs it: joined to a transaction the caller commits."""
    async with engine.begin() as conn, CasesUnitOfWork.joining(conn, schema=SCHEMA) as uow:
        await handler(event, uow)
