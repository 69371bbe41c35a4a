"""Tampering with any column of `audit.records` on a real database, as the schema owner can, is reported by
`verifyAuditChain` with the record and the column; the same for any field of an export's record lines with
`demimas audit verify`. The columns and fields come from the table and the export themselves, so a new one is tampered
with (and must be covered) without editing this test."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB

from demimas_audit.adapters.queries import verify_range
from demimas_audit.adapters.tables import records
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.domain.coverage import COVERAGE, Coverage
from demimas_audit.entrypoints.checkpointer import Checkpointer
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.schema import schema
from demimas_common.auth.principal import Agency, Principal
from demimas_common.cli import build_parser
from demimas_common.events.envelope import Actor, CloudEvent, new_event

from .conftest import AuditStore
from .test_chain_store import ingest, publish

pytestmark = pytest.mark.integration
N = 9
MOVED = 1_000_000
"""how far a tampered sequence number is moved (beyond the writer's head)"""


def envelopes(n: int) -> list[CloudEvent]:
    """Events with every optional envelope attribute set, so that every column holds a value to change."""
    out = []
    for i in range(n):
        worker = str(uuid.uuid4())
        data = {"workerId": worker, "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}
        out.append(
            new_event(
                "demimas.registry.worker.registered",
                worker,
                data,
                actor=Actor("KP2MI", f"officer-{i}"),
                traceparent=f"00-{uuid.uuid4().hex}-00f067aa0ba902b7-01",
                causation_id=str(uuid.uuid4()),
            )
        )
    return out


def tampers(column: Column[Any]) -> list[str]:
    """SQL expressions that change the column's value, by its type (and NULL where the column allows it)."""
    name, kind = column.name, type(column.type)
    by_type = {
        BigInteger: f"{name} + {MOVED}",
        Uuid: "gen_random_uuid()",
        Text: "'BNN'",
        DateTime: f"{name} + interval '1 hour'",
        JSONB: f"""jsonb_set({name}, '{{data,villageCode}}', '"33.07.01.2001"')""",
        LargeBinary: f"overlay({name} placing sha256({name}) from 1 for 32)",
    }
    assert kind in by_type, f"no way to tamper with a {kind.__name__} column ({name}): add one here"
    return [by_type[kind], *(["NULL"] if column.nullable else [])]


SERVED = [c for c in records.columns if COVERAGE[c.name][0] is not Coverage.NOT_SERVED]


async def test_each_column_tampered_is_named_with_its_record(store: AuditStore) -> None:
    await publish(store, envelopes(N))
    assert await ingest(store) == N
    async with store.engine.connect() as conn:
        assert (await verify_range(conn, None, None)).problems == []
    failures = []
    tried = 0
    for column in SERVED:
        for change in tampers(column):
            for at in (1, 5, N):  # the first record, one in the middle, the writer's head
                async with store.owner.connect() as conn:
                    transaction = await conn.begin()
                    await conn.execute(text(f"UPDATE audit.records SET {column.name} = {change} WHERE seq = {at}"))
                    problems = (await verify_range(conn, None, None)).problems
                    await transaction.rollback()
                tried += 1
                expected = {(at, column.name)} | ({(at + MOVED, "seq")} if column.name == "seq" else set())
                if {(p.seq, p.column) for p in problems} != expected:
                    failures.append(f"{column.name} = {change} at {at}: {problems}")
    assert failures == []
    assert tried >= 3 * len(records.columns)


def context(store: AuditStore) -> AuditContext:
    auditor = Principal("auditor-1", Agency.KP2MI, frozenset({"audit:read"}))
    return AuditContext(auditor, engine=store.engine, schema="audit", unit_of_work_class=AuditUnitOfWork,
                        gateway_url="http://127.0.0.1:9")  # fmt: skip


VERIFY = "{ verifyAuditChain { ok problems { sequence kind column detail } } }"
BY_AGENCY = '{ auditEvents(filter: {actorAgency: "BNN"}) { edges { node { sequence actorAgency } } } }'


async def test_the_issue_example_through_graphql(store: AuditStore) -> None:
    """`UPDATE audit.records SET actor_agency = 'BNN'` on one row: verifyAuditChain names it, and the row the forged
    column puts under BNN shows the agency its hashed event holds."""
    await publish(store, envelopes(5))
    await ingest(store)
    async with store.owner.begin() as conn:
        await conn.execute(text("UPDATE audit.records SET actor_agency = 'BNN' WHERE seq = 3"))
    result = await schema.execute(VERIFY, context_value=context(store))
    assert result.errors is None
    assert result.data is not None
    assert result.data["verifyAuditChain"]["ok"] is False
    [problem] = result.data["verifyAuditChain"]["problems"]
    assert (problem["sequence"], problem["kind"], problem["column"]) == (3, "MODIFIED", "actor_agency")
    assert "'BNN' in the table but 'KP2MI' in its event" in problem["detail"]
    served = await schema.execute(BY_AGENCY, context_value=context(store))
    assert served.data == {"auditEvents": {"edges": [{"node": {"sequence": 3, "actorAgency": "KP2MI"}}]}}


CHECKPOINT = """{ verifyAuditChain { ok headSequence
    lastCheckpoint { sequence hash signedAt keyId signatureValid matchesChain } } }"""


async def test_the_last_checkpoint_its_signature_and_the_chain_under_it(store: AuditStore) -> None:
    """`lastCheckpoint`: none before the first is signed; then the last one, its signature checked with the service's
    key (and refused with another key), and whether the chain still holds its hash (not once the row is rewritten)."""
    key = Ed25519PrivateKey.generate()
    signed = replace_key(context(store), key)
    await publish(store, envelopes(4))
    await ingest(store)
    before = await schema.execute(CHECKPOINT, context_value=signed)
    assert before.data == {"verifyAuditChain": {"ok": True, "headSequence": 4, "lastCheckpoint": None}}
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    cp = await checkpointer.checkpoint()
    assert cp is not None
    await publish(store, envelopes(2))  # the head moves on past the checkpoint
    await ingest(store)
    answer = await schema.execute(CHECKPOINT, context_value=signed)
    assert answer.errors is None
    assert answer.data is not None
    last = answer.data["verifyAuditChain"]["lastCheckpoint"]
    assert (last["sequence"], last["hash"], last["keyId"]) == (4, cp.hash.hex(), cp.key_id)
    assert (last["signatureValid"], last["matchesChain"]) == (True, True)
    other = await schema.execute(CHECKPOINT, context_value=replace_key(context(store), Ed25519PrivateKey.generate()))
    assert other.data is not None
    assert other.data["verifyAuditChain"]["lastCheckpoint"]["signatureValid"] is False
    unsigned = await schema.execute(CHECKPOINT, context_value=context(store))  # a service without its key at hand
    assert unsigned.data is not None
    assert unsigned.data["verifyAuditChain"]["lastCheckpoint"]["signatureValid"] is None
    async with store.owner.begin() as conn:
        await conn.execute(text("UPDATE audit.records SET hash = sha256(hash) WHERE seq = 4"))
    broken = await schema.execute(CHECKPOINT, context_value=signed)
    assert broken.data is not None
    assert broken.data["verifyAuditChain"]["ok"] is False
    assert broken.data["verifyAuditChain"]["lastCheckpoint"]["matchesChain"] is False


def replace_key(ctx: AuditContext, key: Ed25519PrivateKey) -> AuditContext:
    ctx.public_key = key.public_key()
    return ctx


EXPORT_COLUMNS = {
    "seq": "seq",
    "streamSeq": "stream_seq",
    "event": "event",
    "prevHash": "prev_hash",
    "hash": "hash",
    "recordedAt": "recorded_at",
    "digests": "digests",
}
"""Each field of an export's record line, and the column it comes from."""


def tamper_field(value: Any) -> Any:
    """The value changed, always: a change that could leave it as it was (say, writing "ff" over a hash that begins
    with "ff", one run in 256) would make the verifier look blind when it was never given anything to see."""
    changed = _tampered(value)
    assert changed != value, f"tampering left {value!r} as it was"
    return changed


def _tampered(value: Any) -> Any:
    if isinstance(value, int):
        return value + MOVED
    if isinstance(value, dict):
        return {**value, "data": {**value["data"], "villageCode": "33.07.01.2001"}}
    if value.endswith("+00:00"):  # a time
        return value.replace("+00:00", "+01:00")
    return f"{int(value[0], 16) ^ 0xF:x}{value[1:]}"  # hex: the first digit's bits all flipped


async def test_each_export_field_tampered_is_named_by_the_cli(
    store: AuditStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await publish(store, envelopes(N))
    await ingest(store)
    key = Ed25519PrivateKey.generate()
    export = tmp_path / "audit.jsonl"
    with export.open("wb") as out:
        await store.export(out, key.public_key())
    lines = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    fields = {k for line in lines if line["kind"] == "record" for k in line} - {"kind"}
    assert fields == set(EXPORT_COLUMNS), "a new field of the export: say which column it comes from"
    failures = []
    for field, column in EXPORT_COLUMNS.items():
        at = 5
        changed = orjson.loads(orjson.dumps(lines))
        changed[at][field] = tamper_field(changed[at][field])  # lines[at] is record `at` (after the header)
        forged = tmp_path / f"forged-{field}.jsonl"
        forged.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in changed))
        args = build_parser().parse_args(["audit", "verify", str(forged)])
        code, out = args.func(args), capsys.readouterr().out
        if code != 1 or f"record {at}, column {column}: " not in out or "CHAIN BROKEN" not in out:
            failures.append(f"{field}: {out}")
    assert failures == []


@pytest.mark.parametrize("value", ["ff" + "ab" * 31, "00" * 32, "0f" * 32, 7, "2026-12-07T13:54:20+00:00"])
def test_tampering_a_field_always_changes_it(value: Any) -> None:
    """Every value a field can hold is changed, a hash that already begins with "ff" included (CI once failed on one
    of those: the forged export was the export, and the verifier rightly said the chain was intact)."""
    assert tamper_field(value) != value
