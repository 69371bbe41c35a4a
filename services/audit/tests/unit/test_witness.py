"""The witness's decisions, its store, and the comparison of an export with it (no NATS, no database)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demimas_audit.adapters.witness_store import conflicts_path, find_entry, read_last_entry, read_store
from demimas_audit.domain.checkpoint import Checkpoint, key_id, message, parse_checkpoint
from demimas_audit.domain.witness import (
    Decision,
    Liveness,
    SilenceWarning,
    WitnessEntry,
    WitnessProblemKind,
    compare_with_witness,
    decide,
)
from demimas_audit.service_layer.witness import Witness

KEY = Ed25519PrivateKey.generate()
KEY_2 = Ed25519PrivateKey.generate()
T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def digest(seq: int, variant: str = "") -> bytes:
    return hashlib.sha256(f"{variant}{seq}".encode()).digest()


def signed(seq: int, variant: str = "", key: Ed25519PrivateKey = KEY) -> Checkpoint:
    at = T0 + dt.timedelta(minutes=seq)
    h = digest(seq, variant)
    return Checkpoint(seq, h, at, key_id(key.public_key()), key.sign(message(seq, h, at)))


def entry(seq: int, variant: str = "") -> WitnessEntry:
    return WitnessEntry.of(signed(seq, variant), T0 + dt.timedelta(minutes=seq, seconds=1))


def never(seq: int) -> bytes | None:
    return None


def test_a_new_store_accepts_a_validly_signed_checkpoint() -> None:
    assert decide(signed(5), KEY.public_key(), None, never) is Decision.ACCEPTED
    assert decide(signed(6), KEY.public_key(), entry(5), never) is Decision.ACCEPTED


def test_a_bad_signature_is_refused_before_anything_else() -> None:
    other = Ed25519PrivateKey.generate()
    assert decide(signed(5, key=other), KEY.public_key(), None, never) is Decision.BAD_SIGNATURE
    cp = signed(5)
    altered = Checkpoint(cp.seq, digest(5, "x"), cp.signed_at, cp.key_id, cp.signature)
    # not a conflict: without the key anyone on the bus could plant one
    assert decide(altered, KEY.public_key(), entry(5), never) is Decision.BAD_SIGNATURE


def test_the_same_hash_again_is_a_duplicate_another_is_a_conflict() -> None:
    assert decide(signed(5), KEY.public_key(), entry(5), never) is Decision.DUPLICATE
    assert decide(signed(5, "rewritten"), KEY.public_key(), entry(5), never) is Decision.CONFLICT
    earlier = {3: digest(3)}.get
    assert decide(signed(3), KEY.public_key(), entry(5), earlier) is Decision.DUPLICATE
    assert decide(signed(3, "rewritten"), KEY.public_key(), entry(5), earlier) is Decision.CONFLICT


def test_a_sequence_below_the_last_never_witnessed_is_stale() -> None:
    assert decide(signed(4), KEY.public_key(), entry(5), never) is Decision.STALE


def test_a_published_checkpoint_parses_and_garbage_does_not() -> None:
    cp = signed(7)
    assert parse_checkpoint(orjson.dumps(cp.to_json())) == cp
    for bad in (b"not json", b"[1]", b'{"seq": 7}', orjson.dumps({**cp.to_json(), "seq": 0})):
        with pytest.raises(ValueError, match="not a checkpoint"):
            parse_checkpoint(bad)
    with pytest.raises(ValueError, match="not 32 bytes"):
        parse_checkpoint(orjson.dumps({**cp.to_json(), "hash": "abcd"}))


def test_store_entries_round_trip_and_the_last_is_read_from_the_end(tmp_path: Path) -> None:
    store = tmp_path / "w.jsonl"
    assert read_last_entry(store) is None
    store.write_bytes(b"".join(orjson.dumps(entry(s).to_json()) + b"\n" for s in range(1, 400)))
    assert read_last_entry(store) == entry(399)
    assert find_entry(store, 17) == entry(17)
    assert find_entry(store, 400) is None
    entries, bad = read_store(store)
    assert (len(entries), bad) == (399, [])
    assert entries[0].signature_valid(KEY.public_key())
    assert not entries[0].signature_valid(Ed25519PrivateKey.generate().public_key())


def test_the_witness_appends_refuses_and_records_conflicts_apart(tmp_path: Path) -> None:
    store = tmp_path / "w.jsonl"
    witness = Witness(store, KEY.public_key(), now=lambda: T0)
    witness.open()
    outcomes = [
        witness.handle(orjson.dumps(cp.to_json()))
        for cp in (signed(3), signed(5), signed(5), signed(4), signed(3, "rewritten"), signed(6, key=KEY_2))
    ]
    witness.handle(b"{}")
    witness.close()
    assert outcomes == [
        Decision.ACCEPTED,
        Decision.ACCEPTED,
        Decision.DUPLICATE,
        Decision.STALE,
        Decision.CONFLICT,
        Decision.BAD_SIGNATURE,
    ]
    lines = [orjson.loads(line) for line in store.read_bytes().splitlines()]
    assert [(x["seq"], x["hash"]) for x in lines] == [(3, digest(3).hex()), (5, digest(5).hex())]
    assert set(lines[0]) == {"seq", "hash", "signature", "keyId", "signedAt", "receivedAt"}
    assert lines[0]["receivedAt"] == T0.isoformat()
    (conflict,) = [orjson.loads(line) for line in conflicts_path(store).read_bytes().splitlines()]
    assert (conflict["seq"], conflict["hash"], conflict["witnessedHash"]) == (
        3,
        digest(3, "rewritten").hex(),
        digest(3).hex(),
    )


def test_the_witness_resumes_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    store = tmp_path / "w.jsonl"
    store.write_bytes(orjson.dumps(entry(5).to_json()) + b"\n" + b'{"seq": 6, "ha')
    witness = Witness(store, KEY.public_key())
    witness.open()
    assert witness.last == entry(5)
    assert witness.handle(orjson.dumps(signed(5, "rewritten").to_json())) is Decision.CONFLICT
    assert witness.handle(orjson.dumps(signed(6).to_json())) is Decision.ACCEPTED
    witness.close()
    entries, bad = read_store(store)
    assert ([e.seq for e in entries], bad) == ([5, 6], [])


def test_one_store_takes_one_witness(tmp_path: Path) -> None:
    store = tmp_path / "w.jsonl"
    first = Witness(store, KEY.public_key())
    first.open()
    with pytest.raises(RuntimeError, match="another witness"):
        Witness(store, KEY.public_key()).open()
    first.close()


def test_an_export_matching_the_witness_has_no_problem() -> None:
    exported = [(s, digest(s)) for s in range(1, 11)]
    assert compare_with_witness([entry(3), entry(7)], exported) == []
    assert compare_with_witness([], exported) == []


def test_a_rewritten_export_mismatches_at_each_witnessed_sequence_after_the_change() -> None:
    exported = [(s, digest(s) if s < 5 else digest(s, "rewritten")) for s in range(1, 11)]
    problems = compare_with_witness([entry(3), entry(7), entry(9)], exported)
    assert [(p.seq, p.kind) for p in problems] == [(7, WitnessProblemKind.MISMATCH), (9, WitnessProblemKind.MISMATCH)]
    assert digest(7).hex() in problems[0].detail


def test_a_cut_export_is_truncated_at_its_end() -> None:
    exported = [(s, digest(s)) for s in range(1, 6)]
    problems = compare_with_witness([entry(3), entry(7), entry(9)], exported)
    assert [(p.seq, p.kind) for p in problems] == [(5, WitnessProblemKind.TRUNCATED)]
    assert problems[0].detail.startswith("records after sequence 5 are missing")
    assert "sequence 9" in problems[0].detail


def test_a_hole_at_a_witnessed_sequence_is_missing() -> None:
    exported = [(s, digest(s)) for s in range(1, 11) if s != 7]
    problems = compare_with_witness([entry(7)], exported)
    assert [(p.seq, p.kind) for p in problems] == [(7, WitnessProblemKind.MISSING)]


WARN = dt.timedelta(seconds=180)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_silence_is_warned_once_it_crosses_warn_after() -> None:
    state = Liveness(at(0))
    for t in (0, 60, 179.9):
        assert state.check(at(t), WARN) == (state, None)
    state, warning = state.check(at(180), WARN)
    assert warning == SilenceWarning(dt.timedelta(seconds=180), None, None)
    assert warning.message == "no signed checkpoint for 180 s (none since start)"
    # not again within the next period
    assert state.check(at(181), WARN)[1] is None
    assert state.check(at(359), WARN)[1] is None


def test_a_lasting_silence_is_warned_again_each_further_period_and_a_late_check_warns_once() -> None:
    state, first = Liveness(at(0)).check(at(200), WARN)
    assert first is not None
    state, second = state.check(at(360), WARN)
    assert second is not None
    assert second.silence == dt.timedelta(seconds=360)
    state, third = state.check(at(1000), WARN)  # a late wake-up: one warning, not the three periods it missed
    assert third is not None
    assert third.silence == dt.timedelta(seconds=1000)
    assert state.check(at(1079), WARN)[1] is None
    assert state.check(at(1080), WARN)[1] is not None


def test_a_signed_checkpoint_restarts_the_silence_and_names_the_last_one() -> None:
    cp = signed(7)
    state, resumed = Liveness(at(0)).received(Decision.ACCEPTED, cp, at(100))
    assert resumed is None  # no warning was given: nothing to resume
    assert state.check(at(279), WARN)[1] is None
    state, warning = state.check(at(280), WARN)
    assert warning is not None
    assert warning.message == f"no signed checkpoint for 180 s (last: sequence 7 signed at {cp.signed_at.isoformat()})"
    # a heartbeat (the same checkpoint again) is a duplicate: alive too
    state, resumed = state.received(Decision.DUPLICATE, cp, at(300))
    assert resumed == dt.timedelta(seconds=200)
    assert state.check(at(479), WARN)[1] is None
    assert state.longest_at(at(310)) == dt.timedelta(seconds=200)
    assert state.longest_at(at(900)) == dt.timedelta(seconds=600)  # the current silence counts once longer


def test_only_a_validly_signed_consistent_checkpoint_proves_the_publisher_alive() -> None:
    state, warning = Liveness(at(0)).check(at(180), WARN)
    assert warning is not None
    for decision in (Decision.BAD_SIGNATURE, Decision.MALFORMED, Decision.STALE, Decision.CONFLICT):
        assert state.received(decision, signed(3), at(200)) == (state, None)
    assert state.received(Decision.ACCEPTED, None, at(200)) == (state, None)
    assert state.check(at(360), WARN)[1] is not None  # still silent


def test_the_witness_warns_of_silence_and_says_when_checkpoints_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [at(0)]
    witness = Witness(tmp_path / "w.jsonl", KEY.public_key(), now=lambda: clock[0])
    witness.open()
    caplog.set_level(logging.DEBUG, logger="demimas.audit.witness")
    caplog.clear()
    clock[0] = at(30)
    witness.check_silence(dt.timedelta(seconds=30))
    forged = signed(4, key=KEY_2)
    clock[0] = at(40)
    assert witness.handle(orjson.dumps(forged.to_json())) is Decision.BAD_SIGNATURE
    clock[0] = at(60)
    witness.check_silence(dt.timedelta(seconds=30))
    clock[0] = at(65)
    assert witness.handle(orjson.dumps(signed(4).to_json())) is Decision.ACCEPTED
    assert witness.longest_silence() == dt.timedelta(seconds=65)
    witness.close()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    silent = [m for level, m in messages if level == logging.WARNING and m.startswith("no signed checkpoint")]
    assert [m.split(":")[0] for m in silent] == [
        "no signed checkpoint for 30 s (none since start)",
        "no signed checkpoint for 60 s (none since start)",  # the forged one did not count
    ]
    assert (logging.INFO, "checkpoints resumed after 65 s (sequence 4)") in messages


def test_a_heartbeat_is_a_duplicate_logged_below_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    witness = Witness(tmp_path / "w.jsonl", KEY.public_key())
    witness.open()
    caplog.set_level(logging.DEBUG, logger="demimas.audit.witness")
    assert witness.handle(orjson.dumps(signed(5).to_json())) is Decision.ACCEPTED
    caplog.clear()
    for _ in range(3):  # the audit service re-publishes its last checkpoint every interval while the chain is quiet
        assert witness.handle(orjson.dumps(signed(5).to_json())) is Decision.DUPLICATE
    witness.close()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 3
    assert [e.seq for e in read_store(tmp_path / "w.jsonl")[0]] == [5]
