"""The case-stats projection on the real devstack: PostgreSQL for the states, NATS JetStream for delivery. After
random orders, batches and redeliveries every case's stored state is its true one, and the assessment of the village
cites the figures computed from them."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.testing import TestStack
from demimas_common.events.case_samples import CaseTruth, Step, case_history, cloud_events
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.skeleton import consumer_runner
from demimas_designation.adapters.case_stats import CaseStatsRepository
from demimas_designation.adapters.tables import SCHEMA
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.domain.case_stats import case_figures
from demimas_designation.domain.vocabulary import Criterion, CriterionStatus
from demimas_designation.service_layer.case_stats import CASE_STATS, apply_event, apply_events
from demimas_designation.service_layer.proposals import assessment_of

from .conftest import SETTINGS, consume, village

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)


def lives(seed: int, code: str, n: int) -> list[tuple[list[Step], CaseTruth]]:
    """`n` cases of the village, opened over the last 120 days; every other one's escalations take a version."""
    rng = random.Random(seed)
    start = NOW - dt.timedelta(days=120)
    return [case_history(rng, code, start + dt.timedelta(days=i), bump=i % 2 == 0) for i in range(n)]


async def assert_true(engine: AsyncEngine, code: str, truths: list[CaseTruth]) -> None:
    async with engine.connect() as conn:
        states = await CaseStatsRepository(conn).states([uuid.UUID(t.case_id) for t in truths])
        assert len(await CaseStatsRepository(conn).of_village(code)) == len(truths)
    for t in truths:
        s = states[uuid.UUID(t.case_id)]
        assert (s.village_code, s.status, s.version, s.opened_at, s.overdue) == (
            code, t.status, t.version, t.opened_at, t.overdue
        )  # fmt: skip
        assert (s.resolved_at, s.resolution_days) == (t.resolved_at, t.resolution_days)


async def test_shuffled_batched_and_repeated_events_give_each_cases_true_state(engine: AsyncEngine) -> None:
    rng = random.Random(17)
    code = village()
    cases = lives(17, code, 30)
    delivered = [e for steps, _ in cases for e in cloud_events(steps)]
    delivered += rng.sample(delivered, 25)
    rng.shuffle(delivered)
    half = len(delivered) // 2
    for event in delivered[:half]:
        await consume(engine, apply_event, event)
    for start in range(half, len(delivered), 23):  # batches holding several events of one case, out of order
        await consume(engine, apply_events, delivered[start : start + 23])
    truths = [t for _, t in cases]
    await assert_true(engine, code, truths)
    async with DesignationUnitOfWork(engine, schema=SCHEMA) as uow:
        assessed = await assessment_of(uow, code, SETTINGS, NOW.date())
        figures = case_figures(await uow.case_stats.of_village(code), NOW.date())
    cited = assessed.result(Criterion.SUSTAINED_PROTECTION)
    assert cited.cases == figures
    assert figures.overdue == sum(t.overdue for t in truths)
    assert figures.overdue > 0
    assert figures.open == sum(not t.finished for t in truths)
    assert cited.status is CriterionStatus.UNKNOWN  # no field visit recorded for this village


async def test_through_jetstream_a_replayed_case_event_counts_once(stack: TestStack, engine: AsyncEngine) -> None:
    code = village()
    cases = lives(23, code, 12)
    nc = await connect(stack.nats_url, name="designation-case-stats-test")
    js = nc.jetstream()
    await ensure_stream(js)
    events = [e for steps, _ in cases for e in cloud_events(steps)]
    for event in events:
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
    for event in events[:15]:  # again under other message ids, as a replay of the cases service's outbox would
        await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": f"replay-{event.id}"})
    await nc.close()
    durable = f"case-stats-{uuid.uuid4().hex[:8]}"
    consumer = consumer_runner(replace(CASE_STATS, durable=durable), engine, SCHEMA, stack.nats_url,
                               unit_of_work=DesignationUnitOfWork)  # fmt: skip
    await consumer.drain()
    await consumer.close()
    await assert_true(engine, code, [t for _, t in cases])
