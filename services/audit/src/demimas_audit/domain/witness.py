"""The witness's rules, with no I/O: what to do with a published checkpoint (`decide`), the form of a stored entry
(`WitnessEntry`), how an export compares with what the witness saw (`compare_with_witness`), and when a silence of
the publisher is worth a warning (`Liveness`).

A witness keeps every validly signed checkpoint it sees; whoever later rewrites or cuts the whole chain consistently,
even re-signing with a stolen key, cannot change what the witness already saw.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.domain.checkpoint import Checkpoint, message

__all__ = [
    "LIVE_DECISIONS",
    "Decision",
    "Liveness",
    "SilenceWarning",
    "WitnessEntry",
    "WitnessProblem",
    "WitnessProblemKind",
    "compare_with_witness",
    "decide",
    "seconds",
]


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


LIVE_DECISIONS = frozenset({Decision.ACCEPTED, Decision.DUPLICATE})
"""The decisions that prove the publisher alive: a checkpoint validly signed and consistent with the store (a
heartbeat is a DUPLICATE). Not a bad signature, a malformed or a stale message: anyone on the bus can send those; not
a conflict either, which is logged as tampering of its own."""


def seconds(span: dt.timedelta) -> str:
    """A span in whole seconds, for the log ("190 s")."""
    return f"{max(span.total_seconds(), 0.0):.0f} s"


@dataclass(frozen=True)
class SilenceWarning:
    silence: dt.timedelta
    last_seq: int | None
    """of the last validly signed checkpoint received since start; None: none"""
    last_signed_at: dt.datetime | None

    @property
    def message(self) -> str:
        last = (
            f"last: sequence {self.last_seq} signed at {self.last_signed_at.isoformat()}"
            if self.last_seq is not None and self.last_signed_at is not None
            else "none since start"
        )
        return f"no signed checkpoint for {seconds(self.silence)} ({last})"


@dataclass(frozen=True)
class Liveness:
    """Whether the publisher of checkpoints is heard from: the audit service re-publishes its last checkpoint every
    interval even when the chain is quiet (a heartbeat), so a long silence means the checkpointer, NATS or the
    witness's connection is down, or someone cut the witness off. Immutable: each step returns the next state.

    A warning is due at each whole multiple of `warn_after` the silence reaches (once per multiple: a late wake-up
    gives one warning, not a burst); the first validly signed checkpoint after a warning is a resumption."""

    since: dt.datetime
    """when the current silence began: the start, or the last validly signed checkpoint received"""
    last_seq: int | None = None
    last_signed_at: dt.datetime | None = None
    warnings: int = 0
    """given during the current silence"""
    longest: dt.timedelta = dt.timedelta(0)
    """the longest silence that ended (see `longest_at` for one still going on)"""

    def silence(self, now: dt.datetime) -> dt.timedelta:
        return max(now - self.since, dt.timedelta(0))

    def longest_at(self, now: dt.datetime) -> dt.timedelta:
        """The longest silence seen, the current one included."""
        return max(self.longest, self.silence(now))

    def check(self, now: dt.datetime, warn_after: dt.timedelta) -> tuple[Liveness, SilenceWarning | None]:
        """Whether a warning is due at `now`, and the state after giving it."""
        if warn_after <= dt.timedelta(0):
            raise ValueError("warn_after must be positive")
        silence = self.silence(now)
        due = int(silence / warn_after)
        if due <= self.warnings:
            return self, None
        return replace(self, warnings=due), SilenceWarning(silence, self.last_seq, self.last_signed_at)

    def received(
        self, decision: Decision, cp: Checkpoint | None, now: dt.datetime
    ) -> tuple[Liveness, dt.timedelta | None]:
        """The state after a message decided `decision` (`cp`, None if malformed) arrived at `now`, and the silence
        it ends if a warning was given during it (then "resumed"); only `LIVE_DECISIONS` end a silence."""
        if decision not in LIVE_DECISIONS or cp is None:
            return self, None
        silence = self.silence(now)
        resumed = silence if self.warnings else None
        return Liveness(now, cp.seq, cp.signed_at, 0, max(self.longest, silence)), resumed
