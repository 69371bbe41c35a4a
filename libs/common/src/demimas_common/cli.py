"""The `demimas` command. Subcommands come from the entry-point group `demimas.commands`: each entry point is a
`register(subparsers)` that adds its parser and sets `func(args) -> int | None` (None means success).

Before parsing, `.devstack/stack.env` (or the file `$DEMIMAS_STACK_ENV` names) is loaded into the environment
without overriding what is already set, so every command finds the running devstack and an explicit
`DEMIMAS_DATABASE_URL=... demimas ...` still wins.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from demimas_common.errors import DemimasError

__all__ = ["load_stack_env", "main"]

DEFAULT_STACK_ENV = Path(".devstack/stack.env")


def load_stack_env(path: Path | None = None) -> dict[str, str]:
    """Load KEY=VALUE lines (comments, blank lines, `export ` and surrounding quotes allowed); return what was set."""
    path = path or Path(os.environ.get("DEMIMAS_STACK_ENV") or DEFAULT_STACK_ENV)
    if not path.is_file():
        return {}
    loaded: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if sep and key and key not in os.environ:
            os.environ[key] = loaded[key] = value
    return loaded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demimas", description="Demimas coordination backend")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for ep in sorted(entry_points(group="demimas.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # one broken plugin must not take `demimas token` down with it
            print(f"demimas: the {ep.name!r} commands are unavailable: {exc}", file=sys.stderr)
            continue
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    load_stack_env()
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except DemimasError as exc:  # an answer for the user (bad input, not found, ...), not a crash
        print(f"demimas {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
