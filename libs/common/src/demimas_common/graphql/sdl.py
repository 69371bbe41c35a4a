"""Each subgraph's SDL printed from Python, exactly as its `_service { sdl }` answers (no server needed), and the
`demimas sdl` command that writes them for composition (`make supergraph`)."""

from __future__ import annotations

import argparse
import json
from importlib import import_module
from pathlib import Path
from typing import Any

from demimas_common.service import ServiceSpec, discover_services

__all__ = ["print_sdl", "register", "write_subgraphs"]

DEFAULT_OUT = Path("deploy/subgraphs")


def print_sdl(spec: ServiceSpec) -> str:
    """The federation SDL of a service's schema (strawberry prints `_service.sdl` with the same printer)."""
    if spec.graphql_schema is None:
        raise ValueError(f"service {spec.name!r} declares no graphql_schema")
    module, _, attribute = spec.graphql_schema.partition(":")
    schema = getattr(import_module(module), attribute)
    return str(schema.as_str()).rstrip("\n") + "\n"


def subgraph_url(spec: ServiceSpec) -> str:
    """Where the subgraph listens under `make run`; the gateway's settings override it elsewhere."""
    return f"http://127.0.0.1:{spec.port}/graphql"


def write_subgraphs(out: Path = DEFAULT_OUT, names: list[str] | None = None) -> list[Path]:
    """`<name>.graphql` per subgraph and `subgraphs.json` ({name: url}) for the composer."""
    specs = [s for s in discover_services() if s.graphql_schema and (not names or s.name in names)]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        path = out / f"{spec.name}.graphql"
        path.write_text(print_sdl(spec))
        written.append(path)
    urls = {spec.name: subgraph_url(spec) for spec in specs}
    (out / "subgraphs.json").write_text(json.dumps(urls, indent=2, sort_keys=True) + "\n")
    return written


def _run(args: argparse.Namespace) -> int:
    for path in write_subgraphs(Path(args.out), args.services or None):
        print(path)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sdl", help="print each subgraph's SDL into deploy/subgraphs/ for composition")
    parser.add_argument("services", nargs="*", help="only these services (default: all)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.set_defaults(func=_run)
