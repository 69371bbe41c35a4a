"""`demimas stack ...`: run the whole system on the devstack, or only migrate it."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _root() -> Path:
    return Path(os.environ.get("DEMIMAS_DEVSTACK_DIR", ".devstack"))


def _run(args: argparse.Namespace) -> int:
    from demimas_common.devstack.supervisor import run

    return run(_root())


def _migrate(args: argparse.Namespace) -> int:
    from demimas_common.devstack.supervisor import Stack
    from demimas_common.service import discover_services

    stack = Stack(root=_root())
    if not stack.settings.database_url or not stack.settings.nats_url:
        print("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (or use `demimas stack run`)")
        return 2
    asyncio.run(stack.prepare(discover_services(), demo=not args.no_demo))
    return 0


def register(subparsers: Any) -> None:
    stack = subparsers.add_parser("stack", help="the development stack (embedded PostgreSQL and NATS)")
    commands = stack.add_subparsers(dest="stack_command", required=True)
    run = commands.add_parser("run", help="start everything with demo data (what `make run` does)")
    run.set_defaults(func=_run)
    migrate = commands.add_parser(
        "migrate",
        help="provision roles, migrate every service, set up the stream, and "
        "load demo data once (not with --no-demo, as in production)",
    )
    migrate.add_argument("--no-demo", action="store_true", help="migrations and stream only (production)")
    migrate.set_defaults(func=_migrate)
