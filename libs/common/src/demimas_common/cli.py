"""The `demimas` command. Subcommands come from the entry-point group `demimas.commands`: each entry point is a
`register(subparsers)` that adds its parser and sets `func(args) -> int | None`."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["load_stack_env", "main"]


def load_stack_env() -> None:
    """Read `.devstack/stack.env` (or $DEMIMAS_STACK_ENV) without overriding variables already set."""
    path = Path(os.environ.get("DEMIMAS_STACK_ENV", ".devstack/stack.env"))
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not line.lstrip().startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


def main(argv: list[str] | None = None) -> int:
    load_stack_env()
    parser = argparse.ArgumentParser(prog="demimas", description="Demimas coordination backend")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for ep in sorted(entry_points(group="demimas.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # one broken plugin must not take `demimas token` down with it
            print(f"demimas: the {ep.name!r} commands are unavailable: {exc}", file=sys.stderr)
            continue
        register(subparsers)
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
