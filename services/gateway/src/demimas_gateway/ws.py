"""GraphQL over WebSocket at `/graphql`, protocol `graphql-transport-ws` (the one the `graphql-ws` library speaks).

The connection: the client opens the socket offering the subprotocol `graphql-transport-ws` (anything else is
accepted only to be closed with 4406), sends `connection_init` within the init timeout (4408 otherwise) with its
token in the handshake's `Authorization` header or in the payload (`{"authorization": "Bearer …", "purpose": …}`,
which wins); the token is verified as for HTTP (4403 with the reason when it does not verify) and the gateway
answers `connection_ack` with the connection's trace id as `{"traceId": …}` in its payload (the trace of the
handshake's `traceparent` when it sent one, else a new one; the handshake's answer carries it in the
`traceresponse` header too): every operation of the connection runs in that trace, so the id finds their events in
`auditTrace`. A query or mutation's one `next` carries it as `extensions.traceId`; a subscription's events do not
(they are serialised once for every subscriber sharing them).

Then `subscribe` runs an operation under its `id`: a subscription streams `next` messages
until `complete`; a query or mutation is executed once (`next`, then `complete`), as the `graphql-ws` library
allows, through the same pipeline as a POST. An operation refused before it starts (parse, validation, limits,
authorization, rate limit, too many subscriptions) is one `error` message for its id, and the connection stays.
`ping` is answered with `pong`.

Close codes (the protocol's, and this gateway's own in the 4000-4999 range left to applications):

| code | when | client should |
|---|---|---|
| 4400 | a message that is not the protocol (not JSON, no `type`, bad `id` or `payload`, binary) | fix the client |
| 4401 | `subscribe` before `connection_ack` | send `connection_init` first |
| 4403 | the token does not verify (reason: `UNAUTHENTICATED: …`), or an unknown purpose | get a valid token |
| 4406 | no `graphql-transport-ws` subprotocol offered | use the protocol |
| 4408 | no `connection_init` within the init timeout | init at once |
| 4409 | `subscribe` with an `id` already running on this connection | use unique ids |
| 4413 | slow client: more than the send buffer's bound of messages waiting for it | read faster; resume |
| 4419 | the token expired (its `exp`) | reconnect with a fresh token; resume |
| 4429 | a second `connection_init` | init once |
| 1012 | the gateway is restarting or shutting down (uvicorn closes every socket so) | reconnect; resume |

"Resume" means: subscribe again with `after:` the `cursor` of the last event processed (every event carries one).

Every `send` to the client goes through one bounded queue per connection drained by one writer task, so a client
that does not read costs at most the bound (plus the kernel's and uvicorn's write buffers, which stop the writer),
never unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate

from demimas_common.errors import BadUserInput, DemimasError
from demimas_gateway.caller import Caller
from demimas_gateway.errors import RequestError
from demimas_gateway.sublimits import TooManySubscriptions
from demimas_gateway.subscription import prepare_subscription
from demimas_gateway.tracing import TRACERESPONSE, connection_span, traceresponse, with_trace_id
from demimas_gateway.upstream import PROTOCOL

if TYPE_CHECKING:
    from demimas_gateway.http import GatewayApp

__all__ = ["CLOSE_SLOW_CLIENT", "CLOSE_TOKEN_EXPIRED", "PROTOCOL", "WebSocketSession"]

log = logging.getLogger("demimas.gateway")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SUBPROTOCOL = 4406
CLOSE_INIT_TIMEOUT = 4408
CLOSE_DUPLICATE_ID = 4409
CLOSE_SLOW_CLIENT = 4413
CLOSE_TOKEN_EXPIRED = 4419
CLOSE_TOO_MANY_INITS = 4429
CLOSE_TIMEOUT_SECONDS = 10.0
"""How long the close frame may wait for a client that does not read (then the connection is dropped)."""


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    raw = text.encode()
    return text if len(raw) <= 123 else raw[:120].decode(errors="ignore") + "..."


class WebSocketSession:
    def __init__(self, app: GatewayApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        client = scope.get("client")
        self.client = str(client[0]) if client else None
        self.caller: Caller | None = None
        self.forward: dict[str, str] = {}
        self.init_received = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.subscriptions = 0
        self.queue: deque[str] = deque()
        self.wakeup = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.timers: list[asyncio.TimerHandle] = []
        self.span, self.context, ids = connection_span(propagate.extract(self.headers), "graphql.websocket")
        self.trace_id = f"{ids.trace_id:032x}"
        self.traceresponse = traceresponse(ids)

    # ---- connection ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.span.end()

    async def _run(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        if PROTOCOL not in (self.scope.get("subprotocols") or ()):
            await self.send({"type": "websocket.accept"})
            reason = f"Subprotocol not acceptable: offer {PROTOCOL}"
            await self.send({"type": "websocket.close", "code": CLOSE_SUBPROTOCOL, "reason": reason})
            return
        trace_header = (TRACERESPONSE.encode(), self.traceresponse.encode())
        await self.send({"type": "websocket.accept", "subprotocol": PROTOCOL, "headers": [trace_header]})
        loop = asyncio.get_running_loop()
        self.timers.append(
            loop.call_later(
                self.app.stream_settings.init_timeout_seconds,
                self._close_unless_init,
            )
        )
        self.app.streams.add(self.shutdown)
        writer = asyncio.create_task(self._writer())
        reader = asyncio.create_task(self._reader())
        closer = asyncio.create_task(self.closed.wait())
        try:
            await asyncio.wait({reader, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.app.streams.discard(self.shutdown)
            for timer in self.timers:
                timer.cancel()
            for task in self.operations.values():
                task.cancel()
            if self.operations:
                await asyncio.gather(*self.operations.values(), return_exceptions=True)
            reader.cancel()
            closer.cancel()
            if self.close_code is not None and not writer.done():
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.send({"type": "websocket.close", "code": self.close_code, "reason": self._close_reason}),
                        CLOSE_TIMEOUT_SECONDS,
                    )
            else:
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer

    def close(self, code: int, reason: str) -> None:
        """Close the connection with `code` (once; what was queued before is dropped: the code says to resume)."""
        if self.close_code is None:
            self.close_code = code
            self._close_reason = _reason(reason)
            self.closed.set()

    def shutdown(self) -> None:
        self.close(1012, "Service restart: reconnect and resume after your last cursor")

    def _close_unless_init(self) -> None:
        if not self.init_received:
            self.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")

    async def _reader(self) -> None:
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive":
                continue
            text = message.get("text")
            if text is None:
                self.close(CLOSE_BAD_MESSAGE, "Invalid message received: send JSON text frames")
                return
            await self._on_message(text)
            if self.close_code is not None:
                return

    async def _writer(self) -> None:
        while True:
            while self.queue:
                text = self.queue.popleft()
                await self.send({"type": "websocket.send", "text": text})
            self.wakeup.clear()
            await self.wakeup.wait()

    def _enqueue(self, message: dict[str, Any]) -> None:
        self._enqueue_text(orjson.dumps(message).decode())

    def _enqueue_text(self, text: str) -> None:
        if self.close_code is not None:
            return
        if len(self.queue) >= self.app.stream_settings.send_buffer_messages:
            self.close(CLOSE_SLOW_CLIENT, "Slow client: send buffer full; reconnect and resume after your last cursor")
            return
        self.queue.append(text)
        self.wakeup.set()

    # ---- messages -----------------------------------------------------------------------------------------------

    async def _on_message(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.close(CLOSE_BAD_MESSAGE, "Invalid message received: a JSON object with a `type`")
            return
        kind = message["type"]
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            self._enqueue({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "complete":
            ident = message.get("id")
            if not isinstance(ident, str):
                self.close(CLOSE_BAD_MESSAGE, "Invalid message received: `complete` needs the operation's `id`")
                return
            task = self.operations.pop(ident, None)
            if task is not None:
                task.cancel()
        else:
            self.close(CLOSE_BAD_MESSAGE, f"Invalid message received: unknown type {kind[:40]!r}")

    async def _init(self, payload: Any) -> None:
        if self.init_received:
            self.close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
            return
        self.init_received = True
        if payload is not None and not isinstance(payload, dict):
            self.close(CLOSE_BAD_MESSAGE, "Invalid message received: the `connection_init` payload is an object")
            return
        payload = payload or {}
        authorization = payload.get("authorization", payload.get("Authorization", self.headers.get("authorization")))
        purpose = payload.get("purpose", self.headers.get("x-demimas-purpose"))
        if (authorization is not None and not isinstance(authorization, str)) or (
            purpose is not None and not isinstance(purpose, str)
        ):
            self.close(CLOSE_BAD_MESSAGE, "Invalid message received: `authorization` and `purpose` are strings")
            return
        try:
            caller, expires = await self.app.resolve_caller(authorization, purpose)
        except BadUserInput as exc:
            self.close(CLOSE_FORBIDDEN, f"BAD_USER_INPUT: {exc}")
            return
        except DemimasError as exc:
            self.close(CLOSE_FORBIDDEN, f"UNAUTHENTICATED: {exc}")
            return
        self.caller = caller
        if authorization:
            self.forward["authorization"] = authorization
        if purpose:
            self.forward["x-demimas-purpose"] = purpose
        if expires is not None:
            delay = max(0.0, expires - time.time())
            self.timers.append(asyncio.get_running_loop().call_later(delay, self._expired))
        self._enqueue({"type": "connection_ack", "payload": {"traceId": self.trace_id}})

    def _expired(self) -> None:
        self.close(CLOSE_TOKEN_EXPIRED, "Token expired: reconnect with a fresh token and resume after your last cursor")

    def _subscribe(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        payload = message.get("payload")
        if not isinstance(ident, str) or not ident or len(ident) > 256:
            self.close(CLOSE_BAD_MESSAGE, "Invalid message received: `subscribe` needs a string `id`")
            return
        if not isinstance(payload, dict) or not (
            isinstance(payload.get("query"), str) or isinstance(payload.get("extensions"), dict)  # a persisted id
        ):
            self.close(CLOSE_BAD_MESSAGE, "Invalid message received: `subscribe` needs a payload with a `query`")
            return
        if self.caller is None:
            self.close(CLOSE_UNAUTHORIZED, "Unauthorized")
            return
        if ident in self.operations:
            self.close(CLOSE_DUPLICATE_ID, _reason(f"Subscriber for {ident} already exists"))
            return
        self.operations[ident] = asyncio.create_task(self._operation(ident, payload, self.caller))

    # ---- operations ---------------------------------------------------------------------------------------------

    def _error(self, ident: str, errors: list[dict[str, Any]]) -> None:
        self._enqueue({"type": "error", "id": ident, "payload": errors})

    async def _operation(self, ident: str, payload: dict[str, Any], caller: Caller) -> None:
        token = otel_context.attach(self.context)
        try:
            await self._run_operation(ident, payload, caller)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription failure")
            self._error(ident, [{"message": "the gateway failed", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
        finally:
            otel_context.detach(token)
            if self.operations.get(ident) is asyncio.current_task():
                del self.operations[ident]

    async def _run_operation(self, ident: str, payload: dict[str, Any], caller: Caller) -> None:
        app = self.app
        request, problem = app.check_stream_request(payload)
        if problem is not None:
            self._error(ident, [problem])
            return
        assert request is not None
        wait = app.rate_limiter.retry_after(caller.agency, self.client) if app.rate_limiter else 0
        if wait:
            message = f"too many requests from {caller.agency or 'anonymous callers'}: try again in {wait} s"
            self._error(ident, [{"message": message, "extensions": {"code": "RATE_LIMITED", "retryAfter": wait}}])
            return
        gateway = app.gateway
        query, name, variables = request["query"], request.get("operationName"), request.get("variables")
        try:
            kind = gateway.operation_type(query, name)
            if kind != "subscription":
                async with asyncio.timeout(app.request_timeout):
                    response = await gateway.execute(
                        query,
                        name,
                        variables,
                        caller=caller,
                        headers=self.forward,
                        allowed_operations=frozenset({"query", "mutation"}),
                    )
                payload = with_trace_id(response.body(), self.trace_id)
                self._enqueue({"type": "next", "id": ident, "payload": payload})
                self._enqueue({"type": "complete", "id": ident})
                return
            if self.subscriptions >= app.limits.per_connection:
                limit = app.limits.per_connection
                raise TooManySubscriptions(f"this connection holds {limit} subscriptions, its limit", limit)
            subscription = prepare_subscription(gateway, query, name, variables, caller, self.forward)
        except RequestError as exc:
            self._error(ident, [exc.as_error()])
            return
        except TooManySubscriptions as exc:
            self._error(ident, [exc.as_error()])
            return
        except TimeoutError:
            self._error(ident, [{"message": "the request took too long", "extensions": {"code": "GATEWAY_TIMEOUT"}}])
            return
        try:
            key = app.limits.acquire(caller.agency, self.client)
        except TooManySubscriptions as exc:
            self._error(ident, [exc.as_error()])
            return
        self.subscriptions += 1
        head = '{"type":"next","id":' + orjson.dumps(ident).decode() + ',"payload":'

        def on_event(raw: bytes) -> None:  # the result serialised once, shared by every subscriber of a group
            self._enqueue_text(head + raw.decode() + "}")

        try:
            ended = await app.shared.run(subscription, request, self.forward, on_event)
            if ended is None:
                self._enqueue({"type": "complete", "id": ident})
            else:  # the subgraph failed or refused: the operation ends with an error
                self._error(ident, ended)
        finally:
            self.subscriptions -= 1
            app.limits.release(key)
