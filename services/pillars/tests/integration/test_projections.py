"""The pillars service's consumers on PostgreSQL and JetStream: the `people` projection and its reintegration queue
(out of order, redelivered), and portfolios opened by designations exactly once."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.skeleton import consumer_runner
from demimas_pillars.adapters.tables import SCHEMA, events, people, portfolios, reintegration_queue
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.service_layer.consumers import DESIGNATIONS, on_person_event, on_village_event

from .conftest import consume, village

pytestmark = pytest.mark.integration


def worker_event(kind: str, worker: str, code: str, version: int, status: str, **extra: Any) -> CloudEvent:
    data = {"workerId": worker, "villageCode": code, "status": status, "version": version, **extra}
    return new_event(f"demimas.registry.worker.{kind}", worker, data)


DEPARTURE = {"destinationCountry": "MY", "scheme": "P_TO_P", "procedural": True}


async def apply_all(engine: AsyncEngine, items: list[CloudEvent]) -> None:
    for event in items:
        await consume(engine, on_person_event, event)


async def queue_of(engine: AsyncEngine, worker: str) -> list[tuple[int, str]]:
    q = reintegration_queue.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(q.return_version, q.status).where(q.worker_id == uuid.UUID(worker)))
        return sorted((r[0], r[1]) for r in rows)


async def test_returns_enter_the_queue_once_whatever_the_order(engine: AsyncEngine) -> None:
    code, worker = village(), str(uuid.uuid4())
    registered = worker_event("registered", worker, code, 1, "CANDIDATE")
    departed = worker_event("departed", worker, code, 2, "ABROAD", **DEPARTURE)
    returned = worker_event("returned", worker, code, 3, "RETURNED")
    await apply_all(engine, [returned, registered, departed, returned])  # out of order and redelivered
    assert await queue_of(engine, worker) == [(3, "WAITING")]
    async with engine.connect() as conn:
        row = (await conn.execute(select(people).where(people.c.person_id == uuid.UUID(worker)))).one()
    assert (row.status, row.version, row.village_code) == ("RETURNED", 3, code)


async def test_a_returnee_who_leaves_again_leaves_the_queue(engine: AsyncEngine) -> None:
    code, worker = village(), str(uuid.uuid4())
    await apply_all(engine, [worker_event("returned", worker, code, 3, "RETURNED")])
    assert await queue_of(engine, worker) == [(3, "WAITING")]
    await apply_all(engine, [worker_event("departed", worker, code, 4, "ABROAD", **DEPARTURE)])
    assert await queue_of(engine, worker) == []
    # a late copy of the old return does not bring them back: the projection already knows version 4
    await apply_all(engine, [worker_event("returned", worker, code, 3, "RETURNED")])
    assert await queue_of(engine, worker) == []


async def test_family_members_become_known_participants(engine: AsyncEngine) -> None:
    code, worker, child = village(), str(uuid.uuid4()), str(uuid.uuid4())
    await apply_all(engine, [worker_event("registered", worker, code, 1, "CANDIDATE")])
    added = new_event("demimas.registry.family.added", worker,
                      {"familyMemberId": child, "workerId": worker, "relation": "CHILD", "minor": True})  # fmt: skip
    await apply_all(engine, [added, added])
    async with engine.connect() as conn:
        row = (await conn.execute(select(people).where(people.c.person_id == uuid.UUID(child)))).one()
    assert (row.person_kind, row.village_code, row.minor) == ("FAMILY_MEMBER", code, True)


def village_event(kind: str, code: str, designation: str) -> CloudEvent:
    data = {"villageCode": code, "designationId": designation, "status": "ACTIVE", "programme": "DEMIMAS"}
    return new_event(f"demimas.designation.village.{kind}", code, data)


async def opened_events(engine: AsyncEngine, code: str) -> int:
    o = events.outbox.c
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).where(o.type == "demimas.pillars.portfolio.opened", o.subject == code)
        )
    return int(found or 0)


async def test_a_designation_opens_the_portfolio_exactly_once_on_redelivery(
    stack: TestStack, engine: AsyncEngine
) -> None:
    code, designation = village(), str(uuid.uuid4())
    designated = village_event("designated", code, designation)
    nc = await connect(stack.nats_url, name="pillars-portfolio-test")
    js = nc.jetstream()
    await ensure_stream(js)
    for suffix in ("", ":again"):  # the same event published twice (past JetStream's duplicate window)
        await js.publish(designated.type, designated.to_json(), headers={"Nats-Msg-Id": designated.id + suffix})
    await nc.close()
    declared = replace(DESIGNATIONS, durable=f"designations-{uuid.uuid4().hex[:8]}")
    consumer = consumer_runner(declared, engine, SCHEMA, stack.nats_url, unit_of_work=PillarsUnitOfWork,
                               fetch_timeout=0.3)  # fmt: skip
    await consumer.drain()
    await consumer.close()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(portfolios).where(portfolios.c.village_code == code))).all()
    assert [(r.status, str(r.designation_id)) for r in rows] == [("OPEN", designation)]
    assert await opened_events(engine, code) == 1


async def test_suspension_reinstatement_and_revocation_follow_the_designation(engine: AsyncEngine) -> None:
    code, designation = village(), str(uuid.uuid4())
    steps = [village_event("designated", code, designation)]
    await asyncio.sleep(0.002)
    steps.append(village_event("suspended", code, designation))
    await asyncio.sleep(0.002)
    steps.append(village_event("designated", code, designation))  # reinstated: the same designation
    await asyncio.sleep(0.002)
    steps.append(village_event("revoked", code, designation))
    seen = []
    for event in [steps[0], steps[1], steps[0], steps[2], steps[1], steps[3]]:  # stale copies in between
        await consume(engine, on_village_event, event)
        async with engine.connect() as conn:
            seen.append(await conn.scalar(select(portfolios.c.status).where(portfolios.c.village_code == code)))
    assert seen == ["OPEN", "SUSPENDED", "SUSPENDED", "OPEN", "OPEN", "CLOSED"]
    assert await opened_events(engine, code) == 1
    again = str(uuid.uuid4())  # designated anew after the revocation: a new portfolio period
    await consume(engine, on_village_event, village_event("designated", code, again))
    assert await opened_events(engine, code) == 2


async def test_a_worker_who_moves_takes_the_family_and_the_queue_along(engine: AsyncEngine) -> None:
    """What belongs to a person's village follows the person: the office they left no longer sees or changes it."""
    here, there, worker, child = village("16.06"), village("33.07"), str(uuid.uuid4()), str(uuid.uuid4())
    await apply_all(engine, [worker_event("registered", worker, here, 1, "CANDIDATE"),
                             worker_event("returned", worker, here, 3, "RETURNED")])  # fmt: skip
    added = new_event("demimas.registry.family.added", worker,
                      {"familyMemberId": child, "workerId": worker, "relation": "CHILD", "minor": True})  # fmt: skip
    await apply_all(engine, [added, worker_event("updated", worker, there, 4, "RETURNED")])
    async with engine.connect() as conn:
        family = await conn.scalar(select(people.c.village_code).where(people.c.person_id == uuid.UUID(child)))
        queued = await conn.scalar(
            select(reintegration_queue.c.village_code).where(reintegration_queue.c.worker_id == uuid.UUID(worker))
        )
    assert (family, queued) == (there, there)
