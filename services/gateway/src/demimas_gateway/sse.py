"""GraphQL over Server-Sent Events at `/graphql`, "distinct connections" mode (one operation per HTTP request), as
the `graphql-sse` library speaks it: `POST /graphql` (or `GET` with `query`, `variables`, `operationName`) with
`Accept: text/event-stream`. Each result is `event: next` with the JSON result as `data`, and the stream ends with
`event: complete`. A query or mutation gives one `next` then `complete`.

Anything refused before the stream starts is an ordinary JSON answer with the HTTP status of the POST path (400
request errors, 401 bad token, 429 `RATE_LIMITED` or `TOO_MANY_SUBSCRIPTIONS`). Once streaming: a subgraph that
fails, and an expired token, end the stream with one `next` carrying the error (`UNAUTHENTICATED` with reason
`expired` for the token) then `complete`; a client that does not read (more than the send buffer's bound of events
waiting) and a gateway shutting down cut the stream without `complete`, which the `graphql-sse` client reports as
a dropped connection: reconnect, subscribe again after the last cursor. An SSE comment line is sent every
keep-alive interval so that proxies keep a quiet stream open.

The trace (tracing.py): the response, stream or refusal, carries the `traceresponse` header; a refusal's JSON and
the one `next` of a query or mutation carry `extensions.traceId`. A subscription's events do not (they are
serialised once for every subscriber sharing the subscription): its trace id is the header's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

from demimas_gateway.caller import Caller
from demimas_gateway.errors import RequestError
from demimas_gateway.sublimits import TooManySubscriptions
from demimas_gateway.subscription import Subscription, prepare_subscription
from demimas_gateway.tracing import current_trace_id, with_trace_id

if TYPE_CHECKING:
    from demimas_gateway.http import GatewayApp

__all__ = ["EVENT_STREAM", "serve_event_stream"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

EVENT_STREAM = "text/event-stream"
JSON = "application/json"
COMPLETE = b"event: complete\ndata:\n\n"
RESTART = b": the gateway is restarting: reconnect and subscribe again after your last cursor\n\n"


def _next(body: dict[str, Any]) -> bytes:
    return b"event: next\ndata: " + orjson.dumps(body) + b"\n\n"


async def _json(send: Send, status: int, errors: list[dict[str, Any]], **headers: str) -> None:
    body = orjson.dumps(with_trace_id({"errors": errors}, current_trace_id()))
    raw = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _start(send: Send) -> None:
    headers = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def serve_event_stream(
    app: GatewayApp,
    request: dict[str, Any],
    caller: Caller,
    expires: float | None,
    forward: dict[str, str],
    client: str | None,
    receive: Receive,
    send: Send,
    allowed: frozenset[str],
) -> None:
    """Run `request` (checked as a GraphQL request already, caller resolved and rate-limited) as an event stream."""
    gateway = app.gateway
    query, name, variables = request["query"], request.get("operationName"), request.get("variables")
    try:
        kind = gateway.operation_type(query, name)
        if kind != "subscription":
            async with asyncio.timeout(app.request_timeout):
                response = await gateway.execute(
                    query, name, variables, caller=caller, headers=forward, allowed_operations=allowed
                )
            await _start(send)
            await send(
                {
                    "type": "http.response.body",
                    "body": _next(with_trace_id(response.body(), current_trace_id())) + COMPLETE,
                }
            )
            return
        subscription = prepare_subscription(gateway, query, name, variables, caller, forward)
    except RequestError as exc:
        extra = {"allow": "POST"} if exc.status == 405 else {}
        await _json(send, exc.status, [exc.as_error()], **extra)
        return
    except TimeoutError:
        await _json(send, 504, [{"message": "the request took too long", "extensions": {"code": "GATEWAY_TIMEOUT"}}])
        return
    try:
        key = app.limits.acquire(caller.agency, client)
    except TooManySubscriptions as exc:
        await _json(send, 429, [exc.as_error()])
        return
    try:
        await _stream(app, subscription, request, forward, expires, receive, send)
    finally:
        app.limits.release(key)


async def _stream(
    app: GatewayApp,
    subscription: Subscription,
    request: dict[str, Any],
    forward: dict[str, str],
    expires: float | None,
    receive: Receive,
    send: Send,
) -> None:
    settings = app.stream_settings
    queue: deque[bytes] = deque()
    wakeup = asyncio.Event()
    done = asyncio.Event()
    outcome: dict[str, bool] = {"complete": False, "shutdown": False}

    def put(chunk: bytes) -> None:
        if done.is_set():
            return
        if len(queue) >= settings.send_buffer_messages:
            done.set()  # a client that does not read: cut the stream, drop what waits for it
            queue.clear()
            return
        queue.append(chunk)
        wakeup.set()

    def shutdown() -> None:
        outcome["shutdown"] = True
        done.set()

    def on_event(raw: bytes) -> None:
        put(b"event: next\ndata: " + raw + b"\n\n")

    async def events() -> None:
        ended = await app.shared.run(subscription, request, forward, on_event)
        put(COMPLETE if ended is None else _next({"errors": ended}) + COMPLETE)
        outcome["complete"] = True

    async def expiry() -> None:
        assert expires is not None
        await asyncio.sleep(max(0.0, expires - time.time()))
        error = {
            "message": "the token expired: subscribe again with a fresh token after your last cursor",
            "extensions": {"code": "UNAUTHENTICATED", "reason": "expired"},
        }
        put(_next({"errors": [error]}) + COMPLETE)
        outcome["complete"] = True

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(settings.sse_keepalive_seconds)
            put(b": keep-alive\n\n")

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def writer() -> None:
        while True:
            while queue:
                chunk = queue.popleft()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if outcome["complete"]:
                return
            wakeup.clear()
            await wakeup.wait()

    await _start(send)
    app.streams.add(shutdown)
    tasks = [asyncio.create_task(t) for t in (events(), keepalive(), disconnected(), writer())]
    if expires is not None:
        tasks.append(asyncio.create_task(expiry()))
    waiter = asyncio.create_task(done.wait())
    try:
        await asyncio.wait([tasks[2], tasks[3], waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        app.streams.discard(shutdown)
        for task in (*tasks, waiter):
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)
    if outcome["shutdown"]:  # the response ends, without `complete`: the client reconnects and resumes
        with contextlib.suppress(Exception):
            await asyncio.wait_for(send({"type": "http.response.body", "body": RESTART, "more_body": False}), 5.0)
    elif outcome["complete"] and not done.is_set() and tasks[3].done() and not tasks[3].cancelled():
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
