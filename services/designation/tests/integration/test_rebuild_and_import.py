"""Rebuilding the village-stats projection from the stream gives the same numbers; the Desmigratif import designates
every row of a good file and nothing of a file with one bad row."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.errors import BadUserInput, Conflict
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_designation.adapters.designations import DesignationRepository
from demimas_designation.adapters.tables import designations
from demimas_designation.adapters.village_stats import VillageStatsRepository
from demimas_designation.app import SERVICE
from demimas_designation.domain.commands import ImportDesmigratif
from demimas_designation.service_layer.desmigratif import import_desmigratif
from demimas_designation.service_layer.rebuild import rebuild_stats

from .conftest import run, village

pytestmark = pytest.mark.integration

KP2MI = Principal("k", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])


@pytest.fixture
async def own_database(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    """A database of its own: a rebuild wipes the projection, which the session's running designation service
    (end-to-end tests) keeps in the shared one."""
    name = f"rebuild_{uuid.uuid4().hex[:10]}"
    admin = create_engine(stack.database_url, pool_size=1, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(stack.database_url).set(database=name).render_as_string(hide_password=False)
    await migrate_service(url, SERVICE)
    engine = create_engine(with_user(url, runtime_role("designation")), pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_rebuild_from_the_stream_gives_the_same_numbers(stack: TestStack, own_database: AsyncEngine) -> None:
    """On a NATS server and a database of its own: the session's services consume the shared stream with the same
    durable name, and a rebuild must not share its consumer or its projection with a running service."""
    engine = own_database
    code = village()
    private = stack.fresh_nats(f"rebuild-{uuid.uuid4().hex[:6]}")
    private.start()
    try:
        nc = await connect(private.url, name="rebuild-test")
        js = nc.jetstream()
        await ensure_stream(js)
        for i in range(6):
            worker = str(uuid.uuid4())
            for version, (kind, status) in enumerate([("registered", "CANDIDATE"), ("departed", "ABROAD")], start=1):
                data = {"workerId": worker, "villageCode": code, "status": status, "version": version}
                if kind == "departed":
                    data |= {"procedural": i % 3 != 0, "destinationCountry": "HK", "scheme": "P_TO_P"}
                event = new_event(f"demimas.registry.worker.{kind}", worker, data)
                await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
        await nc.close()
        first = await rebuild_stats(engine, private.url)
        async with engine.connect() as conn:
            once = await VillageStatsRepository(conn).counters(code)
        second = await rebuild_stats(engine, private.url)
        async with engine.connect() as conn:
            again = await VillageStatsRepository(conn).counters(code)
    finally:
        private.stop()
    assert once == again == {"status:ABROAD": 6, "departed": 6, "procedural": 4}
    assert second == first == 12


async def test_desmigratif_import_is_all_or_nothing(engine: AsyncEngine) -> None:
    good = [village(), village()]
    text = "village_code,decree_number,decree_date\n" + "".join(f"{c},KEP 42/2019,2019-03-01\n" for c in good)
    assert await run(engine, import_desmigratif, ImportDesmigratif(text), KP2MI) == 2
    bad_code = village()
    bad = f"village_code,decree_number,decree_date\n{bad_code},KEP 1/2019,2019-03-01\n16.06,KEP 2/2019,2019-13-01\n"
    with pytest.raises(BadUserInput) as failure:
        await run(engine, import_desmigratif, ImportDesmigratif(bad), KP2MI)
    assert "line 3" in failure.value.message
    async with engine.connect() as conn:
        rows = (await conn.execute(select(designations.c.village_code, designations.c.programme)
                                   .where(designations.c.village_code.in_([*good, bad_code])))).all()  # fmt: skip
    assert sorted(rows) == sorted((c, "DESMIGRATIF") for c in good)
    with pytest.raises(Conflict):  # designated already: the whole file again is refused, nothing written
        await run(engine, import_desmigratif, ImportDesmigratif(text.replace("KEP 42", "KEP 43")), KP2MI)
    async with engine.connect() as conn:  # a page of villages at once, as the gateway asks for them
        current = await DesignationRepository(conn).current_of([*good, bad_code])
        one = await DesignationRepository(conn).current(good[0])
    assert sorted(current) == sorted(good)
    assert current[good[0]] == one
    assert [t.reason for t in current[good[1]].history] == ["carried over"]
