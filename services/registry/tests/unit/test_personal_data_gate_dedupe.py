"""Hostile review of the gate's dedupe (`_recorded`): a field read again in the same request writes no record of its
own, so it must never pass unless the record of its first read was written. Fail closed still holds: a first
record that failed fails every later read of the same key; other workers, other fields and family members keep
a record of their own."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from typing import Any

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import Unavailable
from demimas_registry.entrypoints.graphql import personal_data
from demimas_registry.entrypoints.graphql.personal_data import PersonalDataGate

KP2MI = Principal("t", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI], purpose="PERLINDUNGAN")
A, B = uuid.uuid4(), uuid.uuid4()


class Recorder:
    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.records: list[Any] = []

    async def __call__(self, record: Any, uow: Any, principal: Principal) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("outbox down")
        self.records.append(record)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(personal_data, "record_personal_data_access", rec)
    return rec


@asynccontextmanager
async def uow() -> Any:
    yield object()


def covered(records: list[Any], worker: uuid.UUID, field: str) -> bool:
    return any(str(worker) in r.worker_ids and field in r.fields for r in records)


async def test_a_failed_first_record_fails_the_same_field_read_again(recorder: Recorder) -> None:
    recorder.fail = 1
    gate = PersonalDataGate(uow, KP2MI)
    with pytest.raises(Unavailable):
        await gate.gate(A, "nik", "pii:read")
    with pytest.raises(Unavailable):
        await gate.gate(A, "nik", "pii:read")  # no second chance to pass without a record
    assert recorder.records == []


async def test_read_together_a_failed_record_fails_both_reads(recorder: Recorder) -> None:
    recorder.fail = 1
    gate = PersonalDataGate(uow, KP2MI)
    results = await asyncio.gather(
        gate.gate(A, "nik", "pii:read"), gate.gate(A, "nik", "pii:read"), return_exceptions=True
    )
    assert all(isinstance(r, Unavailable) for r in results)


async def test_every_other_worker_field_or_family_member_is_recorded(recorder: Recorder) -> None:
    gate = PersonalDataGate(uow, KP2MI)
    await gate.gate(A, "nik", "pii:read")
    await gate.gate(A, "nik", "pii:read")
    await gate.gate(B, "nik", "pii:read")
    await gate.gate(A, "phone", "pii:read")
    await gate.gate(A, "family", "family:read", family_member_ids=["m1"])
    await gate.gate(A, "family", "family:read", family_member_ids=["m2"])
    assert covered(recorder.records, A, "nik")
    assert covered(recorder.records, B, "nik")
    assert covered(recorder.records, A, "phone")
    members = [m for r in recorder.records for m in r.family_member_ids]
    assert sorted(members) == ["m1", "m2"]
    assert len(recorder.records) == 5  # one per distinct read; the repeated nik of A none


async def test_a_later_record_failing_does_not_pass_its_own_reads(recorder: Recorder) -> None:
    gate = PersonalDataGate(uow, KP2MI)
    await gate.gate(A, "nik", "pii:read")
    recorder.fail = 1
    with pytest.raises(Unavailable):
        await gate.gate(A, "phone", "pii:read")
    with pytest.raises(Unavailable):
        await gate.gate(A, "phone", "pii:read")
