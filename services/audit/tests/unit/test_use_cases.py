"""The audit's use cases on in-memory repositories (no database, no NATS): the ingest links each batch to the
chain's end in stream order, once per event, noting gaps, and writes it only where it was linked; a checkpoint signs
the last record, once; an export verifies offline; the data-subject report refuses callers without the scope or the
purpose before asking the gateway anything."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demimas_audit.domain.chain import GENESIS, canonical, digests, link_digests, verify
from demimas_audit.domain.checkpoint import key_id, message
from demimas_audit.domain.commands import (
    AppendBatch,
    ExportChain,
    LinkBatch,
    RequestPersonalDataReport,
    SignCheckpoint,
)
from demimas_audit.domain.ingest import Head, HeadMoved, Incoming, incoming
from demimas_audit.service_layer.checkpoints import last_checkpoint, sign_checkpoint
from demimas_audit.service_layer.export import export_chain, verify_export
from demimas_audit.service_layer.ingest import append_batch, link_batch, stream_position
from demimas_audit.service_layer.report import OPERATION_HASH, personal_data_report
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import Forbidden, NotFound, Unavailable

from .fakes import FakeGateway, InMemoryChain, InMemoryCheckpoints, fake_uow


def event(n: int, *, event_id: str | None = None) -> dict[str, Any]:
    worker = str(uuid.uuid4())
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "type": "demimas.registry.worker.registered",
        "source": "demimas/registry",
        "subject": worker,
        "time": "2026-11-22T08:00:00+00:00",
        "data": {"workerId": worker, "n": n},
    }


def messages(first_stream_seq: int, n: int) -> list[Incoming]:
    return [Incoming(first_stream_seq + i, event(i)) for i in range(n)]


async def ingest(chain: InMemoryChain, batch: list[Incoming]) -> int:
    """One pass of the reader: link, then append, each in a unit of work of its own."""
    async with fake_uow(chain) as uow:
        prepared = await link_batch(LinkBatch(batch), uow)
    async with fake_uow(chain) as uow:
        return await append_batch(AppendBatch(prepared), uow)


async def intact(chain: InMemoryChain) -> bool:
    """Whether the chain verifies as `verifyAuditChain` checks it."""
    records = [r async for r in chain.records_in_order()]
    _, problems = verify(records, first_seq=1, last_seq=chain.current.seq, prev_hash=GENESIS,
                         head_seq=chain.current.seq, head_hash=chain.current.hash)  # fmt: skip
    return problems == []


class TestIngest:
    async def test_a_batch_is_appended_in_stream_order_each_record_on_the_previous_hash(self) -> None:
        chain = InMemoryChain()
        batch = messages(1, 5)
        assert await ingest(chain, batch) == 5
        assert [r["seq"] for r in chain.records] == [1, 2, 3, 4, 5]
        assert [r["stream_seq"] for r in chain.records] == [1, 2, 3, 4, 5]
        prev = GENESIS
        for r, m in zip(chain.records, batch, strict=True):
            assert r["prev_hash"] == prev
            assert r["digests"] == digests(canonical(m.body), m.stream_seq, r["recorded_at"])
            assert r["hash"] == link_digests(prev, r["digests"])
            prev = r["hash"]
        assert chain.current == Head(5, prev, 5)
        assert await intact(chain)

    async def test_the_next_batch_links_to_where_the_last_one_ended(self) -> None:
        chain = InMemoryChain()
        await ingest(chain, messages(1, 3))
        end = chain.current
        await ingest(chain, messages(4, 2))
        assert chain.records[3]["prev_hash"] == end.hash
        assert [r["seq"] for r in chain.records] == [1, 2, 3, 4, 5]
        async with fake_uow(chain) as uow:
            assert await stream_position(uow) == 5
        assert await intact(chain)

    async def test_an_event_stored_already_or_twice_in_a_batch_is_chained_once(self) -> None:
        chain = InMemoryChain()
        first = messages(1, 2)
        await ingest(chain, first)
        again = Incoming(3, first[1].body)  # republished: a new stream message, the same event
        fresh = event(9)
        batch = [again, Incoming(4, fresh), Incoming(5, fresh)]
        assert await ingest(chain, batch) == 1
        assert [(r["seq"], r["stream_seq"]) for r in chain.records] == [(1, 1), (2, 2), (3, 4)]
        assert chain.current.stream_seq == 5  # read past the duplicates all the same
        assert chain.gaps == []
        assert await intact(chain)

    async def test_messages_read_before_are_skipped(self) -> None:
        chain = InMemoryChain()
        batch = messages(1, 3)
        await ingest(chain, batch)
        assert await ingest(chain, [*batch[1:], *messages(4, 1)]) == 1  # a redelivery after a reconnect, then one new
        assert [r["stream_seq"] for r in chain.records] == [1, 2, 3, 4]

    async def test_a_jump_in_the_stream_sequence_is_a_gap(self) -> None:
        chain = InMemoryChain()
        await ingest(chain, [*messages(1, 2), *messages(6, 1)])
        assert chain.gaps == [(3, 5, 2)]  # stream sequences 3 to 5 missing, after record 2
        assert [r["seq"] for r in chain.records] == [1, 2, 3]

    async def test_linking_writes_and_commits_nothing(self) -> None:
        chain = InMemoryChain()
        async with fake_uow(chain) as uow:
            prepared = await link_batch(LinkBatch(messages(1, 4)), uow)
        assert (prepared.added, prepared.start, prepared.end.seq) == (4, Head(0, GENESIS, 0), 4)
        assert (chain.records, chain.appends, uow.commits) == ([], 0, 0)

    async def test_a_batch_is_linked_after_the_one_still_being_written(self) -> None:
        chain = InMemoryChain()
        async with fake_uow(chain) as uow:
            first = await link_batch(LinkBatch(messages(1, 3)), uow)
            # linked after where the first will end; its last message, read again, is left out
            second = await link_batch(LinkBatch([Incoming(3, {}), *messages(4, 2)], first.end, first.ids), uow)
        assert (second.start, second.end.seq, second.added) == (first.end, 5, 2)
        for prepared in (first, second):
            async with fake_uow(chain) as uow:
                await append_batch(AppendBatch(prepared), uow)
        assert [r["seq"] for r in chain.records] == [1, 2, 3, 4, 5]
        assert await intact(chain)

    async def test_an_event_of_the_batch_being_written_is_not_chained_again(self) -> None:
        chain = InMemoryChain()
        async with fake_uow(chain) as uow:
            first = await link_batch(LinkBatch(messages(1, 2)), uow)
            republished = Incoming(3, orjson.loads(first.rows["event"][0]))
            second = await link_batch(LinkBatch([republished], first.end, first.ids), uow)
        assert (second.added, second.end.stream_seq) == (0, 3)

    async def test_a_batch_is_not_written_where_the_chain_no_longer_ends(self) -> None:
        chain = InMemoryChain()
        async with fake_uow(chain) as uow:
            stale = await link_batch(LinkBatch(messages(1, 2)), uow)
        await ingest(chain, messages(1, 3))  # another writer got there first
        uow = fake_uow(chain)
        with pytest.raises(HeadMoved):
            async with uow:
                await append_batch(AppendBatch(stale), uow)
        assert uow.commits == 0
        assert [r["stream_seq"] for r in chain.records] == [1, 2, 3]

    def test_only_a_json_object_is_an_event(self) -> None:
        assert incoming(7, b'{"id": "x"}') == Incoming(7, {"id": "x"})
        assert incoming(7, b"[1, 2]") is None
        assert incoming(7, b"not json") is None


class TestCheckpoints:
    async def test_a_checkpoint_signs_the_last_record(self) -> None:
        chain, stored = InMemoryChain(), InMemoryCheckpoints()
        await ingest(chain, messages(1, 4))
        key = Ed25519PrivateKey.generate()
        uow = fake_uow(chain, stored)
        async with uow:
            cp = await sign_checkpoint(SignCheckpoint(key), uow)
        assert cp is not None
        assert (cp.seq, cp.hash, cp.key_id) == (4, chain.records[-1]["hash"], key_id(key.public_key()))
        key.public_key().verify(cp.signature, message(cp.seq, cp.hash, cp.signed_at))
        assert abs(dt.datetime.now(dt.UTC) - cp.signed_at) < dt.timedelta(minutes=1)
        assert (await stored.all(), uow.commits) == ([cp], 1)

    async def test_no_checkpoint_while_the_head_has_not_moved(self) -> None:
        chain, stored = InMemoryChain(), InMemoryCheckpoints()
        key = Ed25519PrivateKey.generate()
        uow = fake_uow(chain, stored)
        async with uow:
            assert await sign_checkpoint(SignCheckpoint(key), uow) is None  # an empty chain
        await ingest(chain, messages(1, 2))
        async with uow:
            first = await sign_checkpoint(SignCheckpoint(key), uow)
            assert await sign_checkpoint(SignCheckpoint(key), uow) is None
        await ingest(chain, messages(3, 1))
        async with uow:
            second = await sign_checkpoint(SignCheckpoint(key), uow)
        assert (first and first.seq, second and second.seq, uow.commits) == (2, 3, 2)
        assert [c.seq for c in await stored.all()] == [2, 3]

    async def test_the_last_stored_checkpoint_is_what_a_heartbeat_republishes(self) -> None:
        chain, stored = InMemoryChain(), InMemoryCheckpoints()
        key = Ed25519PrivateKey.generate()
        uow = fake_uow(chain, stored)
        async with uow:
            assert await last_checkpoint(uow) is None  # nothing stored: nothing to re-publish
        for start in (1, 3):
            await ingest(chain, messages(start, 2))
            async with uow:
                cp = await sign_checkpoint(SignCheckpoint(key), uow)
        async with uow:
            assert await sign_checkpoint(SignCheckpoint(key), uow) is None
            assert await last_checkpoint(uow) == cp
        assert cp is not None
        assert (cp.seq, uow.commits) == (4, 2)


async def test_an_export_holds_the_chain_and_its_checkpoints_and_verifies_offline(tmp_path: Path) -> None:
    chain, stored = InMemoryChain(), InMemoryCheckpoints()
    key = Ed25519PrivateKey.generate()
    await ingest(chain, messages(1, 6))
    async with fake_uow(chain, stored) as uow:
        await sign_checkpoint(SignCheckpoint(key), uow)
    path = tmp_path / "audit.jsonl"
    with path.open("wb") as out:
        async with fake_uow(chain, stored) as uow:
            assert await export_chain(ExportChain(out, key.public_key()), uow) == 6
    assert uow.commits == 0
    header = orjson.loads(path.read_bytes().splitlines()[0])
    assert (header["headSeq"], header["headHash"], header["keyId"]) == (6, chain.current.hash.hex(),
                                                                        key_id(key.public_key()))  # fmt: skip
    result = verify_export(path, key.public_key())
    assert (result.ok, result.records, result.checkpoints) == (True, 6, 1)


class TestPersonalDataReport:
    WORKER = "0b5a4c56-6f4e-4c8e-9a52-7d1a5c1f0e11"

    def principal(self, scopes: set[str], purpose: Purpose | None = Purpose.DATA_SUBJECT_REQUEST) -> Principal:
        return Principal("dpo-1", Agency.KP2MI, frozenset(scopes), purpose=purpose)

    def cmd(self) -> RequestPersonalDataReport:
        return RequestPersonalDataReport(self.WORKER, "Bearer the-callers-own-token")

    async def test_a_caller_without_the_scope_is_refused_before_the_gateway_is_asked(self) -> None:
        gateway = FakeGateway({"data": {"worker": {"id": self.WORKER}}})
        with pytest.raises(Forbidden, match="subject:report"):
            await personal_data_report(self.cmd(), gateway, self.principal({"audit:read"}))
        assert gateway.sent == []

    async def test_a_caller_without_the_purpose_is_refused(self) -> None:
        gateway = FakeGateway({"data": {"worker": {"id": self.WORKER}}})
        for purpose in (None, Purpose.PLACEMENT_SERVICE):
            with pytest.raises(Forbidden, match="DATA_SUBJECT_REQUEST"):
                await personal_data_report(self.cmd(), gateway, self.principal({"subject:report"}, purpose))
        assert gateway.sent == []

    async def test_the_report_is_asked_with_the_callers_token_and_purpose(self) -> None:
        worker = {"id": self.WORKER, "fullName": "Siti Aminah"}
        gateway = FakeGateway({"data": {"worker": worker}, "errors": [{"message": "late", "path": ["worker", "x"]}]})
        document = await personal_data_report(self.cmd(), gateway, self.principal({"subject:report"}))
        ((body, headers),) = gateway.sent
        assert (body["operationName"], body["variables"]) == ("PersonalDataReport", {"id": self.WORKER})
        assert headers["authorization"] == "Bearer the-callers-own-token"
        assert headers["x-demimas-purpose"] == "DATA_SUBJECT_REQUEST"
        assert document["data"] == worker
        assert document["requestedBy"] == {"agency": "KP2MI", "sub": "dpo-1"}
        assert document["operation"] == {"name": "PersonalDataReport", "sha256": OPERATION_HASH}
        assert document["incomplete"] == [["worker", "x"]]

    async def test_an_unknown_worker_is_not_found_and_a_failed_report_unavailable(self) -> None:
        principal = self.principal({"subject:report"})
        missing = FakeGateway({"data": {"worker": None}, "errors": [{"extensions": {"code": "NOT_FOUND"}}]})
        with pytest.raises(NotFound):
            await personal_data_report(self.cmd(), missing, principal)
        failed = FakeGateway({"data": None, "errors": [{"message": "registry down"}]})
        with pytest.raises(Unavailable, match="registry down"):
            await personal_data_report(self.cmd(), failed, principal)
