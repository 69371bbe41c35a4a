"""The service skeleton's lifecycle (background parts started at start-up, stopped, cancelled and closed at
shutdown) and the fake unit of work's contract (events count only when committed, and are schema-checked)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry

from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.fake_uow import FakeUnitOfWork
from demimas_common.db.uow import UnitOfWork
from demimas_common.events.envelope import Actor, CloudEvent, InvalidEvent, new_event
from demimas_common.graphql.context import ServiceContext
from demimas_common.graphql.schema import build_schema
from demimas_common.logs import _DemimasHandler
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings
from demimas_common.skeleton import PeriodicJob, Resources, ServiceParts, service_app

SPEC = ServiceSpec(name="tiny", port=0, app_factory="tests:app", migrations=Path("."))


@strawberry.type
class Query:
    @strawberry.field
    def schema_name(self, info: strawberry.Info[ServiceContext[UnitOfWork], None]) -> str:
        return f"{info.context.schema} {getattr(info.context, 'flavour', '-')}"


class Tiny(ServiceContext[UnitOfWork]):
    def __init__(self, principal: Principal | None, *, flavour: str, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.flavour = flavour


class Worker:
    def __init__(self) -> None:
        self.started = self.stopped = self.closed = False
        self.cancelled = False

    async def run(self) -> None:
        self.started = True
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def stop(self) -> None:
        self.stopped = True

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _DemimasHandler)]:
        root.removeHandler(handler)


async def test_the_skeleton_starts_and_stops_the_parts_it_is_given(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path / "keys")
    settings = CommonSettings(jwks_path=keys.jwks_path, database_url="postgresql://u@/x", nats_url="nats://x:1")
    worker, rounds = Worker(), []

    async def job() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("a failing round is logged; the job goes on")

    seen: list[Resources[CommonSettings]] = []

    def parts(r: Resources[CommonSettings]) -> ServiceParts:
        seen.append(r)
        return ServiceParts(
            schema=build_schema(query=Query),
            context=partial(Tiny, flavour="kopi"),
            relay=False,
            workers=[worker],
            jobs=[PeriodicJob("tick", 0.01, job)],
        )

    app = service_app(SPEC, settings, parts)
    assert seen[0].spec is SPEC
    assert seen[0].settings is settings
    async with app.router.lifespan_context(app):
        for _ in range(3000):  # up to 30 s on a loaded machine (2 s could be outrun); two rounds end it at once
            if len(rounds) >= 2:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            token = mint_token(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, agency=Agency.KP2MI)
            headers = {"Authorization": f"Bearer {token}"}
            answer = (await client.post("/graphql", json={"query": "{ schemaName }"}, headers=headers)).json()
        assert answer == {"data": {"schemaName": "tiny kopi"}}
        assert worker.started
        assert not worker.stopped
    assert worker.stopped
    assert worker.cancelled
    assert worker.closed
    assert len(rounds) >= 2


def test_a_service_without_its_servers_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL"):
        service_app(SPEC, CommonSettings(), lambda r: ServiceParts(schema=build_schema(query=Query), context=Tiny))


def registered(village: str = "16.06.13.2001") -> CloudEvent:
    data = {"workerId": str(uuid.uuid4()), "villageCode": village, "status": "CANDIDATE", "version": 1}
    return new_event("demimas.registry.worker.registered", str(data["workerId"]), data)


async def test_the_fake_unit_of_work_counts_events_only_when_committed() -> None:
    uow = FakeUnitOfWork(workers={"a": 1})
    assert getattr(uow, "workers") == {"a": 1}  # noqa: B009 (set by keyword)
    async with uow:
        uow.publish(registered())
    assert uow.published == []
    assert uow.rollbacks == 1
    assert not uow.committed
    async with uow:
        uow.publish(registered())
        await uow.commit()
    assert uow.types() == ["demimas.registry.worker.registered"]
    assert uow.committed


async def test_the_fake_unit_of_work_refuses_an_event_that_breaks_its_schema() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        with pytest.raises(InvalidEvent):
            uow.publish(registered("not a village code"))


async def test_the_fake_unit_of_work_stamps_its_caller_as_the_real_one_does() -> None:
    uow = FakeUnitOfWork(actor=Actor(agency="BP3MI", sub="petugas@bp3mi"))
    async with uow:
        uow.publish(registered())
        await uow.commit()
    assert (uow.published[0].actoragency, uow.published[0].actorsub) == ("BP3MI", "petugas@bp3mi")
