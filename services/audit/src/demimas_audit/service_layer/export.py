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
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.domain.chain import GENESIS, ChainProblem, ChainVerifier, Record
from demimas_audit.domain.checkpoint import key_id, message, public_pem
from demimas_audit.domain.commands import ExportChain
from demimas_audit.service_layer.ports import AuditUoW

__all__ = ["OfflineResult", "export_chain", "record_hashes", "verify_export"]


async def export_chain(cmd: ExportChain, uow: AuditUoW) -> int:
    """Write header, records (in sequence order) and checkpoints; returns how many records. It reads only (nothing
    to commit). No principal: an export is an operator's command, run with the database's own credentials."""
    out, public_key = cmd.out, cmd.public_key
    current = await uow.chain.head()
    out.write(
        orjson.dumps(
            {
                "kind": "header",
                "headSeq": current.seq,
                "headHash": current.hash.hex(),
                "keyId": key_id(public_key),
                "publicKey": public_pem(public_key).decode(),
                "exportedAt": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
        + b"\n"
    )
    written = 0
    async for record in uow.chain.records_in_order():
        out.write(orjson.dumps(_record_line(record)) + b"\n")
        written += 1
    for cp in await uow.checkpoints.all():
        out.write(orjson.dumps({"kind": "checkpoint", **cp.to_json()}) + b"\n")
    return written


def _record_line(record: Record) -> dict[str, Any]:
    assert record.recorded_at is not None  # NOT NULL in the store
    line = {
        "kind": "record",
        "seq": record.seq,
        "streamSeq": record.stream_seq,
        "event": record.event,
        "prevHash": record.prev_hash.hex(),
        "hash": record.hash.hex(),
        "recordedAt": record.recorded_at.isoformat(),
    }
    if record.digests is not None:
        line["digests"] = record.digests.hex()
    return line


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
