"""Two small strawberry subgraphs that serve subscriptions as the issue-18 contract says (notes: i18-contract), used
by the gateway's subscription tests until the real services serve theirs:

- `changes`: `workerChanged(regionPrefix, after)` (events of an in-memory log whose position is the cursor, so a
  subscription `after:` a cursor replays what it missed then goes live, and a cursor that is not a decimal integer
  or lies beyond the log is `BAD_USER_INPUT` reason `invalid_cursor`; one before the retained part is
  `CURSOR_EXPIRED`), `WorkerChange { cursor kind workerId villageCode padding worker { id status } }`;
- `people`: the `Worker` entity's `name` (personal: `pii:read` in the supergraph) and `village`, joined per event
  by the gateway through `_entities`.

Both record the headers they were called with. Events outside the caller's region are never sent (the token's
`region` claim, read without verification: the gateway verified it, and this is a test stand-in).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import strawberry
import uvicorn
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from demimas_common.devstack.ports import free_port

__all__ = ["SUPERGRAPH", "Hub", "LiveSubgraphs", "Served", "serve_app"]


@dataclass
class Event:
    seq: int
    worker_id: str
    village: str
    kind: str
    padding: str = ""


@dataclass
class Hub:
    """The `changes` subgraph's event log (the stand-in of a JetStream stream) and what its callers sent."""

    events: list[Event] = field(default_factory=list)
    first_available: int = 1
    handshakes: list[dict[str, str]] = field(default_factory=list)
    entity_headers: list[dict[str, str]] = field(default_factory=list)
    active: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, worker_id: str, village: str, kind: str = "UPDATED", padding: str = "") -> str:
        event = Event(len(self.events) + 1, worker_id, village, kind, padding)
        self.events.append(event)
        self.changed.set()
        self.changed = asyncio.Event()
        return str(event.seq)

    @property
    def last(self) -> int:
        return len(self.events)


def _claims(headers: dict[str, str]) -> dict[str, Any]:
    authorization = headers.get("authorization", "")
    try:
        payload = authorization.split()[-1].split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, orjson.JSONDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _headers(info: strawberry.Info) -> dict[str, str]:
    request = info.context["request"]
    return {k.lower(): v for k, v in request.headers.items()}


def _covers(prefix: str | None, village: str) -> bool:
    return prefix is None or village == prefix or village.startswith(prefix + ".")


def _hub(info: strawberry.Info) -> Hub:
    hub = info.context["hub"]
    assert isinstance(hub, Hub)
    return hub


@strawberry.federation.type(keys=["id"], name="Worker")
class ChangesWorker:
    id: strawberry.ID
    status: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ChangesWorker:
        return ChangesWorker(id=id, status="ACTIVE")


@strawberry.type
class WorkerChange:
    cursor: str
    kind: str
    worker_id: strawberry.ID
    village_code: str
    padding: str

    @strawberry.field
    def worker(self) -> ChangesWorker:
        return ChangesWorker(id=self.worker_id, status="RETURNED" if self.kind == "RETURNED" else "ACTIVE")


def _change(event: Event) -> WorkerChange:
    return WorkerChange(
        cursor=str(event.seq),
        kind=event.kind,
        worker_id=strawberry.ID(event.worker_id),
        village_code=event.village,
        padding=event.padding,
    )


@strawberry.type
class ChangesQuery:
    @strawberry.field
    def worker(self, id: strawberry.ID) -> ChangesWorker:
        return ChangesWorker(id=id, status="ACTIVE")


@strawberry.type
class ChangesSubscription:
    @strawberry.subscription
    async def worker_changed(
        self, info: strawberry.Info, region_prefix: str | None = None, after: str | None = None
    ) -> AsyncGenerator[WorkerChange, None]:
        hub = _hub(info)
        headers = _headers(info)
        hub.handshakes.append(headers)
        region = _claims(headers).get("region")
        position = hub.last
        if after is not None:
            if not after.isdigit() or int(after) > hub.last:
                raise GraphQLError(
                    f"cursor {after[:20]!r} is not a position of the stream (0 to {hub.last})",
                    extensions={"code": "BAD_USER_INPUT", "reason": "invalid_cursor"},
                )
            if int(after) + 1 < hub.first_available:
                raise GraphQLError(
                    "that cursor is older than the stream keeps: resynchronise by query",
                    extensions={"code": "CURSOR_EXPIRED", "firstAvailable": str(hub.first_available)},
                )
            position = int(after)
        hub.active += 1
        try:
            while True:
                while position < hub.last:
                    event = hub.events[position]
                    position = event.seq
                    if _covers(region, event.village) and _covers(region_prefix, event.village):
                        yield _change(event)
                await hub.changed.wait()
        finally:
            hub.active -= 1


@strawberry.federation.type(keys=["id"], name="Worker")
class PeopleWorker:
    id: strawberry.ID
    name: str | None
    village: str | None

    @classmethod
    def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> PeopleWorker:
        _hub(info).entity_headers.append(_headers(info))
        return PeopleWorker(id=id, name=f"name of {id}", village=f"village of {id}")


@strawberry.type
class PeopleQuery:
    @strawberry.field
    def hello(self) -> str:
        return "hello"


CHANGES_SCHEMA = strawberry.federation.Schema(query=ChangesQuery, subscription=ChangesSubscription)
PEOPLE_SCHEMA = strawberry.federation.Schema(query=PeopleQuery, types=[PeopleWorker])


class HubApp(GraphQL[dict[str, Any], None]):
    """strawberry's ASGI app with the hub in every request's context."""

    def __init__(self, schema: strawberry.federation.Schema, hub: Hub) -> None:
        super().__init__(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        self.hub = hub

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"request": request, "response": response, "hub": self.hub}


@dataclass
class Served:
    url: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve_app(app: Any, port: int | None = None) -> Served:
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="auto", ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return Served(f"http://127.0.0.1:{port}/graphql", port, server, task)


def changes_app(hub: Hub) -> HubApp:
    return HubApp(CHANGES_SCHEMA, hub)


@dataclass
class LiveSubgraphs:
    hub: Hub
    changes: Served
    people: Served

    @property
    def urls(self) -> dict[str, str]:
        return {"changes": self.changes.url, "people": self.people.url}

    async def restart_changes(self, down_for: float = 0.0) -> None:
        """Stop the `changes` subgraph (its subscribers are closed as by a restart) and serve it again on its port."""
        await self.changes.stop()
        await asyncio.sleep(down_for)
        self.changes = await serve_app(changes_app(self.hub), self.changes.port)


@asynccontextmanager
async def live_subgraphs() -> AsyncIterator[LiveSubgraphs]:
    hub = Hub()
    changes = await serve_app(changes_app(hub))
    people = await serve_app(HubApp(PEOPLE_SCHEMA, hub))
    live = LiveSubgraphs(hub, changes, people)
    try:
        yield live
    finally:
        await live.changes.stop()
        await live.people.stop()


SUPERGRAPH = (Path(__file__).parent.parent / "fixtures" / "live-supergraph.graphql").read_text()
