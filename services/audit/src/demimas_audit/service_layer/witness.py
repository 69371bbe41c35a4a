"""An independent witness of signed checkpoints, run by an auditor on a machine of their own.

It subscribes to `audit.checkpoints`, checks each checkpoint's Ed25519 signature with a public key the auditor got
independently, and appends every accepted one to a JSON Lines file it alone controls (flushed and fsynced). An
export can later be compared with that file (`compare_with_witness`): whoever rewrites or cuts the whole table
consistently, even re-signing with a stolen key, cannot change what the witness already saw.

The pure parts are `decide` (accept, or why not) and `compare_with_witness`; the rest reads and appends the store.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.service_layer.checkpoints import CHECKPOINT_SUBJECT, Checkpoint, key_id, message
from demimas_common.events.nats import connect

__all__ = [
    "Decision",
    "Witness",
    "WitnessEntry",
    "WitnessProblem",
    "WitnessProblemKind",
    "compare_with_witness",
    "conflicts_path",
    "decide",
    "find_entry",
    "parse_checkpoint",
    "read_conflicts",
    "read_last_entry",
    "read_store",
]

log = logging.getLogger("demimas.audit.witness")


class Decision(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    """the same hash for a sequence already witnessed (another replica's checkpoint, or a replay): nothing to add"""
    BAD_SIGNATURE = "BAD_SIGNATURE"
    STALE = "STALE"
    """below the last stored sequence, and never witnessed: refused (the store only moves forward)"""
    CONFLICT = "CONFLICT"
    """another hash, validly signed, for a sequence already witnessed: evidence of tampering"""
    MALFORMED = "MALFORMED"


@dataclass(frozen=True)
class WitnessEntry:
    seq: int
    hash: bytes
    signature: bytes
    key_id: str
    signed_at: dt.datetime
    received_at: dt.datetime

    @classmethod
    def of(cls, cp: Checkpoint, received_at: dt.datetime) -> WitnessEntry:
        return cls(cp.seq, cp.hash, cp.signature, cp.key_id, cp.signed_at, received_at)

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "hash": self.hash.hex(),
            "signature": base64.b64encode(self.signature).decode(),
            "keyId": self.key_id,
            "signedAt": self.signed_at.isoformat(),
            "receivedAt": self.received_at.isoformat(),
        }

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> WitnessEntry:
        return cls(
            int(item["seq"]),
            bytes.fromhex(str(item["hash"])),
            base64.b64decode(str(item["signature"]), validate=True),
            str(item["keyId"]),
            dt.datetime.fromisoformat(str(item["signedAt"])),
            dt.datetime.fromisoformat(str(item["receivedAt"])),
        )

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, message(self.seq, self.hash, self.signed_at))
        except InvalidSignature:
            return False
        return True


