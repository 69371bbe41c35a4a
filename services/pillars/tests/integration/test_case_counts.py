"""The `case-counts` consumer on PostgreSQL and JetStream: protection cases delivered out of order and more than once
give each case's true record, and the pillar progress counts the cases opened and resolved in its window on the
prevention pillar (the Aman pillar), none on the others."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.testing import TestStack
from demimas_common.events.case_samples import CaseTruth, Step, case_history, cloud_events
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.skeleton import consumer_runner
from demimas_pillars.adapters.progress import progress_of_villages
from demimas_pillars.adapters.tables import SCHEMA, protection_cases
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.cases import CASES_PILLAR
from demimas_pillars.domain.progress import CaseCounts, VillageProgress
from demimas_pillars.service_layer.consumers import CASE_COUNTS, on_case_event

from .conftest import NOW, TODAY, consume, village

pytestmark = pytest.mark.integration

WINDOW_FROM = TODAY - dt.timedelta(days=364)


def lives(seed: int, code: str, n: int) -> list[tuple[list[Step], CaseTruth]]:
    """`n` cases opened over the last 500 days (some before the window); every other one's escalations take a
    version of their own."""
    rng = random.Random(seed)
    return [case_history(rng, code, NOW - dt.timedelta(days=rng.randint(20, 500)), bump=i % 2 == 0) for i in range(n)]


def expected(truths: list[CaseTruth]) -> CaseCounts:
    def within(at: dt.datetime | None) -> bool:
        return at is not None and WINDOW_FROM <= at.date() <= TODAY

    return CaseCounts(opened=sum(within(t.opened_at) for t in truths),
                      resolved=sum(t.finished and within(t.resolved_at) for t in truths))  # fmt: skip


async def progress(engine: AsyncEngine, code: str) -> VillageProgress:
    async with engine.connect() as conn:
        found = await progress_of_villages(conn, [code], window_from=WINDOW_FROM, window_to=TODAY)
    return found[code]


async def test_shuffled_and_repeated_case_events_give_the_true_counts(engine: AsyncEngine) -> None:
    rng = random.Random(41)
    code = village()
    cases = lives(41, code, 30)
    delivered = [e for steps, _ in cases for e in cloud_events(steps)]
    delivered += rng.sample(delivered, 30)
    rng.shuffle(delivered)
    for event in delivered:
        await consume(engine, on_case_event, event)
    truths = [t for _, t in cases]
    async with engine.connect() as conn:
        rows = {r.case_id: r for r in await conn.execute(select(protection_cases).where(
            protection_cases.c.village_code == code))}  # fmt: skip
    assert sorted(map(str, rows)) == sorted(t.case_id for t in truths)
    for t in truths:
        row = rows[uuid.UUID(t.case_id)]
        assert (row.status, row.version) == (t.status, t.version)
        assert row.resolved_on == (t.resolved_at.date() if t.resolved_at else None)
    p = await progress(engine, code)
    counted = {x.pillar: x.cases for x in p.pillars if x.cases is not None}
    want = expected(truths)
    assert counted == {CASES_PILLAR: want}
    assert want.opened > 0
    assert want.resolved > 0
    assert want.opened < len(truths)  # some were opened before the window
    assert p.pillars_served == 0  # cases are shown beside the activities, not counted as one


async def test_through_jetstream_a_replayed_case_event_counts_once(stack: TestStack, engine: AsyncEngine) -> None:
    code = village()
    cases = lives(43, code, 10)
    nc = await connect(stack.nats_url, name="pillars-case-counts-test")
    js = nc.jetstream()
    await ensure_stream(js)
    events = [e for steps, _ in cases for e in cloud_events(steps)]
    for event in events:
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    for event in events[:12]:  # again under other message ids, as a replay of the cases service's outbox would
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": f"replay-{event.id}"})
    await nc.close()
    durable = f"case-counts-{uuid.uuid4().hex[:8]}"
    consumer = consumer_runner(replace(CASE_COUNTS, durable=durable), engine, SCHEMA, stack.nats_url,
                               unit_of_work=PillarsUnitOfWork)  # fmt: skip
    await consumer.drain()
    await consumer.close()
    prevention = next(x for x in (await progress(engine, code)).pillars if x.pillar is CASES_PILLAR)
    assert prevention.cases == expected([t for _, t in cases])
