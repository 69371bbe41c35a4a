"""`demimas designation ...`: rebuild the village-stats projection from the stream; import the villages carried over
from the Desmigratif programme."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["register"]


def _database_url() -> str | None:
    from demimas_common.db.urls import command_database_url

    return command_database_url("designation")


def _rebuild(args: argparse.Namespace) -> int:
    from demimas_common.db.engine import run_with_engine
    from demimas_designation.service_layer.rebuild import rebuild_stats
    from demimas_designation.settings import DesignationSettings

    url, nats_url = _database_url(), DesignationSettings().nats_url
    if url is None or nats_url is None:
        print("set DEMIMAS_NATS_URL too", file=sys.stderr)
        return 2
    count = run_with_engine(url, lambda engine: rebuild_stats(engine, nats_url), pool_size=2)
    print(f"village-stats rebuilt from {count} registry events")
    return 0


def _import(args: argparse.Namespace) -> int:
    from demimas_common.auth.grants import DEFAULT_GRANTS
    from demimas_common.auth.principal import Agency, Principal
    from demimas_common.db.engine import run_with_engine
    from demimas_common.errors import DemimasError
    from demimas_designation.adapters.tables import SCHEMA
    from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
    from demimas_designation.domain.commands import ImportDesmigratif
    from demimas_designation.service_layer.desmigratif import import_desmigratif
    from demimas_designation.service_layer.proposals import WorkflowSettings

    url = _database_url()
    if url is None:
        return 2
    principal = Principal(f"cli:{getpass.getuser()}", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
    text = Path(args.file).read_text()

    async def run(engine: AsyncEngine) -> int:
        async with DesignationUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
            return await import_desmigratif(ImportDesmigratif(text), uow, principal, WorkflowSettings())

    try:
        count = run_with_engine(url, run)
    except DemimasError as exc:
        print(f"demimas designation: {exc.message}", file=sys.stderr)
        return 1
    print(f"{count} Desmigratif villages designated")
    return 0


def register(subparsers: Any) -> None:
    designation = subparsers.add_parser("designation", help="the designation workflow")
    commands = designation.add_subparsers(dest="designation_command", required=True)
    rebuild = commands.add_parser("rebuild-stats", help="rebuild the village-stats projection from the stream")
    rebuild.set_defaults(func=_rebuild)
    imp = commands.add_parser("import-desmigratif", help="designate villages carried over from Desmigratif (CSV)")
    imp.add_argument("file", type=Path, help="CSV with the header village_code,decree_number,decree_date")
    imp.set_defaults(func=_import)
