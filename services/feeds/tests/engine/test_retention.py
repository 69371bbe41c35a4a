"""The delivery log's retention: old finished deliveries and old attempts go, PENDING ones and recent ones stay."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_feeds.service_layer.retention import prune_deliveries

from .conftest import Endpoints, deliveries, region

pytestmark = pytest.mark.integration


async def test_old_finished_deliveries_and_attempts_are_pruned(engine: AsyncEngine, endpoints: Endpoints) -> None:
    endpoint_id, _ = await endpoints.add("http://127.0.0.1:9/hook", region_prefix=region())
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    rows = {"old-done": (old, "DELIVERED"), "old-pending": (old, "PENDING"), "recent-done": (recent, "FAILED")}
    ids = {name: uuid.uuid4() for name in rows}
    async with engine.begin() as conn:
        for name, (at, status) in rows.items():
            await conn.execute(
                text("INSERT INTO feeds.deliveries (id, endpoint_id, stream_seq, event_id, event_type, body, status, "
                     "next_attempt_at, created_at) VALUES (:id, :e, 1, :ev, 'demimas.registry.worker.departed', "
                     "'{}', :s, :at, :at)"),
                {"id": ids[name], "e": endpoint_id, "ev": str(uuid.uuid4()), "s": status, "at": at},
            )  # fmt: skip
            await conn.execute(
                text("INSERT INTO feeds.attempts (delivery_id, endpoint_id, attempted_at, duration_ms) "
                     "VALUES (:d, :e, :at, 1)"),
                {"d": ids[name], "e": endpoint_id, "at": at},
            )  # fmt: skip
    assert await prune_deliveries(engine, 30) >= 1
    left = {r.id for r in await deliveries(engine, endpoint_id)}
    assert left == {ids["old-pending"], ids["recent-done"]}
    async with engine.connect() as conn:
        attempts = set(
            await conn.scalars(
                text("SELECT delivery_id FROM feeds.attempts WHERE endpoint_id = :e"), {"e": endpoint_id}
            )
        )
    assert attempts == {ids["recent-done"]}
