"""`demimas feeds export`: the change feed as JSON Lines on stdout, for bulk syncs.

    demimas feeds export --since 2026-11-20T00:00:00Z --types 'demimas.registry.worker.*' > changes.jsonl

Agencies have no access to NATS or the databases: the export pages through the gateway's `changes` query with the
agency's own token (`--token`, or the DEMIMAS_TOKEN environment variable), so it sees exactly what the change feed
shows that token. Each line is one structured CloudEvent with its `sequence`; when the feed is exhausted the last
cursor is printed on stderr (`--after` resumes from it)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

import httpx
import orjson

__all__ = ["CHANGES_QUERY", "ExportError", "export_changes", "register"]

DEFAULT_GATEWAY = "http://127.0.0.1:4000/graphql"
CHANGES_QUERY = """query FeedsExport($after: String, $types: [String!], $regionPrefix: String, $since: DateTime,
  $first: Int) {
  changes(after: $after, types: $types, regionPrefix: $regionPrefix, since: $since, first: $first) {
    edges { cursor node { id type source subject time sequence villageCode data } }
    pageInfo { hasNextPage endCursor }
  }
}"""
RETRIES = 5


class ExportError(Exception):
    """The gateway refused (an error code and message), or could not be reached after retries."""


def _since(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time such as 2026-11-20T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _cloudevent(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": node["id"],
        "source": node["source"],
        "type": node["type"],
        "subject": node["subject"],
        "time": node["time"],
        "datacontenttype": "application/json",
        "sequence": node["sequence"],
        "data": node["data"],
    }


async def _page(client: httpx.AsyncClient, url: str, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    delay = 0.5
    for attempt in range(RETRIES):
        try:
            response = await client.post(
                url,
                json={"query": CHANGES_QUERY, "variables": variables, "operationName": "FeedsExport"},
                headers={"authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            if attempt == RETRIES - 1:
                raise ExportError(f"the gateway at {url} is not reachable: {type(exc).__name__}") from exc
        else:
            if response.status_code in (502, 503, 504) and attempt < RETRIES - 1:
                pass  # a rollout or an overloaded replica: try again shortly
            else:
                try:
                    body = response.json()
                except ValueError:
                    raise ExportError(f"the gateway answered HTTP {response.status_code} without JSON") from None
                errors = body.get("errors") if isinstance(body, dict) else None
                if errors:
                    first = errors[0]
                    code = (first.get("extensions") or {}).get("code", "ERROR")
                    raise ExportError(f"{code}: {first.get('message', '')}")
                if response.status_code != 200 or not isinstance(body.get("data"), dict):
                    raise ExportError(f"the gateway answered HTTP {response.status_code}")
                changes: dict[str, Any] = body["data"]["changes"]
                return changes
        await asyncio.sleep(delay)
        delay *= 2
    raise ExportError("the gateway did not answer")


async def export_changes(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    out: TextIO,
    *,
    since: dt.datetime | None = None,
    after: str | None = None,
    types: list[str] | None = None,
    region_prefix: str | None = None,
    first: int = 1000,
    on_page: Callable[[int, str | None], None] | None = None,
) -> tuple[int, str | None]:
    """Write every change from `since` (or after the cursor `after`) to `out`, one JSON object a line; the number
    written and the last cursor (to resume from)."""
    variables: dict[str, Any] = {"types": types, "regionPrefix": region_prefix, "first": first}
    if after is not None:
        variables["after"] = after
    elif since is not None:
        variables["since"] = since.isoformat()
    written, cursor = 0, after
    while True:
        page = await _page(client, url, token, variables)
        for edge in page["edges"]:
            out.write(orjson.dumps(_cloudevent(edge["node"])).decode() + "\n")
            written += 1
        end = page["pageInfo"]["endCursor"]
        cursor = end if end is not None else cursor
        if on_page is not None:
            on_page(written, cursor)
        if not page["pageInfo"]["hasNextPage"] or end is None:
            return written, cursor
        variables.pop("since", None)
        variables["after"] = end


def _types(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [t.strip() for value in values for t in value.split(",") if t.strip()]


async def _export(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("DEMIMAS_TOKEN")
    if not token:
        print("demimas feeds export: pass --token or set DEMIMAS_TOKEN (the agency's access token)", file=sys.stderr)
        return 2
    timeout = httpx.Timeout(60.0, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            written, cursor = await export_changes(
                client,
                args.gateway,
                token,
                sys.stdout,
                since=args.since,
                after=args.after,
                types=_types(args.types),
                region_prefix=args.region_prefix,
                first=args.page_size,
            )
        except ExportError as exc:
            print(f"demimas feeds export: {exc}", file=sys.stderr)
            return 2
    sys.stdout.flush()
    print(f"{written} changes; resume with --after {cursor}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("feeds", help="the change feed and webhooks")
    commands = parser.add_subparsers(dest="feeds_command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="write the change feed to stdout as JSON Lines, through the gateway with an agency's token",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start = export.add_mutually_exclusive_group()
    start.add_argument("--since", type=_since, help="changes from this time (ISO 8601), e.g. 2026-11-20T00:00:00Z")
    start.add_argument("--after", help="changes after this cursor (the last one a previous export printed)")
    export.add_argument("--types", nargs="+", help="event types, prefixes ending in '.*', or '*' (comma or space)")
    export.add_argument("--region-prefix", help="only events of villages within this region, e.g. 33.07")
    export.add_argument(
        "--gateway",
        default=os.environ.get("DEMIMAS_GATEWAY_URL", DEFAULT_GATEWAY),
        help=f"the gateway's GraphQL URL (default {DEFAULT_GATEWAY}, or DEMIMAS_GATEWAY_URL)",
    )
    export.add_argument("--token", help="the agency's access token (default: the DEMIMAS_TOKEN environment variable)")
    export.add_argument("--page-size", type=int, default=1000, help="changes per request (1 to 1000)")
    export.set_defaults(func=lambda args: asyncio.run(_export(args)))