def parse_checkpoint(data: bytes) -> Checkpoint:
    """A checkpoint as the audit service publishes it (`Checkpoint.to_json`); ValueError if it is not one."""
    try:
        item = orjson.loads(data)
        if not isinstance(item, dict):
            raise ValueError("not a JSON object")
        seq = item["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"sequence {seq!r} is not a positive integer")
        digest = bytes.fromhex(str(item["hash"]))
        if len(digest) != 32:
            raise ValueError("the hash is not 32 bytes")
        signed_at = dt.datetime.fromisoformat(str(item["signedAt"]))
        signature = base64.b64decode(str(item["signature"]), validate=True)
        return Checkpoint(seq, digest, signed_at, str(item["keyId"]), signature)
    except (KeyError, TypeError, ValueError) as exc:  # ValueError: JSON, hex, base64, a time, or the checks above
        raise ValueError(f"not a checkpoint: {type(exc).__name__}: {exc}") from exc


def decide(
    cp: Checkpoint,
    public_key: Ed25519PublicKey,
    last: WitnessEntry | None,
    witnessed_hash: Callable[[int], bytes | None],
) -> Decision:
    """What to do with a checkpoint, given the last stored entry and a lookup of the hash witnessed at an earlier
    sequence (only called for a sequence below the last). The signature comes first: without the key, anyone on the
    bus could otherwise plant a "conflict"."""
    try:
        public_key.verify(cp.signature, message(cp.seq, cp.hash, cp.signed_at))
    except InvalidSignature:
        return Decision.BAD_SIGNATURE
    if last is None or cp.seq > last.seq:
        return Decision.ACCEPTED
    seen = last.hash if cp.seq == last.seq else witnessed_hash(cp.seq)
    if seen is None:
        return Decision.STALE
    return Decision.DUPLICATE if seen == cp.hash else Decision.CONFLICT


# --- the store ------------------------------------------------------------------------------------------------------


def conflicts_path(store: Path) -> Path:
    return store.with_name(store.name + ".conflicts")


def _entries(path: Path) -> Iterator[tuple[int, WitnessEntry | None]]:
    """(line number, entry) for each non-blank line; None for a line that does not parse."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                yield number, WitnessEntry.from_json(item) if isinstance(item, dict) else None
            except (ValueError, KeyError, TypeError, binascii.Error):
                yield number, None


def read_store(path: Path) -> tuple[list[WitnessEntry], list[int]]:
    """Every entry of a witness store, and the numbers of the lines that do not parse."""
    entries, bad = [], []
    for number, entry in _entries(path):
        if entry is None:
            bad.append(number)
        else:
            entries.append(entry)
    return entries, bad


def read_conflicts(store: Path) -> list[dict[str, Any]]:
    path = conflicts_path(store)
    if not path.is_file():
        return []
    out = []
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    item = orjson.loads(line)
                except orjson.JSONDecodeError:
                    item = {"unreadable": line.decode(errors="replace")}
                out.append(item if isinstance(item, dict) else {"unreadable": item})
    return out


def find_entry(path: Path, seq: int) -> WitnessEntry | None:
    """The stored entry at `seq` (a scan: only needed for a checkpoint below the last one, which is rare)."""
    if not path.is_file():
        return None
    for _, entry in _entries(path):
        if entry is not None and entry.seq == seq:
            return entry
    return None


def _repair_tail(path: Path) -> None:
    """A crash while appending can leave a partial last line (it was never fsynced, so never acknowledged): cut it,
    saying what was cut, so the next entry starts on a line of its own."""
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = max(0, size - 65536)
        handle.seek(start)
        tail = handle.read()
        cut = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        handle.seek(cut)
        log.warning("witness store %s: removing an incomplete last line (a crash while writing): %r", path, tail)
        handle.truncate(cut)
        handle.flush()
        os.fsync(handle.fileno())


def read_last_entry(path: Path) -> WitnessEntry | None:
    """The last entry of the store (reads from the end), or None for a missing or empty store; ValueError if the last
    complete line is not an entry."""
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        block, data = 4096, b""
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
            lines = [line for line in data.split(b"\n") if line.strip()]
            if len(lines) >= 2 or (lines and end == 0):
                break
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        return None
    try:
        item = orjson.loads(lines[-1])
        if not isinstance(item, dict):
            raise ValueError("not a JSON object")
        return WitnessEntry.from_json(item)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"the last line of the witness store {path} is not a witness entry: {exc}") from exc


def _append(handle: IO[bytes], item: Mapping[str, object]) -> None:
    handle.write(orjson.dumps(item) + b"\n")
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    if sys.platform != "win32":
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _lock(handle: IO[bytes], path: Path) -> None:
    """One witness per store: two appending to one file would interleave their lines."""
    if sys.platform != "win32":
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another witness is already writing to {path}") from None


# --- the process ----------------------------------------------------------------------------------------------------


class Witness:
    """Subscribes to `audit.checkpoints` (core NATS, reconnecting forever: a checkpoint published while the
    witness is away is not replayed, but the next one covers the whole chain before it) and keeps the store."""

    def __init__(
        self, store: Path, public_key: Ed25519PublicKey, nats_url: str, *, now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.store, self.public_key, self.nats_url = store, public_key, nats_url
        self.key_id = key_id(public_key)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.counts: Counter[Decision] = Counter()
        self.last: WitnessEntry | None = None
        self._stop = asyncio.Event()
        self._handle: IO[bytes] | None = None
        self._conflicts: IO[bytes] | None = None
        self.subscribed = asyncio.Event()

    def open(self) -> None:
        """Open (or create) the store, take its lock and resume from its last line."""
        self.store.parent.mkdir(parents=True, exist_ok=True)
        created = not self.store.exists()
        handle = self.store.open("ab")
        try:
            _lock(handle, self.store)
            if created:
                _fsync_dir(self.store)
            _repair_tail(self.store)
            self.last = read_last_entry(self.store)
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        if self.last is None:
            log.info("witness store %s is new; key id %s", self.store, self.key_id)
        else:
            log.info(
                "witness store %s resumes after sequence %d (signed at %s); key id %s",
                self.store,
                self.last.seq,
                self.last.signed_at.isoformat(),
                self.key_id,
            )

    def close(self) -> None:
        for handle in (self._handle, self._conflicts):
            if handle is not None:
                handle.close()
        self._handle = self._conflicts = None

    def handle(self, data: bytes) -> Decision:
        """Decide on one published checkpoint and record it if accepted (or if it conflicts)."""
        assert self._handle is not None, "open() the witness first"
        received_at = self.now()
        try:
            cp = parse_checkpoint(data)
        except ValueError as exc:
            log.warning("ignored a message on %s that is not a checkpoint: %s", CHECKPOINT_SUBJECT, exc)
            self.counts[Decision.MALFORMED] += 1
            return Decision.MALFORMED

        def witnessed(seq: int) -> bytes | None:
            entry = find_entry(self.store, seq)
            return entry.hash if entry else None

        decision = decide(cp, self.public_key, self.last, witnessed)
        self.counts[decision] += 1
        if decision is Decision.ACCEPTED:
            entry = WitnessEntry.of(cp, received_at)
            _append(self._handle, entry.to_json())
            self.last = entry
            log.info("witnessed checkpoint at sequence %d, hash %s", cp.seq, cp.hash.hex())
        elif decision is Decision.DUPLICATE:
            log.info("checkpoint at sequence %d already witnessed with the same hash", cp.seq)
        elif decision is Decision.BAD_SIGNATURE:
            hint = (
                f"it names key id {cp.key_id}, yours is {self.key_id}: if the service's key was rotated, get its "
                "new public key independently and restart the witness with it"
                if cp.key_id != self.key_id
                else "it was not signed by the audit service's key (forged, or altered in transit)"
            )
            log.warning("REFUSED checkpoint at sequence %d: the signature does not verify; %s", cp.seq, hint)
        elif decision is Decision.STALE:
            assert self.last is not None
            log.warning(
                "REFUSED checkpoint at sequence %d: below the last witnessed sequence %d and never witnessed "
                "(the store only moves forward; a chain that shrank is what a truncation looks like)",
                cp.seq,
                self.last.seq,
            )
        else:
            self._record_conflict(cp, received_at)
        return decision

    def _record_conflict(self, cp: Checkpoint, received_at: dt.datetime) -> None:
        seen = self.last if self.last is not None and self.last.seq == cp.seq else find_entry(self.store, cp.seq)
        assert seen is not None
        item = {
            **WitnessEntry.of(cp, received_at).to_json(),
            "witnessedHash": seen.hash.hex(),
            "witnessedSignedAt": seen.signed_at.isoformat(),
        }
        if self._conflicts is None:
            path = conflicts_path(self.store)
            created = not path.exists()
            self._conflicts = path.open("ab")
            if created:
                _fsync_dir(path)
        _append(self._conflicts, item)
        log.critical(
            "TAMPERING: a validly signed checkpoint gives sequence %d the hash %s, but the witness saw %s there "
            "(signed at %s). The audit chain was rewritten after that checkpoint, or the signing key is in other "
            "hands. Kept in %s; keep this store and report it.",
            cp.seq,
            cp.hash.hex(),
            seen.hash.hex(),
            seen.signed_at.isoformat(),
            conflicts_path(self.store),
        )

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until `stop()`: keep the subscription (nats-py reconnects and resubscribes after an outage)."""
        if self._handle is None:
            self.open()
        connecting = asyncio.create_task(connect(self.nats_url, name="audit-witness"))
        stopping = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not connecting.done():  # stopped before NATS ever answered
                connecting.cancel()
                return
            nc = connecting.result()

            async def on_message(msg: Any) -> None:
                try:
                    self.handle(msg.data)
                except Exception:  # e.g. the disk is full: say so loudly, keep listening
                    log.exception("could not record a checkpoint in %s", self.store)

            try:
                await nc.subscribe(CHECKPOINT_SUBJECT, cb=on_message)
                await nc.flush()
                log.info("witnessing %s on %s", CHECKPOINT_SUBJECT, self.nats_url)
                self.subscribed.set()
                await stopping
            finally:
                try:
                    await nc.drain()  # the messages already received are handled before closing
                except Exception:  # stopped during an outage: nothing is left to drain
                    await nc.close()
        finally:
            stopping.cancel()
            self.close()


# --- comparing an export with the witness ---------------------------------------------------------------------------


class WitnessProblemKind(StrEnum):
    MISMATCH = "MISMATCH"
    """the export holds another hash at a sequence the witness saw"""
    MISSING = "MISSING"
    """the export has no record at a witnessed sequence, though it goes beyond it"""
    TRUNCATED = "TRUNCATED"
    """the export ends before the witness's highest sequence"""


@dataclass(frozen=True)
class WitnessProblem:
    seq: int
    kind: WitnessProblemKind
    detail: str


def compare_with_witness(
    witnessed: Iterable[WitnessEntry], exported: Iterable[tuple[int, bytes]]
) -> list[WitnessProblem]:
    """Each witnessed (sequence, hash) against the export's record at that sequence, and the export's reach against
    the witness's highest sequence. `exported` is (sequence, hash) of each record, in any order."""
    seen = {e.seq: e for e in witnessed}
    found: dict[int, bytes] = {}
    highest = 0
    for seq, digest in exported:
        highest = max(highest, seq)
        if seq in seen:
            found[seq] = digest
    problems = []
    for seq in sorted(seen):
        entry = seen[seq]
        if seq > highest:
            break
        if seq not in found:
            problems.append(
                WitnessProblem(
                    seq,
                    WitnessProblemKind.MISSING,
                    f"the export has no record {seq}, which was signed at {entry.signed_at.isoformat()}",
                )
            )
        elif found[seq] != entry.hash:
            problems.append(
                WitnessProblem(
                    seq,
                    WitnessProblemKind.MISMATCH,
                    f"the export's hash {found[seq].hex()} is not the {entry.hash.hex()} the witness saw signed at "
                    f"{entry.signed_at.isoformat()}: this record or one before it was rewritten since",
                )
            )
    if seen and max(seen) > highest:
        top = seen[max(seen)]
        problems.append(
            WitnessProblem(
                highest,
                WitnessProblemKind.TRUNCATED,
                f"records after sequence {highest} are missing: the witness saw the chain reach sequence {top.seq} "
                f"(signed at {top.signed_at.isoformat()})",
            )
        )
    return problems
