"""`demimas audit ...`: export the chain with its signed checkpoints, verify an export offline, print the public
key that signs checkpoints, produce a person's data-subject report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _database_url() -> str | None:
    from sqlalchemy.engine import make_url

    from demimas_audit.settings import AuditSettings
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user

    url = AuditSettings().database_url
    if url is None:
        print("set DEMIMAS_DATABASE_URL (make run writes it to .devstack/stack.env)", file=sys.stderr)
        return None
    return url if make_url(url).password else with_user(url, runtime_role("audit"))


def _export(args: argparse.Namespace) -> int:
    from demimas_audit.service_layer.checkpoints import load_signing_key
    from demimas_audit.service_layer.export import export_chain
    from demimas_audit.settings import AuditSettings
    from demimas_common.db.engine import create_engine

    url = _database_url()
    if url is None:
        return 2
    settings = AuditSettings()
    public = load_signing_key(settings.audit_signing_key, create=False).public_key()

    async def run(out: Any) -> int:
        engine = create_engine(url, pool_size=1)
        try:
            return await export_chain(engine, out, public)
        finally:
            await engine.dispose()

    with Path(args.out).open("wb") as handle:
        count = asyncio.run(run(handle))
    print(f"{count} records exported to {args.out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from demimas_audit.service_layer.export import verify_export

    key = None
    if args.public_key:
        loaded = serialization.load_pem_public_key(Path(args.public_key).read_bytes())
        if not isinstance(loaded, Ed25519PublicKey):
            print("the public key is not Ed25519", file=sys.stderr)
            return 2
        key = loaded
    result = verify_export(Path(args.file), key)
    print(f"{result.records} records, {result.checkpoints} checkpoints")
    if result.used_file_key:
        print("warning: checkpoints checked with the key inside the export; pass --public-key for independent proof")
    for p in result.problems:
        print(f"record {p.seq}: {p.kind.value}: {p.detail}")
    for seq in result.signature_failures:
        print(f"checkpoint at {seq}: signature does not verify")
    print("chain intact" if result.ok else "CHAIN BROKEN")
    return 0 if result.ok else 1


def _public_key(args: argparse.Namespace) -> int:
    from demimas_audit.service_layer.checkpoints import load_signing_key, public_pem
    from demimas_audit.settings import AuditSettings

    key = load_signing_key(AuditSettings().audit_signing_key, create=False)
    sys.stdout.write(public_pem(key.public_key()).decode())
    return 0


def _report(args: argparse.Namespace) -> int:
    """The same document as `personalDataReport`, for a data-protection officer: through the gateway, with a token
    given (`--token`, or DEMIMAS_TOKEN) or, on the devstack, a KP2MI dev token minted for the request."""
    import os

    import orjson

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
        document = asyncio.run(
            personal_data_report(principal, f"Bearer {token}", args.gateway or settings.gateway_url, args.worker_id)
        )
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
    verify.set_defaults(func=_verify)
    key = commands.add_parser("public-key", help="print the PEM public key that signs checkpoints")
    key.set_defaults(func=_public_key)
    report = commands.add_parser("report", help="a person's data and access trail (UU 27/2022 Pasal 32) as JSON")
    report.add_argument("worker_id")
    report.add_argument("--token", help="a token with subject:report (default: DEMIMAS_TOKEN, or a dev token)")
    report.add_argument("--gateway", help="the gateway's GraphQL URL (default: DEMIMAS_GATEWAY_URL)")
    report.add_argument("--out", type=Path)
    report.set_defaults(func=_report)
