"""`demimas events replay --since T` and `demimas events retry-dead`, per service schema; `demimas events asyncapi`,
the event catalogue (deploy/asyncapi.yaml)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["register"]


def _since(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time such as 2026-11-20T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _services(name: str | None) -> list[str]:
    from demimas_common.service import discover_services

    names = [s.name for s in discover_services() if s.database]
    if name is not None and name not in names:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(names)}")
    return [name] if name else names


async def _per_service(
    service: str | None, action: Callable[[AsyncEngine, str, str], Awaitable[int]], done: str
) -> int:
    """Run `action(engine, schema, nats_url)` as each service's runtime role and print `done` with its count."""
    from demimas_common.db.engine import create_engine
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user
    from demimas_common.settings import CommonSettings

    settings = CommonSettings()
    if not settings.database_url or not settings.nats_url:
        print("set DEMIMAS_DATABASE_URL and DEMIMAS_NATS_URL (make run writes them to .devstack/stack.env)")
        return 2
    for name in _services(service):
        engine = create_engine(with_user(settings.database_url, runtime_role(name)), pool_size=1)
        try:
            count = await action(engine, name, settings.nats_url)
        finally:
            await engine.dispose()
        print(f"{name}: {count} {done}")
    return 0


async def _replay(args: argparse.Namespace) -> int:
    from demimas_common.events.relay import OutboxRelay

    async def replay(engine: AsyncEngine, schema: str, nats_url: str) -> int:
        return await OutboxRelay(engine, schema, nats_url).replay(args.since)

    return await _per_service(args.service, replay, "events queued for republishing (the running relay sends them)")


async def _retry(args: argparse.Namespace) -> int:
    from demimas_common.events.consumer import retry_dead

    async def retry(engine: AsyncEngine, schema: str, nats_url: str) -> int:
        return await retry_dead(engine, schema, nats_url, args.consumer)

    return await _per_service(args.service, retry, "dead-lettered events sent again")


def register(subparsers: Any) -> None:
    events = subparsers.add_parser(
        "events", help="republish outbox events, retry dead letters, print the event catalogue"
    )
    commands = events.add_subparsers(dest="events_command", required=True)
    replay = commands.add_parser("replay", help="publish again every event published since T")
    replay.add_argument("--since", type=_since, required=True, help="ISO 8601 time, e.g. 2026-11-20T08:00:00Z")
    replay.add_argument("--service", help="one service (default: all)")
    replay.set_defaults(func=lambda a: asyncio.run(_replay(a)))
    retry = commands.add_parser("retry-dead", help="send dead-lettered events to their consumers again")
    retry.add_argument("--service", help="one service (default: all)")
    retry.add_argument("--consumer", help="one durable consumer (default: all)")
    retry.set_defaults(func=lambda a: asyncio.run(_retry(a)))
    catalogue = commands.add_parser("asyncapi", help="the AsyncAPI 3.0 event catalogue, from the event JSON Schemas")
    from demimas_common.events.asyncapi import add_arguments

    add_arguments(catalogue)
