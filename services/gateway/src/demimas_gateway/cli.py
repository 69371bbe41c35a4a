"""`demimas-gateway serve` and `demimas-gateway plan`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from demimas_gateway.supergraph import SupergraphError, load_supergraph

__all__ = ["main"]


def _read_query(value: str) -> str:
    if value.startswith("@"):
        return Path(value[1:]).read_text()
    return value


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    supergraph = Path(args.supergraph).resolve()
    try:
        load_supergraph(supergraph.read_text())  # fail here, once, with the element at fault
    except (OSError, SupergraphError) as exc:
        print(f"demimas-gateway: cannot serve {supergraph}: {exc}", file=sys.stderr)
        return 2
    os.environ["DEMIMAS_GATEWAY_SUPERGRAPH"] = str(supergraph)
    os.environ["DEMIMAS_GATEWAY_WORKERS"] = str(max(1, args.workers))  # each process takes its share of the rate limits
    uvicorn.run(
        "demimas_gateway.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    return 0


def plan(args: argparse.Namespace) -> int:
    from demimas_gateway.fetcher import SubgraphClient
    from demimas_gateway.gateway import Caller, Gateway, RequestError

    try:
        supergraph = load_supergraph(Path(args.supergraph).read_text())
    except (OSError, SupergraphError) as exc:
        print(f"demimas-gateway: {exc}", file=sys.stderr)
        return 2
    gateway = Gateway(supergraph, SubgraphClient({}))
    variables = json.loads(args.variables) if args.variables else None
    scopes = frozenset(args.scopes.split()) if args.scopes is not None else None
    caller = Caller(authenticated=scopes is not None, scopes=scopes or frozenset())
    try:
        cached, *_ = gateway.plan_for(_read_query(args.query), args.operation_name, variables, caller)
    except RequestError as exc:
        print(f"demimas-gateway: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(cached.plan.describe())
    asyncio.run(gateway.client.close())
    return 0


def api_schema(args: argparse.Namespace) -> int:
    from demimas_gateway.schema_check import api_sdl

    print(api_sdl(Path(args.supergraph).read_text()), end="")
    return 0


def check_schema(args: argparse.Namespace) -> int:
    from demimas_gateway.schema_check import unaccepted_breaking_changes

    changes = unaccepted_breaking_changes(Path(args.supergraph), Path(args.baseline), Path(args.accepted))
    for change in changes:
        print(f"breaking change not accepted: {change}", file=sys.stderr)
    if changes:
        print(
            f"agree them with the integrators, list them in {args.accepted}, then `make supergraph`",
            file=sys.stderr,
        )
    return 1 if changes else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demimas-gateway", description="Federation gateway of the Demimas backend")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("serve", help="serve a supergraph over HTTP")
    s.add_argument("--supergraph", default=os.environ.get("DEMIMAS_GATEWAY_SUPERGRAPH", "deploy/supergraph.graphql"))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=4000)
    s.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    s.set_defaults(run=serve)
    p = commands.add_parser("plan", help="print the query plan of an operation")
    p.add_argument("--supergraph", required=True)
    p.add_argument("--query", required=True, help="the operation text, or @file")
    p.add_argument("--operation-name")
    p.add_argument("--variables", help="JSON object")
    p.add_argument("--scopes", help="plan as an authenticated caller with these space-separated scopes")
    p.set_defaults(run=plan)
    a = commands.add_parser("api-schema", help="print the API schema clients see")
    a.add_argument("--supergraph", default="deploy/supergraph.graphql")
    a.set_defaults(run=api_schema)
    c = commands.add_parser("check-schema", help="fail on breaking API changes not listed as accepted")
    c.add_argument("--supergraph", default="deploy/supergraph.graphql")
    c.add_argument("--baseline", default="deploy/api-schema.graphql")
    c.add_argument("--accepted", default="deploy/accepted-breaking-changes.txt")
    c.set_defaults(run=check_schema)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
