"""What the audit's use cases are asked to do (`service_layer/`), as frozen dataclasses.

Only the data-subject report is a caller's request; the rest are the service's own steps (reading the stream into
the chain, signing its head) or an operator's command run with the database's credentials (an export), which is
why their use cases take no principal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from demimas_audit.domain.ingest import Head, Incoming, Prepared

__all__ = ["AppendBatch", "ExportChain", "LinkBatch", "RequestPersonalDataReport", "SignCheckpoint"]


@dataclass(frozen=True)
class LinkBatch:
    """Link these events (in stream order) to the end of the chain, in memory."""

    events: Sequence[Incoming]
    after: Head | None = None
    """where the chain will end once the batch being written commits; None: where the store says it ends"""
    in_flight: Set[uuid.UUID] = frozenset()
    """the event ids of that batch being written (not yet in the store, chained all the same)"""


@dataclass(frozen=True)
class AppendBatch:
    """Write a linked batch to the chain, right after the head it was linked to."""

    batch: Prepared


@dataclass(frozen=True)
class SignCheckpoint:
    """Sign the chain's head with the service's key, unless it was signed there already."""

    key: Ed25519PrivateKey


@dataclass(frozen=True)
class ExportChain:
    """Write the chain and its checkpoints as JSON Lines to `out`, naming `public_key` as the key that signs."""

    out: IO[bytes]
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class RequestPersonalDataReport:
    """One person's data from every service, asked with the requester's own credentials (`authorization`)."""

    worker_id: str
    authorization: str
