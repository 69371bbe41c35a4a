"""The audit store on real PostgreSQL and NATS: every event chained in stream order, once; caught up after an outage;
gaps named; tampering by the schema owner named at the right record; the runtime role cannot change what it wrote;
checkpoints signed, exported and verified offline, and the last one re-published while the head does not move."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from demimas_audit.adapters.bus import CHECKPOINT_SUBJECT
from demimas_audit.adapters.queries import verify_range
from demimas_audit.adapters.tables import gaps, records
from demimas_audit.domain.chain import GENESIS, ProblemKind, canonical, digests, link_digests
from demimas_audit.domain.checkpoint import parse_checkpoint
from demimas_audit.entrypoints.checkpointer import Checkpointer
from demimas_audit.entrypoints.ingest import AuditIngest
from demimas_audit.service_layer.export import verify_export
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.nats import connect

from .conftest import AuditStore

pytestmark = pytest.mark.integration
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def events(n: int) -> list[CloudEvent]:
    out = []
    for i in range(n):
        worker = str(uuid.uuid4())
        data = {"workerId": worker, "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}
        e = new_event("demimas.registry.worker.registered", worker, data)
        out.append(e.with_traceparent(f"00-{TRACE}-00f067aa0ba902b7-01") if i % 3 == 0 else e)
    return out


async def publish(store: AuditStore, items: list[CloudEvent], *, msg_id_suffix: str = "") -> list[int]:
    nc = await connect(store.nats_url, name="audit-test-publish")
    js = nc.jetstream()
    seqs = []
    for e in items:
        ack = await js.publish(e.type, e.to_json(), headers={"Nats-Msg-Id": e.id + msg_id_suffix})
        seqs.append(ack.seq)
    await nc.close()
    return seqs


async def ingest(store: AuditStore, **kwargs: Any) -> int:
    consumer = AuditIngest(
        store.engine, store.nats_url, fetch_timeout=0.3, batch_size=kwargs.pop("batch_size", 7), **kwargs
    )
    try:
        return await consumer.drain()
    finally:
        await consumer.close()


async def count(store: AuditStore) -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(records)) or 0)


async def check(store: AuditStore) -> list[tuple[int, ProblemKind]]:
    async with store.engine.connect() as conn:
        v = await verify_range(conn, None, None)
    return [(p.seq, p.kind) for p in v.problems]


async def test_events_are_chained_in_stream_order(store: AuditStore) -> None:
    sent = events(20)
    seqs = await publish(store, sent)
    assert await ingest(store) == 20
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(records).order_by(records.c.seq))).mappings().all()
        v = await verify_range(conn, None, None)
    assert [r["stream_seq"] for r in rows] == seqs
    assert [str(r["event_id"]) for r in rows] == [e.id for e in sent]
    prev = GENESIS
    for r in rows:  # format 2: SHA-256 over the previous hash and the digests of the event (RFC 8785), the stream
        # sequence and the recording time
        canon = canonical(orjson.loads(sent[r["seq"] - 1].to_json()))
        assert bytes(r["digests"]) == digests(canon, r["stream_seq"], r["recorded_at"])
        assert bytes(r["hash"]) == link_digests(prev, bytes(r["digests"]))
        prev = bytes(r["hash"])
    assert [r["trace_id"] for r in rows[:4]] == [TRACE, None, None, TRACE]
    assert (v.problems, v.checked, v.head_seq, v.gaps) == ([], 20, 20, [])


async def test_the_same_event_twice_is_stored_once(store: AuditStore) -> None:
    sent = events(3)
    await publish(store, sent)
    await publish(store, sent[1:2], msg_id_suffix=":again")  # past JetStream's duplicate window: a new message
    await ingest(store)
    await ingest(store)  # and a second pass over nothing new
    assert await count(store) == 3
    assert await check(store) == []
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(gaps))).all() == []


async def test_an_outage_is_caught_up_with_the_chain_intact(store: AuditStore) -> None:
    await publish(store, events(10))
    assert await ingest(store) == 10
    await publish(store, events(25))  # the audit service is down meanwhile
    assert await ingest(store) == 25  # the same durable consumer picks up after restart
    assert await count(store) == 35
    assert await check(store) == []


async def test_a_message_missing_from_the_stream_is_a_gap(store: AuditStore) -> None:
    seqs = await publish(store, events(5))
    nc = await connect(store.nats_url, name="audit-test-delete")
    await nc.jetstream().delete_msg("DEMIMAS", seqs[2])
    await nc.close()
    await ingest(store)
    async with store.engine.connect() as conn:
        v = await verify_range(conn, None, None)
    assert (v.problems, v.checked, v.gaps) == ([], 4, [(seqs[2], seqs[2])])


async def test_tampering_by_the_owner_is_named_at_the_record(store: AuditStore) -> None:
    await publish(store, events(12))
    await ingest(store)
    async with store.owner.begin() as conn:
        await conn.execute(
            text(
                "UPDATE audit.records SET event = jsonb_set(event, '{data,villageCode}', "
                "'\"33.07.01.2001\"') WHERE seq = 5"
            )
        )
        await conn.execute(text("DELETE FROM audit.records WHERE seq = 8"))
        await conn.execute(
            text(
                "INSERT INTO audit.records SELECT 13, 999, gen_random_uuid(), type, source, subject, "
                "time, actor_agency, actor_sub, trace_id, causation_id, correlation_id, event, hash, "
                "hash, now() FROM audit.records WHERE seq = 12"
            )
        )
    assert await check(store) == [(5, ProblemKind.MODIFIED), (8, ProblemKind.REMOVED), (13, ProblemKind.INSERTED)]
    async with store.engine.connect() as conn:  # a range around the damage only
        v = await verify_range(conn, 1, 4)
    assert v.problems == []


async def test_the_runtime_role_cannot_change_what_it_wrote(store: AuditStore) -> None:
    await publish(store, events(2))
    await ingest(store)
    for statement in (
        "UPDATE audit.records SET type = 'x' WHERE seq = 1",
        "DELETE FROM audit.records WHERE seq = 1",
        "TRUNCATE audit.records",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await check(store) == []


async def test_checkpoints_are_signed_exported_and_verified_offline(store: AuditStore, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    await publish(store, events(9))
    await ingest(store)
    nc = await connect(store.nats_url, name="audit-test-checkpoints")
    published = await nc.subscribe(CHECKPOINT_SUBJECT)
    first = await checkpointer.checkpoint()
    assert first is not None
    assert first.seq == 9
    announced = orjson.loads((await published.next_msg(timeout=30)).data)  # generous: a loaded CI machine
    await nc.close()
    assert (announced["seq"], announced["hash"], announced["keyId"]) == (9, first.hash.hex(), first.key_id)
    assert await checkpointer.checkpoint() is None  # the head did not move
    export = tmp_path / "audit.jsonl"
    with export.open("wb") as out:
        assert await store.export(out, key.public_key()) == 9
    result = verify_export(export, key.public_key())
    assert (result.ok, result.records, result.checkpoints) == (True, 9, 1)
    other = verify_export(export, Ed25519PrivateKey.generate().public_key())
    assert other.signature_failures == [9]
    lines = export.read_bytes().splitlines()
    forged = orjson.loads(lines[3])
    forged["event"]["data"]["villageCode"] = "33.07.01.2001"
    forged_file = tmp_path / "forged.jsonl"
    forged_file.write_bytes(b"\n".join([*lines[:3], orjson.dumps(forged), *lines[4:]]) + b"\n")
    broken = verify_export(forged_file, key.public_key())
    assert [(p.seq, p.kind) for p in broken.problems] == [(3, ProblemKind.MODIFIED)]


async def test_the_checkpointer_republishes_the_last_checkpoint_while_the_head_does_not_move(store: AuditStore) -> None:
    """A heartbeat: a witness can tell a quiet chain from a publisher that stopped."""
    key = Ed25519PrivateKey.generate()
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    nc = await connect(store.nats_url, name="audit-test-heartbeat")
    published = await nc.subscribe(CHECKPOINT_SUBJECT)
    try:
        assert await checkpointer.checkpoint() is None  # an empty chain: nothing signed, nothing to re-publish
        await publish(store, events(4))
        await ingest(store)
        first = await checkpointer.checkpoint()
        assert first is not None
        assert await checkpointer.checkpoint() is None  # the head did not move: nothing new is signed...
        assert await checkpointer.checkpoint() is None
        # ... but the last stored checkpoint is published again each time, unchanged (nothing came before the first:
        # the empty chain published nothing); generous timeouts: a loaded CI machine
        received = [parse_checkpoint((await published.next_msg(timeout=30)).data) for _ in range(3)]
    finally:
        await nc.close()
    assert [(cp.seq, cp.hash, cp.signed_at, cp.signature) for cp in received] == [
        (first.seq, first.hash, first.signed_at, first.signature)
    ] * 3
    async with store.unit_of_work() as uow:
        assert [cp.seq for cp in await uow.checkpoints.all()] == [4]


async def test_two_replicas_keep_one_chain_in_order(store: AuditStore) -> None:
    """Only the replica holding the ingest lock reads; when it stops the other takes over from the chain's head."""
    first = AuditIngest(store.engine, store.nats_url, fetch_timeout=0.2, batch_size=7, standby_wait=0.1)
    second = AuditIngest(store.engine, store.nats_url, fetch_timeout=0.2, batch_size=7, standby_wait=0.1)
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    seqs = await publish(store, events(40))
    for _ in range(1200):  # up to a minute (5 s could be outrun by a loaded CI machine); ends once all are in
        if await count(store) == 40:
            break
        await asyncio.sleep(0.05)
    leader, standby = (first, second) if first.leading else (second, first)
    assert not standby.leading
    leader.stop()  # the reading replica goes away
    await asyncio.wait_for(tasks[[first, second].index(leader)], timeout=30)
    seqs += await publish(store, events(20))
    for _ in range(1200):  # the standby takes over: up to a minute as well
        if await count(store) == 60:
            break
        await asyncio.sleep(0.05)
    standby.stop()
    await asyncio.gather(*tasks)
    async with store.engine.connect() as conn:
        stored = [r[0] for r in await conn.execute(select(records.c.stream_seq).order_by(records.c.seq))]
        v = await verify_range(conn, None, None)
    assert stored == seqs  # every event once, in stream order
    assert (v.problems, v.gaps) == ([], [])
