"""`demimas registry ...`: import a CSV/XLSX file, write the template, load the village reference, generate a
synthetic file to try the importer with."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["register"]


def _principal(args: argparse.Namespace) -> Any:
    """The importing agency's default grants (as its token would carry them), acting as `cli:<os user>`."""
    from demimas_common.auth.grants import DEFAULT_GRANTS
    from demimas_common.auth.keys import check_region
    from demimas_common.auth.principal import Agency, Principal

    try:
        agency = Agency(args.agency.upper())
    except ValueError:
        raise ValueError(f"unknown agency {args.agency!r}; one of {', '.join(a.value for a in Agency)}") from None
    region = check_region(args.region) if args.region else None
    return Principal(sub=f"cli:{getpass.getuser()}", agency=agency, scopes=DEFAULT_GRANTS[agency], region=region)


def _database_url() -> str | None:
    from demimas_common.db.urls import command_database_url

    return command_database_url("registry")


async def _import(args: argparse.Namespace, url: str, principal: Any) -> int:
    from tqdm import tqdm

    from demimas_common.db.engine import create_engine
    from demimas_common.errors import DemimasError
    from demimas_registry.importer.load import ImportInterrupted, import_workers
    from demimas_registry.importer.parse import FileRejected, read_rows
    from demimas_registry.settings import RegistrySettings

    limits = RegistrySettings().read_limits  # the same DEMIMAS_IMPORT_MAX_* limits as the upload
    engine = create_engine(url, pool_size=2)
    try:
        with tqdm(desc=args.file.name, unit=" rows", file=sys.stderr, disable=args.quiet) as bar:
            report = await import_workers(
                engine,
                read_rows(args.file, limits),
                principal=principal,
                batch_size=args.batch_size,
                progress=bar.update,
            )
    except FileRejected as exc:
        print(f"{args.file}: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except ImportInterrupted as exc:
        print(f"{args.file}: import stopped: {exc}", file=sys.stderr)
        _write_report(args, exc.report)
        return 2
    except DemimasError as exc:  # e.g. an agency without registry:write
        print(f"{args.file}: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(report.to_text())
    _write_report(args, report)
    return 1 if report.rejected_rows else 0


def _write_report(args: argparse.Namespace, report: Any) -> None:
    if args.report is not None:
        args.report.write_text(report.to_csv(), encoding="utf-8")
        print(f"rejected rows written to {args.report}", file=sys.stderr)


def _import_command(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"{args.file}: no such file", file=sys.stderr)
        return 2
    try:
        principal = _principal(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    url = _database_url()
    return 2 if url is None else asyncio.run(_import(args, url, principal))


def _template(args: argparse.Namespace) -> int:
    from demimas_registry.importer.template import COLUMNS, EXAMPLE

    names = [c.name for c in COLUMNS]
    if args.xlsx or args.out.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(names)
        sheet.append([EXAMPLE[n] for n in names])
        notes = book.create_sheet("columns")
        notes.append(["column", "required", "description"])
        for c in COLUMNS:
            notes.append([c.name, "yes" if c.required else "no", c.description])
        book.save(args.out)
    else:
        import csv

        with args.out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerow([EXAMPLE[n] for n in names])
    print(f"wrote {args.out}")
    return 0


def _load_villages(args: argparse.Namespace) -> int:
    url = _database_url()
    if url is None:
        return 2

    from demimas_common.db.engine import run_with_engine
    from demimas_registry.adapters.villages import load_villages

    async def run(engine: AsyncEngine) -> int:
        async with engine.begin() as conn:
            return await load_villages(conn)

    print(f"{run_with_engine(url, run)} villages in the reference")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from demimas_registry.synthetic import SyntheticWorkers, write_csv

    count = write_csv(args.out, SyntheticWorkers(seed=args.seed).rows(args.rows))
    print(f"wrote {count} synthetic workers to {args.out}")
    return 0


def register(subparsers: Any) -> None:
    registry = subparsers.add_parser("registry", help="the registry of migrant workers")
    commands = registry.add_subparsers(dest="registry_command", required=True)
    imp = commands.add_parser("import", help="import workers from a CSV or XLSX file (see `template`)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--agency", default="KP2MI", help="the importing agency (default KP2MI)")
    imp.add_argument("--region", help="restrict to a region, as a regional office's token would")
    imp.add_argument("--report", type=Path, help="write the rejected rows' errors (line, column, code, message) as CSV")
    imp.add_argument("--batch-size", type=int, default=10_000)
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=_import_command)
    tpl = commands.add_parser("template", help="write the import template (.csv or .xlsx) with an example row")
    tpl.add_argument("out", type=Path)
    tpl.add_argument("--xlsx", action="store_true", help="write XLSX (also chosen by an .xlsx file name)")
    tpl.set_defaults(func=_template)
    vil = commands.add_parser("load-villages", help="load or refresh the Kemendagri village reference")
    vil.set_defaults(func=_load_villages)
    gen = commands.add_parser("generate", help="write a synthetic CSV to try the importer")
    gen.add_argument("--rows", type=int, default=1000)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--seed", type=int, default=2026)
    gen.set_defaults(func=_generate)
