"""An independent witness of signed checkpoints, run by an auditor on a machine of their own.

It checks each checkpoint published on `audit.checkpoints` against a public key the auditor got independently, and
appends every accepted one to a store it alone controls (`adapters/witness_store.py`). An export can later be
compared with that store (`compare_export`): whoever rewrites or cuts the whole table consistently, even re-signing
with a stolen key, cannot change what the witness already saw.

It also watches the publisher's liveness: the audit service re-publishes its last checkpoint each interval while the
chain is quiet, so a silence longer than `warn_after` (`check_silence`, called periodically by the listener) means
the checkpointer, NATS or the witness's own connection is down, and is logged as a warning until a validly signed
checkpoint arrives again.

The rules are in `domain/witness.py`; listening on NATS (and stopping on a signal) is `entrypoints/witness.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.adapters.bus import CHECKPOINT_SUBJECT
from demimas_audit.adapters.witness_store import WitnessStore, read_conflicts, read_store
from demimas_audit.domain.checkpoint import Checkpoint, key_id, parse_checkpoint
from demimas_audit.domain.witness import (
    Decision,
    Liveness,
    WitnessEntry,
    WitnessProblem,
    compare_with_witness,
    decide,
    seconds,
)
from demimas_audit.service_layer.export import record_hashes

__all__ = ["Witness", "WitnessComparison", "compare_export"]

log = logging.getLogger("demimas.audit.witness")


class Witness:
    """Decides on each published checkpoint and keeps the store: the accepted ones appended, a conflicting one kept
    apart, the rest counted and logged."""

    def __init__(
        self, store: Path, public_key: Ed25519PublicKey, *, now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.store, self.public_key = store, public_key
        self.key_id = key_id(public_key)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.counts: Counter[Decision] = Counter()
        self.last: WitnessEntry | None = None
        self.liveness = Liveness(self.now())
        """restarted by `open()`: the silence counts from when the witness starts listening"""
        self._file = WitnessStore(store)

    @property
    def is_open(self) -> bool:
        return self._file.is_open

    def open(self) -> None:
        """Open (or create) the store, take its lock and resume from its last line."""
        self.last = self._file.open()
        self.liveness = Liveness(self.now())
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
        self._file.close()

    def check_silence(self, warn_after: dt.timedelta) -> None:
        """Warn if no validly signed checkpoint arrived for `warn_after` (again at each further `warn_after`)."""
        self.liveness, warning = self.liveness.check(self.now(), warn_after)
        if warning is not None:
            log.warning(
                "%s: the audit service re-publishes its last checkpoint every interval even when the chain is quiet, "
                "so its checkpointer, NATS or this witness's connection is down, or this witness was cut off; "
                "checkpoints published meanwhile are not replayed (the next one covers the chain before it)",
                warning.message,
            )

    def longest_silence(self) -> dt.timedelta:
        """The longest time without a validly signed checkpoint since the start, the current silence included."""
        return self.liveness.longest_at(self.now())

    def handle(self, data: bytes) -> Decision:
        """Decide on one published checkpoint and record it if accepted (or if it conflicts)."""
        assert self.is_open, "open() the witness first"
        received_at = self.now()
        try:
            cp = parse_checkpoint(data)
        except ValueError as exc:
            log.warning("ignored a message on %s that is not a checkpoint: %s", CHECKPOINT_SUBJECT, exc)
            self.counts[Decision.MALFORMED] += 1
            return Decision.MALFORMED

        def witnessed(seq: int) -> bytes | None:
            entry = self._file.find(seq)
            return entry.hash if entry else None

        last_seq = self.last.seq if self.last is not None else None
        decision = decide(cp, self.public_key, self.last, witnessed)
        self.counts[decision] += 1
        self.liveness, resumed = self.liveness.received(decision, cp, received_at)
        if resumed is not None:
            log.info("checkpoints resumed after %s (sequence %d)", seconds(resumed), cp.seq)
        if decision is Decision.ACCEPTED:
            entry = WitnessEntry.of(cp, received_at)
            self._file.append(entry)
            self.last = entry
            log.info("witnessed checkpoint at sequence %d, hash %s", cp.seq, cp.hash.hex())
        elif decision is Decision.DUPLICATE and cp.seq == last_seq:  # the heartbeat of a quiet chain: every interval
            log.debug("checkpoint at sequence %d re-published (the chain did not move)", cp.seq)
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
        seen = self.last if self.last is not None and self.last.seq == cp.seq else self._file.find(cp.seq)
        assert seen is not None
        self._file.record_conflict(
            {
                **WitnessEntry.of(cp, received_at).to_json(),
                "witnessedHash": seen.hash.hex(),
                "witnessedSignedAt": seen.signed_at.isoformat(),
            }
        )
        log.critical(
            "TAMPERING: a validly signed checkpoint gives sequence %d the hash %s, but the witness saw %s there "
            "(signed at %s). The audit chain was rewritten after that checkpoint, or the signing key is in other "
            "hands. Kept in %s; keep this store and report it.",
            cp.seq,
            cp.hash.hex(),
            seen.hash.hex(),
            seen.signed_at.isoformat(),
            self._file.conflicts_path,
        )


@dataclass(frozen=True)
class WitnessComparison:
    """An export held against a witness's store: what the store holds, what in it is suspect, and where the export
    departs from it."""

    entries: list[WitnessEntry]
    unreadable: list[int]
    """numbers of the store's lines that are not entries"""
    forged: list[int] | None
    """sequences of the entries whose signature does not verify (None: no public key, not checked)"""
    conflicts: list[dict[str, Any]]
    """what the witness kept apart: validly signed checkpoints contradicting it"""
    problems: list[WitnessProblem]

    @property
    def ok(self) -> bool:
        return not self.unreadable and not self.forged and not self.conflicts and not self.problems


def compare_export(export: Path, store: Path, public_key: Ed25519PublicKey | None) -> WitnessComparison:
    entries, unreadable = read_store(store)
    forged = None if public_key is None else [e.seq for e in entries if not e.signature_valid(public_key)]
    problems = compare_with_witness(entries, record_hashes(export))
    return WitnessComparison(entries, unreadable, forged, read_conflicts(store), problems)
