"""What protects each column of `audit.records`: an auditor's query may read or filter on a column only if the chain
covers it, so every column is declared here, and a test fails when the table holds a column this does not declare.

Why the filter columns are derived rather than hashed: they are copies of envelope attributes of the event (kept as
plain columns for the indexes that `auditEvents` filters with), so checking them against the hashed event covers them
without changing any hash: records written before this check existed are covered too, and their hashes, signed
checkpoints and exports still verify. The stream sequence and the recording time are not in the event (they are the
store's own facts), so from format 2 on they are hashed with it (see `chain`)."""

from __future__ import annotations

from enum import StrEnum

from demimas_audit.domain.envelope import DERIVED_COLUMNS

__all__ = ["COVERAGE", "Coverage"]


class Coverage(StrEnum):
    HASHED = "hashed"
    """Part of what the record's hash covers (format 2: each with its own digest)."""
    DERIVED = "derived"
    """Derived from the hashed event again at verification and compared."""
    CHAIN = "chain"
    """The chain's own structure: a changed value breaks a link (or the order) and is named."""
    NOT_SERVED = "not served"
    """Outside the chain: no auditor's query may read or filter on it (the reason says why it is kept)."""


_CHAIN = {
    "seq": "the record's place: a changed sequence leaves a hole (REMOVED) where it was",
    "prev_hash": "each record's hash follows from it; the previous record's hash says what it must be",
    "hash": "the next record links to it, the writer's head and signed checkpoints hold it",
    "digests": "the record's hash (format 2) follows from them; each is recomputed from its column",
}
_HASHED = {
    "event": "the event as received, in canonical JSON (both formats)",
    "stream_seq": "its position in the DEMIMAS stream (format 2; a format-1 record's is not covered)",
    "recorded_at": "when the store wrote it (format 2; a format-1 record's is not covered)",
}
_NOT_SERVED: dict[str, str] = {}

COVERAGE: dict[str, tuple[Coverage, str]] = {
    **{c: (Coverage.CHAIN, why) for c, why in _CHAIN.items()},
    **{c: (Coverage.HASHED, why) for c, why in _HASHED.items()},
    **dict.fromkeys(DERIVED_COLUMNS, (Coverage.DERIVED, "an attribute of the hashed event (envelope.derive)")),
    **{c: (Coverage.NOT_SERVED, why) for c, why in _NOT_SERVED.items()},
}
"""Every column of `audit.records`, with what covers it and how."""
