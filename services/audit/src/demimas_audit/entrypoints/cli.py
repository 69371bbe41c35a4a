"""`demimas audit ...`: export the chain with its signed checkpoints, verify an export offline (against a witness's
store too), print the public key that signs checkpoints, witness the published checkpoints, produce a person's
data-subject report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["register"]


def _database_url() -> str | None:
    from demimas_common.db.urls import command_database_url

    return command_database_url("audit")


def _export(args: argparse.Namespace) -> int:
    from demimas_audit.adapters.keys import load_signing_key
    from demimas_audit.adapters.tables import SCHEMA
    from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
    from demimas_audit.domain.commands import ExportChain
    from demimas_audit.service_layer.export import export_chain
    from demimas_audit.settings import AuditSettings
    from demimas_common.db.engine import run_with_engine

    url = _database_url()
    if url is None:
        return 2
    settings = AuditSettings()
    public = load_signing_key(settings.audit_signing_key, create=False).public_key()

    async def run(engine: AsyncEngine, out: Any) -> int:
        async with AuditUnitOfWork(engine, schema=SCHEMA) as uow:
            return await export_chain(ExportChain(out, public), uow)

    with Path(args.out).open("wb") as handle:
        count = run_with_engine(url, lambda engine: run(engine, handle))
    print(f"{count} records exported to {args.out}")
    return 0


def _load_public_key(path: Path) -> Any:
    from demimas_audit.adapters.keys import load_public_key

    try:
        return load_public_key(path)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return None


_SHOWN = 20
"""problems of one kind printed in full; the rest are summarised (a rewrite mismatches every later checkpoint)"""


def _verify(args: argparse.Namespace) -> int:
    from demimas_audit.service_layer.export import verify_export

    key = None
    if args.public_key:
        key = _load_public_key(args.public_key)
        if key is None:
            return 2
    if args.witness is not None and not args.witness.is_file():
        print(f"the witness store {args.witness} does not exist", file=sys.stderr)
        return 2
    result = verify_export(Path(args.file), key)
    print(f"{result.records} records, {result.checkpoints} checkpoints")
    if result.used_file_key:
        print("warning: checkpoints checked with the key inside the export; pass --public-key for independent proof")
    for p in result.problems:
        where = f"record {p.seq}" + (f", column {p.column}" if p.column else "")
        print(f"{where}: {p.kind.value}: {p.detail}")
    for seq in result.signature_failures:
        print(f"checkpoint at {seq}: signature does not verify")
    witness_ok = True
    if args.witness is not None:
        witness_ok = _verify_witness(Path(args.file), args.witness, key)
    if not result.ok:
        print("CHAIN BROKEN")
    elif not witness_ok:
        print("EXPORT DOES NOT MATCH THE WITNESS: the chain was rewritten or cut after the witness saw it")
    else:
        print("chain intact" + (" and consistent with the witness" if args.witness is not None else ""))
    return 0 if result.ok and witness_ok else 1


def _verify_witness(export: Path, store: Path, key: Any) -> bool:
    from demimas_audit.service_layer.witness import compare_export

    found = compare_export(export, store, key)
    top = max((e.seq for e in found.entries), default=0)
    print(f"witness {store}: {len(found.entries)} checkpoints, up to sequence {top}")
    if not found.entries:
        print("witness: the store holds no checkpoint; nothing to compare (is the witness running?)")
    for number in found.unreadable:
        print(f"witness: line {number} of {store} is not a witness entry (damaged?); it was skipped")
    if found.forged is None:
        print("warning: the witness's signatures were not re-checked; pass --public-key")
    for seq in found.forged or ():
        print(f"witness: the entry at sequence {seq} is not signed by this public key (the store was altered?)")
    for conflict in found.conflicts:
        print(
            f"witness: CONFLICT at sequence {conflict.get('seq')}: a validly signed checkpoint gave the hash "
            f"{conflict.get('hash')}, the witness had seen {conflict.get('witnessedHash')} "
            f"(received {conflict.get('receivedAt')}; in {store}.conflicts): the chain was rewritten or the "
            "signing key is in other hands"
        )
    by_kind: dict[str, list[int]] = {}
    for p in found.problems:
        by_kind.setdefault(p.kind.value, []).append(p.seq)
        if len(by_kind[p.kind.value]) <= _SHOWN:
            print(f"witness: {p.kind.value} at sequence {p.seq}: {p.detail}")
    for kind, seqs in by_kind.items():
        if len(seqs) > _SHOWN:
            print(f"witness: ... and {len(seqs) - _SHOWN} more {kind} (sequences {seqs[_SHOWN]} to {seqs[-1]})")
    return found.ok


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _witness(args: argparse.Namespace) -> int:
    import os

    from demimas_audit.entrypoints.witness import serve

    key = _load_public_key(args.public_key)
    if key is None:
        return 2
    url = args.nats or os.environ.get("DEMIMAS_NATS_URL")
    if not url:
        print(
            "pass --nats URL (or set DEMIMAS_NATS_URL): the NATS server(s) the audit service publishes to",
            file=sys.stderr,
        )
        return 2
    if args.warn_after is None:
        return serve(args.store, key, url)
    return serve(args.store, key, url, warn_after=args.warn_after)


def _public_key(args: argparse.Namespace) -> int:
    from demimas_audit.adapters.keys import load_signing_key
    from demimas_audit.domain.checkpoint import public_pem
    from demimas_audit.settings import AuditSettings

    key = load_signing_key(AuditSettings().audit_signing_key, create=False)
    sys.stdout.write(public_pem(key.public_key()).decode())
    return 0


def _report(args: argparse.Namespace) -> int:
    """The same document as `personalDataReport`, for a data-protection officer: through the gateway, with a token
    given (`--token`, or DEMIMAS_TOKEN) or, on the devstack, a KP2MI dev token minted for the request."""
    import os

    import orjson

    from demimas_audit.adapters.gateway import GatewayClient
    from demimas_audit.domain.commands import RequestPersonalDataReport
    from demimas_audit.service_layer.report import personal_data_report
    from demimas_audit.settings import AuditSettings
    from demimas_common.auth.jwt import TokenVerifier
    from demimas_common.auth.principal import Agency
    from demimas_common.errors import DemimasError

    settings = AuditSettings()
    token = args.token or os.environ.get("DEMIMAS_TOKEN")
    if not token:
        from demimas_common.auth.keys import ensure_dev_keys, mint_token

        keys_dir = os.environ.get("DEMIMAS_DEV_KEYS_DIR")
        if not keys_dir:
            print("pass --token (or DEMIMAS_TOKEN): a token with subject:report", file=sys.stderr)
            return 2
        token = mint_token(
            ensure_dev_keys(Path(keys_dir)),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            agency=Agency.KP2MI,
            purpose="DATA_SUBJECT_REQUEST",
        )
    try:
        principal = TokenVerifier(settings).verify(token)
        cmd = RequestPersonalDataReport(args.worker_id, f"Bearer {token}")
        gateway = GatewayClient(args.gateway or settings.gateway_url)
        document = asyncio.run(personal_data_report(cmd, gateway, principal))
    except DemimasError as exc:
        print(f"demimas audit report: {exc.message}", file=sys.stderr)
        return 1
    out = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if args.out:
        Path(args.out).write_bytes(out)
        print(f"report written to {args.out}")
    else:
        sys.stdout.write(out.decode())
    return 0


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="the audit chain: export, verify offline, public key")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    export = commands.add_parser("export", help="write the chain and its signed checkpoints as JSON Lines")
    export.add_argument("--out", required=True, type=Path)
    export.set_defaults(func=_export)
    verify = commands.add_parser("verify", help="check an export's links and checkpoint signatures, offline")
    verify.add_argument("file", type=Path)
    verify.add_argument("--public-key", type=Path, help="PEM of the audit service's key (from `public-key`)")
    verify.add_argument(
        "--witness", type=Path, help="a witness store (from `witness`): the export must hold every checkpoint it saw"
    )
    verify.set_defaults(func=_verify)
    witness = commands.add_parser(
        "witness", help="keep an independent copy of the signed checkpoints published on audit.checkpoints"
    )
    witness.add_argument("--store", required=True, type=Path, help="the JSON Lines file to append to (resumed)")
    witness.add_argument("--public-key", required=True, type=Path, help="PEM of the audit service's public key")
    witness.add_argument("--nats", help="NATS URL(s), comma-separated (default: DEMIMAS_NATS_URL)")
    witness.add_argument(
        "--warn-after",
        type=_positive_seconds,
        metavar="SECONDS",
        help="warn when no validly signed checkpoint arrived for this long, again each further period (default: 3 x "
        "the service's default checkpoint interval, 180; the service re-publishes its last checkpoint every "
        "DEMIMAS_AUDIT_CHECKPOINT_SECONDS: if that was changed, use about 3 x it)",
    )
    witness.set_defaults(func=_witness)
    key = commands.add_parser("public-key", help="print the PEM public key that signs checkpoints")
    key.set_defaults(func=_public_key)
    report = commands.add_parser("report", help="a person's data and access trail (UU 27/2022 Pasal 32) as JSON")
    report.add_argument("worker_id")
    report.add_argument("--token", help="a token with subject:report (default: DEMIMAS_TOKEN, or a dev token)")
    report.add_argument("--gateway", help="the gateway's GraphQL URL (default: DEMIMAS_GATEWAY_URL)")
    report.add_argument("--out", type=Path)
    report.set_defaults(func=_report)
