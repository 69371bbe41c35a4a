"""The witness on real NATS and PostgreSQL: it keeps the checkpoints the service signs and publishes, refuses a
forged signature, records a validly signed conflicting hash apart, survives a NATS outage and stops on SIGTERM, warns
when no signed checkpoint arrives (and says when they resume, heartbeats included); and `verify --witness` catches an
export rewritten or cut consistently and re-signed with the stolen key."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demimas_audit.adapters.bus import CHECKPOINT_SUBJECT
from demimas_audit.adapters.witness_store import conflicts_path, read_store
from demimas_audit.domain.chain import canonical, digests, link_digests
from demimas_audit.domain.checkpoint import Checkpoint, key_id, message
from demimas_audit.domain.checkpoint import public_pem as pem
from demimas_audit.domain.witness import Decision
from demimas_audit.entrypoints.checkpointer import Checkpointer
from demimas_audit.entrypoints.witness import WitnessListener
from demimas_audit.service_layer.export import verify_export
from demimas_audit.service_layer.witness import Witness
from demimas_common.cli import build_parser
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect

from .conftest import AuditStore
from .test_chain_store import events, ingest, publish

pytestmark = pytest.mark.integration


def sign(key: Ed25519PrivateKey, seq: int, digest: bytes) -> Checkpoint:
    at = dt.datetime.now(dt.UTC)
    return Checkpoint(seq, digest, at, key_id(key.public_key()), key.sign(message(seq, digest, at)))


async def announce(nats_url: str, cp: Checkpoint) -> None:
    nc = await connect(nats_url, name="audit-test-announce")
    await nc.publish(CHECKPOINT_SUBJECT, orjson.dumps(cp.to_json()))
    await nc.flush()
    await nc.close()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):  # a minute: a loaded CI machine can outrun 10 s; a condition that holds returns at once
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def handled(witness: Witness) -> int:
    return sum(witness.counts.values())


async def start(listener: WitnessListener) -> asyncio.Task[None]:
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.subscribed.wait(), timeout=10)
    return task


async def chain_with_checkpoints(store: AuditStore, checkpointer: Checkpointer, sizes: list[int]) -> list[Checkpoint]:
    out = []
    for n in sizes:
        await publish(store, events(n))
        await ingest(store)
        cp = await checkpointer.checkpoint()
        assert cp is not None
        out.append(cp)
    return out


async def test_the_witness_keeps_signed_checkpoints_and_refuses_the_rest(store: AuditStore, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    path = tmp_path / "witness.jsonl"
    witness = Witness(path, key.public_key())
    listener = WitnessListener(witness, store.nats_url)
    task = await start(listener)
    first, second = await chain_with_checkpoints(store, checkpointer, [5, 4])
    await until(lambda: handled(witness) == 2)
    await announce(store.nats_url, sign(Ed25519PrivateKey.generate(), 10, bytes(32)))  # forged
    await until(lambda: handled(witness) == 3)
    await announce(store.nats_url, sign(key, first.seq, bytes(32)))  # the stolen key, another hash at 5
    await until(lambda: handled(witness) == 4)
    await announce(store.nats_url, sign(key, 3, bytes(32)))  # behind the head, never witnessed
    await announce(store.nats_url, first)  # a replay of what it has
    await until(lambda: handled(witness) == 6)
    listener.stop()
    await asyncio.wait_for(task, timeout=10)
    assert dict(witness.counts) == {
        Decision.ACCEPTED: 2,
        Decision.BAD_SIGNATURE: 1,
        Decision.CONFLICT: 1,
        Decision.STALE: 1,
        Decision.DUPLICATE: 1,
    }
    entries, bad = read_store(path)
    assert bad == []
    assert [(e.seq, e.hash, e.signature, e.key_id, e.signed_at) for e in entries] == [
        (cp.seq, cp.hash, cp.signature, cp.key_id, cp.signed_at) for cp in (first, second)
    ]
    assert all(e.signature_valid(key.public_key()) for e in entries)
    (conflict,) = [orjson.loads(line) for line in conflicts_path(path).read_bytes().splitlines()]
    assert (conflict["seq"], conflict["hash"], conflict["witnessedHash"]) == (5, bytes(32).hex(), first.hash.hex())
    # a new witness process resumes from the store's last line
    again = Witness(path, key.public_key())
    listener = WitnessListener(again, store.nats_url)
    task = await start(listener)
    assert again.last is not None
    assert again.last.seq == second.seq
    (third,) = await chain_with_checkpoints(store, checkpointer, [2])
    await announce(store.nats_url, second)
    await until(lambda: handled(again) == 2)
    listener.stop()
    await asyncio.wait_for(task, timeout=10)
    assert dict(again.counts) == {Decision.ACCEPTED: 1, Decision.DUPLICATE: 1}
    assert [e.seq for e in read_store(path)[0]] == [5, 9, third.seq] == [5, 9, 11]


async def test_the_witness_reconnects_after_a_nats_outage(stack: TestStack, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    nats = stack.fresh_nats("witness-outage")
    nats.start()
    witness = Witness(tmp_path / "witness.jsonl", key.public_key())
    listener = WitnessListener(witness, nats.url)
    try:
        task = await start(listener)
        await announce(nats.url, sign(key, 1, bytes(32)))
        await until(lambda: witness.counts[Decision.ACCEPTED] == 1)
        nats.stop()
        await asyncio.sleep(0.5)
        nats.start()
        later = sign(key, 2, bytes(31) + b"\x01")
        # core NATS: what is published before the witness is back is not replayed; up to 30 s to reconnect (10 s
        # could be outrun on a loaded machine)
        for _ in range(300):
            await announce(nats.url, later)
            if witness.counts[Decision.ACCEPTED] == 2:
                break
            await asyncio.sleep(0.1)
        nats.stop()  # and it stops cleanly while NATS is away
        await asyncio.sleep(0.3)
        listener.stop()
        await asyncio.wait_for(task, timeout=10)
    finally:
        nats.stop()
    assert [e.seq for e in read_store(tmp_path / "witness.jsonl")[0]] == [1, 2]


async def test_the_witness_command_warns_of_silence_and_stops_cleanly_on_sigterm(
    store: AuditStore, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "audit.pub").write_bytes(pem(key.public_key()))
    path = tmp_path / "witness.jsonl"
    argv = ["audit", "witness", "--store", str(path), "--public-key", str(tmp_path / "audit.pub"), "--warn-after", "1"]
    env = {**os.environ, "DEMIMAS_NATS_URL": store.nats_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "demimas_common.cli", *argv, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[bytes] = []
    while not any(b"witnessing audit.checkpoints" in x for x in lines) or not any(
        b"WARNING no signed checkpoint for " in x and b" s (none since start)" in x for x in lines
    ):
        # a new Python process importing the services: slow on a loaded CI machine, hence a minute
        lines.append(await asyncio.wait_for(process.stderr.readline(), timeout=60))
        assert lines[-1], b"".join(lines).decode()
    cp = sign(key, 7, bytes(32))
    await announce(store.nats_url, cp)
    await until(lambda: path.is_file() and path.read_bytes().endswith(b"\n"))
    process.send_signal(signal.SIGTERM)
    rest = await asyncio.wait_for(process.stderr.read(), timeout=30)
    assert await process.wait() == 0, rest.decode()
    assert b"witness stopped: 1 accepted; last sequence 7; longest silence " in rest
    longest = rest.split(b"longest silence ")[1].split(b" s")[0]
    assert int(longest) >= 1, rest.decode()  # the silence before the checkpoint, warned above
    assert [e.seq for e in read_store(path)[0]] == [7]


async def test_the_witness_warns_when_signed_checkpoints_stop_and_says_when_they_resume(
    store: AuditStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="demimas.audit.witness")
    key = Ed25519PrivateKey.generate()
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    witness = Witness(tmp_path / "witness.jsonl", key.public_key())
    listener = WitnessListener(witness, store.nats_url, warn_after=1, tick=0.05)

    def logged(text: str, level: int = logging.INFO) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == level and text in r.getMessage()]

    def silent() -> list[str]:
        return logged("no signed checkpoint for", logging.WARNING)

    task = await start(listener)
    try:
        await until(lambda: len(silent()) >= 2)  # warned, and again after a further period
        assert all("(none since start)" in m for m in silent())
        await announce(store.nats_url, sign(Ed25519PrivateKey.generate(), 3, bytes(32)))  # forged: no sign of life
        await until(lambda: witness.counts[Decision.BAD_SIGNATURE] == 1)
        assert logged("checkpoints resumed") == []
        (cp,) = await chain_with_checkpoints(store, checkpointer, [3])
        await until(lambda: len(logged("checkpoints resumed after")) == 1)
        assert logged("checkpoints resumed after")[0].endswith(f"(sequence {cp.seq})")
        # the chain stays quiet: a silence is warned again, naming the last checkpoint, until the heartbeat
        await until(lambda: any(f"(last: sequence {cp.seq} signed at " in m for m in silent()))
        assert await checkpointer.checkpoint() is None  # the head did not move: the last one, re-published
        await until(lambda: len(logged("checkpoints resumed after")) == 2)
    finally:
        listener.stop()
        await asyncio.wait_for(task, timeout=10)
    assert dict(witness.counts) == {Decision.BAD_SIGNATURE: 1, Decision.ACCEPTED: 1, Decision.DUPLICATE: 1}
    assert witness.longest_silence() >= dt.timedelta(seconds=2)


def verify(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str]:
    args = build_parser().parse_args(["audit", "verify", *map(str, argv)])
    code = args.func(args)
    return code, capsys.readouterr().out


def rewrite(
    lines: list[dict[str, Any]], key: Ed25519PrivateKey, *, change_at: int | None, cut_after: int | None
) -> bytes:
    """What an insider with the schema owner's password and the signing key can make: a chain changed at one record
    (or cut), re-hashed from there, its head and every checkpoint re-signed. It verifies on its own."""
    header, records = lines[0], [x for x in lines if x["kind"] == "record"]
    if cut_after is not None:
        records = records[:cut_after]
    prev = bytes(32)
    for r in records:
        if r["seq"] == change_at:
            r["event"]["data"]["villageCode"] = "33.07.01.2001"
        record_digests = digests(canonical(r["event"]), r["streamSeq"], dt.datetime.fromisoformat(r["recordedAt"]))
        r["digests"], r["prevHash"] = record_digests.hex(), prev.hex()
        r["hash"] = link_digests(prev, record_digests).hex()
        prev = bytes.fromhex(r["hash"])
    header["headSeq"], header["headHash"] = records[-1]["seq"], records[-1]["hash"]
    head = sign(key, records[-1]["seq"], prev)
    checkpoint = {"kind": "checkpoint", **head.to_json()}
    return b"".join(orjson.dumps(x) + b"\n" for x in [header, *records, checkpoint])


async def test_verify_with_the_witness_catches_a_consistent_rewrite_and_a_cut(
    store: AuditStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "audit.pub"
    public.write_bytes(pem(key.public_key()))
    checkpointer = Checkpointer(store.engine, store.nats_url, key, interval=3600)
    path = tmp_path / "witness.jsonl"
    witness = Witness(path, key.public_key())
    listener = WitnessListener(witness, store.nats_url)
    task = await start(listener)
    await chain_with_checkpoints(store, checkpointer, [6, 6])
    await until(lambda: handled(witness) == 2)
    listener.stop()
    await asyncio.wait_for(task, timeout=10)
    export = tmp_path / "audit.jsonl"
    with export.open("wb") as handle:
        await store.export(handle, key.public_key())

    code, out = verify(capsys, export, "--public-key", public, "--witness", path)
    assert code == 0, out
    assert "witness" in out
    assert out.rstrip().endswith("chain intact and consistent with the witness")

    lines = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    rewritten = tmp_path / "rewritten.jsonl"
    rewritten.write_bytes(rewrite(orjson.loads(orjson.dumps(lines)), key, change_at=4, cut_after=None))
    assert verify_export(rewritten, key.public_key()).ok  # without the witness, the forgery passes
    assert verify(capsys, rewritten, "--public-key", public)[0] == 0
    code, out = verify(capsys, rewritten, "--public-key", public, "--witness", path)
    assert code == 1
    assert "witness: MISMATCH at sequence 6:" in out
    assert "witness: MISMATCH at sequence 12:" in out
    assert "EXPORT DOES NOT MATCH THE WITNESS" in out

    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(rewrite(orjson.loads(orjson.dumps(lines)), key, change_at=None, cut_after=8))
    assert verify_export(cut, key.public_key()).ok
    code, out = verify(capsys, cut, "--public-key", public, "--witness", path)
    assert code == 1
    assert "witness: TRUNCATED at sequence 8: records after sequence 8 are missing" in out
    assert "MISMATCH" not in out

    # a witness store altered by hand is named too
    forged = tmp_path / "forged-witness.jsonl"
    entries = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    entries[0]["hash"] = "00" * 32
    forged.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in entries))
    code, out = verify(capsys, export, "--public-key", public, "--witness", forged)
    assert code == 1
    assert "witness: the entry at sequence 6 is not signed by this public key" in out
