"""Idempotency keys on PostgreSQL: a retry after a lost answer returns what the first attempt made (no second row,
event or rollup), the key with another input is a CONFLICT, concurrent duplicates end with one row, keys are each
agency's own, a refused attempt does not use its key up, and without a key nothing changed."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.errors import BadUserInput, Conflict
from demimas_common.skeleton import PeriodicJob, run_periodically
from demimas_pillars.adapters.tables import SCHEMA, activity_daily, events, idempotency_keys, milestones, pilots
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.activity import Activity
from demimas_pillars.domain.commands import AddMilestone, CreatePilot, RecordActivity
from demimas_pillars.domain.pilot import Milestone
from demimas_pillars.domain.vocabulary import ServicePillar
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.schema import schema
from demimas_pillars.service_layer import pilots as pilot_flow
from demimas_pillars.service_layer.activities import record_activity
from demimas_pillars.service_layer.maintenance import prune_keys

from .conftest import NOW, SETTINGS, TODAY, act, principal, village
from .test_delivery_db import activity, count, pilot, registered

pytestmark = pytest.mark.integration


def key() -> str:
    return f"test-{uuid.uuid4()}"


def attempt(a: Activity) -> Activity:
    """The same request sent again: the GraphQL layer gives every attempt a new id."""
    return replace(a, id=uuid.uuid4())


async def daily(engine: AsyncEngine, code: str) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(
            select(func.sum(activity_daily.c.activities)).where(activity_daily.c.village_code == code)
        )
    return int(n or 0)


async def test_a_retry_returns_the_recorded_activity_and_writes_nothing(engine: AsyncEngine) -> None:
    code, k, kp2mi = village(), key(), principal("KP2MI")
    worker = await registered(engine, code)
    first = activity(code, worker_ids=(worker,))
    recorded = await act(engine, kp2mi, record_activity, RecordActivity(first, k))
    assert recorded.id == first.id
    assert (await count(engine, code), await daily(engine, code)) == ((1, 1), 1)
    for _ in range(2):
        again = await act(engine, kp2mi, record_activity, RecordActivity(attempt(first), k))
        assert again.id == first.id
        assert (again.title, again.worker_ids, again.outputs) == (first.title, (worker,), first.outputs)
    assert (await count(engine, code), await daily(engine, code)) == ((1, 1), 1)  # one row, one event, one rollup


async def test_the_key_with_another_input_is_a_conflict_that_writes_nothing(engine: AsyncEngine) -> None:
    code, k, kp2mi = village(), key(), principal("KP2MI")
    first = activity(code)
    await act(engine, kp2mi, record_activity, RecordActivity(first, k))
    with pytest.raises(Conflict) as caught:
        await act(engine, kp2mi, record_activity, RecordActivity(attempt(replace(first, title="Another session")), k))
    error = caught.value
    assert error.extensions == {"code": "CONFLICT", "field": "idempotencyKey", "reason": "idempotency_key_reused"}
    assert f"idempotencyKey {k!r} was already used by KP2MI on {NOW:%Y-%m-%d %H:%M} UTC" in error.message
    assert "a different recordActivity input" in error.message
    assert "use a new key" in error.message
    assert await count(engine, code) == (1, 1)


async def test_concurrent_duplicates_end_with_one_row(engine: AsyncEngine) -> None:
    code, k, kp2mi = village(), key(), principal("KP2MI")
    first = activity(code)
    results = await asyncio.gather(
        *(act(engine, kp2mi, record_activity, RecordActivity(attempt(first), k)) for _ in range(6))
    )
    assert len({r.id for r in results}) == 1
    assert (await count(engine, code), await daily(engine, code)) == ((1, 1), 1)


async def test_keys_are_each_agencys_own(engine: AsyncEngine) -> None:
    code, k = village(), key()
    a = await act(engine, principal("KP2MI"), record_activity, RecordActivity(activity(code), k))
    b = await act(engine, principal("KEMENDES"), record_activity, RecordActivity(activity(code, agency="KEMENDES"), k))
    assert a.id != b.id
    assert await count(engine, code) == (2, 2)


async def test_a_refused_attempt_does_not_use_the_key_up(engine: AsyncEngine) -> None:
    code, k, kp2mi = village(), key(), principal("KP2MI")
    with pytest.raises(BadUserInput):  # a participant the `people` projection does not know
        await act(engine, kp2mi, record_activity, RecordActivity(activity(code, worker_ids=(uuid.UUID(int=97),)), k))
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).where(idempotency_keys.c.key == k)) == 0
    fixed = activity(code)
    assert (await act(engine, kp2mi, record_activity, RecordActivity(fixed, k))).id == fixed.id
    assert await count(engine, code) == (1, 1)


async def test_a_bad_key_is_refused_before_anything_is_written(engine: AsyncEngine) -> None:
    code = village()
    for bad in ("", "x" * 101, "kunci\u00e9"):
        with pytest.raises(BadUserInput) as caught:
            await act(engine, principal("KP2MI"), record_activity, RecordActivity(activity(code), bad))
        assert caught.value.field == "idempotencyKey"
    assert await count(engine, code) == (0, 0)


async def test_without_a_key_a_repeat_records_again(engine: AsyncEngine) -> None:
    code, kp2mi = village(), principal("KP2MI")
    first = activity(code)
    await act(engine, kp2mi, record_activity, RecordActivity(first))
    await act(engine, kp2mi, record_activity, RecordActivity(attempt(first)))
    assert (await count(engine, code), await daily(engine, code)) == ((2, 2), 2)


async def pilot_rows(engine: AsyncEngine, code: str) -> tuple[int, int]:
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).where(pilots.c.village_code == code))
        m = await conn.scalar(
            select(func.count()).select_from(milestones.join(pilots, milestones.c.pilot_id == pilots.c.id))
            .where(pilots.c.village_code == code)
        )  # fmt: skip
    return int(n or 0), int(m or 0)


async def test_a_pilot_retry_returns_the_pilot_and_a_key_is_one_operations(engine: AsyncEngine) -> None:
    code, k, polkam = village(), key(), principal("KEMENKO_POLKAM")
    first = pilot(code)
    created = await act(engine, polkam, pilot_flow.create_pilot, CreatePilot(first, k))
    again = await act(
        engine,
        polkam,
        pilot_flow.create_pilot,
        CreatePilot(
            replace(first, id=uuid.uuid4(), milestones=tuple(replace(m, id=uuid.uuid4()) for m in first.milestones)), k
        ),
    )
    assert again.id == created.id == first.id
    assert [m.id for m in again.milestones] == [m.id for m in first.milestones]
    assert await pilot_rows(engine, code) == (1, 2)
    with pytest.raises(Conflict) as caught:
        await act(
            engine,
            polkam,
            pilot_flow.create_pilot,
            CreatePilot(replace(first, id=uuid.uuid4(), title="Another pilot"), k),
        )
    assert caught.value.details == {"reason": "idempotency_key_reused"}
    # the same key for another operation of the same agency is refused too
    kemendes, other = principal("KEMENDES"), key()
    await act(engine, kemendes, record_activity, RecordActivity(activity(code, agency="KEMENDES"), other))
    with pytest.raises(Conflict, match="for recordActivity"):
        await act(
            engine,
            kemendes,
            pilot_flow.create_pilot,
            CreatePilot(replace(first, id=uuid.uuid4(), coordinator="KEMENDES", milestones=()), other),
        )
    assert await pilot_rows(engine, code) == (1, 2)


async def test_a_milestone_retry_adds_it_once(engine: AsyncEngine) -> None:
    code, k, polkam = village(), key(), principal("KEMENKO_POLKAM")
    p = await act(engine, polkam, pilot_flow.create_pilot, CreatePilot(pilot(code)))
    m = Milestone(uuid.uuid4(), "Midline survey", TODAY, "KEMENPPPA")
    after = await act(engine, polkam, pilot_flow.add_milestone, AddMilestone(p.id, m, k))
    again = await act(engine, polkam, pilot_flow.add_milestone, AddMilestone(p.id, replace(m, id=uuid.uuid4()), k))
    assert [x.id for x in again.milestones] == [x.id for x in after.milestones]
    assert await pilot_rows(engine, code) == (1, len(p.milestones) + 1)


MUTATION = """mutation($in: ActivityInput!) { recordActivity(input: $in) { id title } }"""


async def graphql(engine: AsyncEngine, variables: dict[str, Any]) -> Any:
    context = PillarsContext(principal("KP2MI"), engine=engine, schema="pillars", unit_of_work_class=PillarsUnitOfWork,
                             delivery=SETTINGS)  # fmt: skip
    return await schema.execute(MUTATION, variable_values=variables, context_value=context)


async def test_the_graphql_input_carries_the_key(engine: AsyncEngine) -> None:
    code, k = village(), key()
    given = {"villageCode": code, "pillar": ServicePillar.REINTEGRATION.name, "title": "Pendampingan purna PMI",
             "occurredOn": TODAY.isoformat(), "participants": {"anonymous": [{"sex": "FEMALE", "group": "RETURNEE",
                                                                               "count": 3}]},
             "idempotencyKey": k}  # fmt: skip
    first, again = await graphql(engine, {"in": given}), await graphql(engine, {"in": given})
    assert first.errors is None
    assert again.errors is None
    assert first.data == again.data
    assert await count(engine, code) == (1, 1)
    changed = await graphql(engine, {"in": {**given, "title": "Pendampingan purna PMI (2)"}})
    assert changed.errors[0].extensions["code"] == "CONFLICT"
    assert changed.errors[0].extensions["reason"] == "idempotency_key_reused"
    bad = await graphql(engine, {"in": {**given, "idempotencyKey": "\u00e9"}})
    assert bad.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "idempotencyKey"}
    assert await count(engine, code) == (1, 1)
    async with engine.connect() as conn:
        payload = await conn.scalar(
            select(events.outbox.c.payload).where(events.outbox.c.payload["data"]["villageCode"].astext == code)
        )
    assert k not in str(payload)  # the key stays out of the event


async def test_keys_older_than_the_retention_are_forgotten(engine: AsyncEngine) -> None:
    code, kp2mi = village(), principal("KP2MI")
    old_key, new_key = key(), key()
    await act(engine, kp2mi, record_activity, RecordActivity(activity(code), old_key))
    await act(engine, kp2mi, record_activity, RecordActivity(activity(code), new_key))
    async with engine.begin() as conn:  # the first was claimed 40 days ago
        await conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == old_key)
            .values(created_at=NOW - dt.timedelta(days=40))
        )
    async with PillarsUnitOfWork(engine, schema=SCHEMA) as uow:
        dropped = await uow.idempotency_keys.prune(older_than=NOW - dt.timedelta(days=30))
        await uow.commit()
    assert dropped >= 1
    async with engine.connect() as conn:
        left = set(
            await conn.scalars(select(idempotency_keys.c.key).where(idempotency_keys.c.key.in_([old_key, new_key])))
        )
    assert left == {new_key}
    # a forgotten key is a new key again: the request records once more
    again = activity(code)
    assert (await act(engine, kp2mi, record_activity, RecordActivity(again, old_key))).id == again.id


async def test_the_pruning_task_forgets_old_keys_and_keeps_running(engine: AsyncEngine) -> None:
    k = key()
    await act(engine, principal("KP2MI"), record_activity, RecordActivity(activity(village()), k))
    async with engine.begin() as conn:
        await conn.execute(
            idempotency_keys.update().where(idempotency_keys.c.key == k).values(created_at=NOW - dt.timedelta(days=90))
        )
    # the task measures from the real clock, the keys from the tests' fixed NOW: 30 days before NOW
    retention = (dt.datetime.now(dt.UTC) - NOW).days + 30
    job = PeriodicJob("prune", 0.05, partial(prune_keys, engine, retention))
    task = asyncio.create_task(run_periodically(job, "pillars"))
    try:
        for _ in range(600):  # 30 s or more: 5 s could be outrun by a loaded CI machine; ends once the key is gone
            async with engine.connect() as conn:
                if await conn.scalar(select(func.count()).where(idempotency_keys.c.key == k)) == 0:
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the pruning task did not forget the old key")
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
