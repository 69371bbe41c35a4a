"""The witness's rules, with no I/O: what to do with a published checkpoint (`decide`), the form of a stored entry
(`WitnessEntry`), and how an export compares with what the witness saw (`compare_with_witness`).

A witness keeps every validly signed checkpoint it sees; whoever later rewrites or cuts the whole chain consistently,
even re-signing with a stolen key, cannot change what the witness already saw.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.domain.checkpoint import Checkpoint, message

__all__ = [
    "Decision",
    "WitnessEntry",
    "WitnessProblem",
    "WitnessProblemKind",
    "compare_with_witness",
    "decide",
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
