"""Export the chain with its checkpoints to a JSON Lines file, and verify such a file offline: every link (with each
hashed column a record line carries: the event, `streamSeq` and, from format 2 on, `recordedAt` and the `digests`),
and every checkpoint's signature against a public key obtained independently (the file's own key is only a
fallback: whoever rewrote the chain could have replaced it too). An export carries no derived column: a reader takes
type, subject, actor and time from the hashed event itself."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.tables import checkpoints, head, records
from demimas_audit.domain.chain import GENESIS, ChainProblem, ChainVerifier, Record
from demimas_audit.service_layer.checkpoints import key_id, message, public_pem

__all__ = ["OfflineResult", "export_chain", "record_hashes", "verify_export"]


async def export_chain(engine: AsyncEngine, out: IO[bytes], public_key: Ed25519PublicKey) -> int:
    """Write header, records (in sequence order) and checkpoints; returns how many records."""
    written = 0
    async with engine.connect() as conn:
        current = (await conn.execute(select(head).where(head.c.id == 1))).one()
        out.write(
            orjson.dumps(
                {
                    "kind": "header",
                    "headSeq": current.seq,
                    "headHash": bytes(current.hash).hex(),
                    "keyId": key_id(public_key),
                    "publicKey": public_pem(public_key).decode(),
                    "exportedAt": dt.datetime.now(dt.UTC).isoformat(),
                }
            )
            + b"\n"
        )
        r = records.c
        stream = await conn.stream(
            select(r.seq, r.stream_seq, r.event, r.prev_hash, r.hash, r.recorded_at, r.digests)
            .order_by(r.seq)
            .execution_options(yield_per=2000)
        )
        async for seq, stream_seq, event, prev, digest, recorded_at, record_digests in stream:
            line = {
                "kind": "record",
                "seq": seq,
                "streamSeq": stream_seq,
                "event": event,
                "prevHash": bytes(prev).hex(),
                "hash": bytes(digest).hex(),
                "recordedAt": recorded_at.isoformat(),
            }
            if record_digests is not None:
                line["digests"] = bytes(record_digests).hex()
            out.write(orjson.dumps(line) + b"\n")
            written += 1
        for cp in await conn.execute(select(checkpoints).order_by(checkpoints.c.seq)):
            out.write(
                orjson.dumps(
                    {
                        "kind": "checkpoint",
                        "seq": cp.seq,
                        "hash": bytes(cp.hash).hex(),
                        "signedAt": cp.signed_at.isoformat(),
                        "keyId": cp.key_id,
                        "signature": base64.b64encode(bytes(cp.signature)).decode(),
                    }
                )
                + b"\n"
            )
    return written


@dataclass
class OfflineResult:
    records: int = 0
    checkpoints: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    signature_failures: list[int] = field(default_factory=list)
    used_file_key: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.signature_failures


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                item = orjson.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("an export line is not a JSON object")
                yield item


def record_hashes(path: Path) -> Iterator[tuple[int, bytes]]:
    """(sequence, hash) of each record of an export, as the export states them (`verify_export` checks them)."""
    for item in _lines(path):
        if item.get("kind") == "record":
            yield int(item["seq"]), bytes.fromhex(str(item["hash"]))


def _record(item: dict[str, Any]) -> Record:
    """A record line as the verifier takes it. `digests` (format 2) and `recordedAt` are absent from exports written
    before format 2; a format-2 line without them fails its hash, as it should."""
    recorded_at = item.get("recordedAt")
    record_digests = item.get("digests")
    return Record(
        int(item["seq"]),
        item["event"],
        bytes.fromhex(str(item["prevHash"])),
        bytes.fromhex(str(item["hash"])),
        stream_seq=int(item["streamSeq"]) if item.get("streamSeq") is not None else None,
        recorded_at=dt.datetime.fromisoformat(str(recorded_at)) if recorded_at is not None else None,
        digests=bytes.fromhex(str(record_digests)) if record_digests is not None else None,
    )


def verify_export(path: Path, public_key: Ed25519PublicKey | None) -> OfflineResult:
    result = OfflineResult()
    header = next(_lines(path))
    if header.get("kind") != "header":
        raise ValueError(f"{path} does not start with an export header")
    if public_key is None:
        loaded = serialization.load_pem_public_key(str(header["publicKey"]).encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("the export's key is not Ed25519")
        public_key, result.used_file_key = loaded, True
    anchors: dict[int, bytes] = {}
    for item in _lines(path):  # checkpoints first: they anchor the records
        if item.get("kind") == "checkpoint":
            result.checkpoints += 1
            seq, digest = int(item["seq"]), bytes.fromhex(str(item["hash"]))
            signed_at = dt.datetime.fromisoformat(str(item["signedAt"]))
            try:
                public_key.verify(base64.b64decode(str(item["signature"])), message(seq, digest, signed_at))
                anchors[seq] = digest
            except InvalidSignature:
                result.signature_failures.append(seq)
    head_seq, head_hash = int(header["headSeq"]), bytes.fromhex(str(header["headHash"]))
    verifier = ChainVerifier(
        first_seq=1, last_seq=head_seq, prev_hash=GENESIS, head_seq=head_seq, head_hash=head_hash, anchors=anchors
    )
    for item in _lines(path):
        if item.get("kind") == "record":
            result.records += 1
            verifier.add(_record(item))
    _, result.problems = verifier.finish()
    return result
