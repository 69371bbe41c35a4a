"""GraphQL over HTTP in front of the `Gateway` pipeline, as a small ASGI app (no framework on the hot path).

- `POST /graphql` with a JSON body, `GET /graphql?query=...` for queries only (a mutation over GET is 405).
- `application/graphql-response+json` when the client accepts it (request errors are then HTTP 400, responses with
  `data` 200), `application/json` otherwise (always 200 for a well-formed request), as the GraphQL-over-HTTP
  specification says for each media type. A body that is not JSON (strictly: UTF-8, no lone surrogates, at most 64
  levels deep, as every subgraph reads it), or not a GraphQL request, is 400 `BAD_REQUEST`.
- `Authorization: Bearer <jwt>` verified against the JWKS of the settings; a bad token is 401 with `UNAUTHENTICATED`.
- Cross-site request forgery: a request a browser could send from another site without a CORS preflight (no
  `Authorization`, no JSON or GraphQL content type, no `X-Demimas-Preflight`/`Apollo-Require-Preflight` header) is
  refused with 400 `CSRF_REQUEST_REFUSED`; a body over the limit is 413 `BODY_TOO_LARGE`; a JSON array (batch) is
  400 `BATCHING_NOT_SUPPORTED`; variables over their limit 400 `MAX_VARIABLES_SIZE_EXCEEDED`; a request that takes
  longer than the request timeout 504 `GATEWAY_TIMEOUT`; an agency over its rate 429 `RATE_LIMITED` with
  `Retry-After`. With trusted documents only registered operations run (`PERSISTED_QUERY_NOT_FOUND` otherwise).
- The purpose of personal-data reads comes from the token's `purpose` claim or `X-Demimas-Purpose` (which wins, and is
  forwarded to the subgraphs with the token).
- `GET /healthz` (the process answers), `GET /readyz` (every subgraph answers `{ __typename }`), and a GraphQL IDE
  page on `GET /graphql` from a browser in development only.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import PURPOSE_HEADER, Purpose
from demimas_common.errors import BadUserInput, DemimasError
from demimas_common.graphql.request_body import RequestRefused, decode_json
from demimas_gateway.caller import Caller
from demimas_gateway.fanout import SharedSubscriptions
from demimas_gateway.gateway import Gateway, RequestError
from demimas_gateway.ratelimit import RateLimiter
from demimas_gateway.sse import EVENT_STREAM, serve_event_stream
from demimas_gateway.sublimits import StreamSettings, SubscriptionLimits
from demimas_gateway.tokens import TokenCache, token_expiry
from demimas_gateway.tracing import current_trace_id, ensure_trace, with_trace_id, with_traceresponse
from demimas_gateway.trusted import TrustedDocuments
from demimas_gateway.uploads import UPLOAD_PATH, UploadForwarder
from demimas_gateway.upstream import UpstreamSubscriptions

__all__ = ["GatewayApp"]

log = logging.getLogger("demimas.gateway")
tracer = trace.get_tracer("demimas.gateway")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PURPOSE = PURPOSE_HEADER.lower()  # as ASGI headers come
FORWARDED = ("authorization", PURPOSE)
PREFLIGHT_HEADERS = ("x-demimas-preflight", "apollo-require-preflight", "x-apollo-operation-name")
SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
CSRF_MESSAGE = (
    "this request could have been sent by a browser from another site: send Content-Type: application/json,"
    " an Authorization header or X-Demimas-Preflight: 1"
)

IDE_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Demimas gateway</title>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css"></head>
<body style="margin:0"><div id="ide" style="height:100vh"></div>
<script src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>ReactDOM.createRoot(document.getElementById('ide')).render(React.createElement(GraphiQL,
{fetcher: GraphiQL.createFetcher({url: location.pathname}), defaultEditorToolbarOpen: true}));</script>
</body></html>"""


class GatewayApp:
    def __init__(
        self,
        gateway: Gateway,
        *,
        verifier: TokenVerifier | None,
        development: bool = False,
        max_body_bytes: int = 2 * 1024 * 1024,
        max_variables_bytes: int | None = None,
        request_timeout: float | None = None,
        rate_limiter: RateLimiter | None = None,
        trusted_documents: TrustedDocuments | None = None,
        csrf_prevention: bool = True,
        readiness_timeout: float = 3.0,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        max_upload_bytes: int = 200 * 1024 * 1024,
        upload_timeout: float = 600.0,
        subscription_limits: SubscriptionLimits | None = None,
        stream_settings: StreamSettings | None = None,
        upstream: UpstreamSubscriptions | None = None,
        share_subscriptions: bool = True,
    ) -> None:
        self.gateway = gateway
        self.verifier = verifier
        self.development = development
        self.max_body_bytes = max_body_bytes
        self.max_variables_bytes = max_variables_bytes
        self.request_timeout = request_timeout
        self.rate_limiter = rate_limiter
        self.trusted_documents = trusted_documents
        self.csrf_prevention = csrf_prevention
        self.tokens = TokenCache(verifier, leeway_seconds=verifier.leeway) if verifier else None
        self.readiness_timeout = readiness_timeout
        self.on_shutdown = on_shutdown
        self.limits = subscription_limits or SubscriptionLimits()
        self.stream_settings = stream_settings or StreamSettings()
        self.upstream = upstream or UpstreamSubscriptions(
            {name: graph.url for name, graph in gateway.supergraph.graphs.items()}
        )
        self.shared = SharedSubscriptions(self.upstream, enabled=share_subscriptions)
        registry = gateway.supergraph.graphs.get("registry")
        self.uploads = (
            UploadForwarder(self, registry_url=registry.url, max_bytes=max_upload_bytes, timeout_seconds=upload_timeout)
            if registry is not None
            else None
        )
        self.streams: set[Callable[[], None]] = set()
        """How to close each open WebSocket or SSE stream for a shutdown (they register and unregister)."""

    def watch_shutdown_signals(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        """Close the streams as soon as the server is told to stop, before it closes connections itself.

        uvicorn, on SIGTERM, stops accepting, then closes each WebSocket with 1012 (no reason) and waits for HTTP
        responses to end, which an SSE stream never does by itself (until its graceful timeout cancels it). So the
        handler uvicorn installed is wrapped: the streams are closed by the app first (1012 with a reason telling to
        resume; SSE streams ended without `complete`), then uvicorn's handler runs. Main thread only (signals)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for number in signals:
            previous = signal.getsignal(number)
            if not callable(previous):
                continue  # no server handler to chain to: leave the default behaviour alone

            def handler(signum: int, frame: Any, previous: Callable[[int, Any], Any] = previous) -> None:
                loop.call_soon_threadsafe(self.close_streams)
                previous(signum, frame)

            signal.signal(number, handler)

    def close_streams(self) -> None:
        """Close every open stream as for a restart: WebSockets with 1012, SSE streams cut (both mean: reconnect and
        resume after the last cursor). uvicorn does the same for WebSockets when it shuts down."""
        for close in list(self.streams):
            close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "websocket":
            from demimas_gateway.ws import WebSocketSession

            if scope["path"] in ("/graphql", "/"):
                await WebSocketSession(self, scope, receive, send).run()
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            return
        path = scope["path"]
        if path in ("/graphql", "/"):
            await self._graphql(scope, receive, send)
        elif path == UPLOAD_PATH and self.uploads is not None:
            await self.uploads(scope, receive, send, _headers(scope))
        elif path == "/healthz":
            await _send(send, 200, {"status": "ok"}, JSON)
        elif path == "/readyz":
            ready, detail = await self._ready()
            await _send(send, 200 if ready else 503, {"status": "ready" if ready else "not ready", **detail}, JSON)
        else:
            await _send(send, 404, {"errors": [{"message": "not found: the GraphQL endpoint is /graphql"}]}, JSON)

    async def _graphql(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every answer at the GraphQL endpoint, refusals included, in the request's span (the caller's
        `traceparent` its parent) and with the trace handed back: the `traceresponse` header and, in each JSON body,
        `extensions.traceId` (tracing.py)."""
        token = otel_context.attach(propagate.extract(_headers(scope)))
        try:
            with tracer.start_as_current_span("graphql.request", kind=trace.SpanKind.SERVER), ensure_trace() as ids:
                send = with_traceresponse(send, ids)
                method = scope["method"]
                if method == "POST":
                    await self._post(scope, receive, send)
                elif method == "GET":
                    await self._get(scope, send, receive)
                else:
                    await _send(send, 405, {"errors": [{"message": "use GET or POST"}]}, JSON, allow="GET, POST")
        finally:
            otel_context.detach(token)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.watch_shutdown_signals()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close_streams()
                if self.uploads is not None:
                    await self.uploads.close()
                if self.on_shutdown is not None:
                    await self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ready(self) -> tuple[bool, dict[str, Any]]:
        async def probe(graph: str) -> tuple[str, str | None]:
            try:
                response = await asyncio.wait_for(
                    self.gateway.client.post(graph, {"query": "{__typename}"}, {}), self.readiness_timeout
                )
            except Exception as exc:
                return graph, f"{type(exc).__name__}: {exc}"
            return graph, None if isinstance(response.get("data"), dict) else "no data"

        results = await asyncio.gather(*(probe(g) for g in self.gateway.supergraph.graphs))
        failures = {graph: reason for graph, reason in results if reason}
        return not failures, {"subgraphs": {g: failures.get(g, "ok") for g, _ in results}}

    async def _get(self, scope: Scope, send: Send, receive: Receive | None = None) -> None:
        headers = _headers(scope)
        params = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        if "query" not in params:
            if self.development and "text/html" in headers.get("accept", ""):
                await send_raw(send, 200, IDE_PAGE, "text/html; charset=utf-8")
                return
            await _send(send, 400, _request_error("GET needs a `query` parameter", "BAD_REQUEST"), JSON)
            return
        if self._csrf(headers, None):
            await _send(send, 400, _request_error(CSRF_MESSAGE, "CSRF_REQUEST_REFUSED"), JSON)
            return
        variables: Any = None
        if "variables" in params:
            try:
                variables = decode_json(params["variables"], "`variables`")
            except RequestRefused as refused:
                await _send(send, refused.status, refused.body(), JSON)
                return
        request = {"query": params["query"], "variables": variables, "operationName": params.get("operationName")}
        variables_size = len(params.get("variables", ""))
        await self._execute(request, headers, send, frozenset({"query"}), variables_size, _client(scope), receive)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        content_type = headers.get("content-type", "")
        if self._csrf(headers, content_type):
            await _send(send, 400, _request_error(CSRF_MESSAGE, "CSRF_REQUEST_REFUSED"), JSON)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:  # refused before reading it
            await _send(send, 413, _request_error("request body too large", "BODY_TOO_LARGE"), JSON)
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _send(send, 413, _request_error("request body too large", "BODY_TOO_LARGE"), JSON)
                return
            if not message.get("more_body"):
                break
        if content_type and "json" not in content_type and "graphql" not in content_type:
            await _send(send, 415, _request_error("send the request as application/json", "BAD_REQUEST"), JSON)
            return
        try:
            request = decode_json(body)  # strict: UTF-8 without lone surrogates, at most MAX_JSON_DEPTH levels
        except RequestRefused as refused:
            await _send(send, refused.status, refused.body(), JSON)
            return
        if isinstance(request, list):
            problem = "batched operations are not accepted: send one operation per request"
            await _send(send, 400, _request_error(problem, "BATCHING_NOT_SUPPORTED"), JSON)
            return
        await self._execute(
            request, headers, send, frozenset({"query", "mutation"}), len(body), _client(scope), receive
        )

    def _csrf(self, headers: dict[str, str], content_type: str | None) -> bool:
        """True for a request a browser may send cross-site without a preflight (Apollo Router's CSRF rule, plus
        `Authorization`, which no cross-site request carries without one)."""
        if not self.csrf_prevention or "authorization" in headers:
            return False
        if any(h in headers for h in PREFLIGHT_HEADERS):
            return False
        if content_type is None:  # GET
            return True
        media = content_type.split(";", 1)[0].strip().lower()
        return media in SIMPLE_CONTENT_TYPES or not media

    async def _execute(
        self,
        request: Any,
        headers: dict[str, str],
        send: Send,
        allowed: frozenset[str],
        raw_size: int,
        client: str | None = None,
        receive: Receive | None = None,
    ) -> None:
        accept = headers.get("accept", "")
        if receive is not None and EVENT_STREAM in accept.lower():
            await self._stream(request, headers, send, receive, allowed, raw_size, client)
            return
        media = _media_type(headers.get("accept"))
        if media is None:
            await _send(send, 406, _request_error(f"accept {GRAPHQL_RESPONSE} or {JSON}", "BAD_REQUEST"), JSON)
            return
        if self.trusted_documents is not None and isinstance(request, dict):
            document = self.trusted_documents.resolve(request)
            if document is None:
                message = "this gateway runs registered operations only, and this one is not registered"
                await _send(send, 400, _request_error(message, "PERSISTED_QUERY_NOT_FOUND"), media)
                return
            request = {**request, "query": document}
        problem = _check_request(request)
        if problem:
            await _send(send, 400, _request_error(problem, "BAD_REQUEST"), media)
            return
        limit = self.max_variables_bytes
        if limit is not None and raw_size > limit and request.get("variables"):  # only then worth measuring
            size = len(orjson.dumps(request["variables"]))
            if size > limit:
                message = f"the variables take {size} bytes, more than the allowed {limit}"
                await _send(send, 400, _request_error(message, "MAX_VARIABLES_SIZE_EXCEEDED"), media)
                return
        span = trace.get_current_span()
        try:
            caller = await self._caller(headers)
        except BadUserInput as exc:
            body = {"errors": [{"message": str(exc), "extensions": exc.extensions}]}
            await _send(send, 400, body, media)
            return
        except DemimasError as exc:
            body = {"errors": [{"message": str(exc), "extensions": exc.extensions}]}
            await _send(send, 401, body, media, **{"www-authenticate": "Bearer"})
            return
        if self.rate_limiter is not None:
            wait = self.rate_limiter.retry_after(caller.agency, client)
            if wait:
                span.set_attribute("graphql.error.code", "RATE_LIMITED")
                body = _request_error(f"too many requests from {caller.agency or 'anonymous callers'}", "RATE_LIMITED")
                await _send(send, 429, body, media, **{"retry-after": str(wait)})
                return
        forward = {k: headers[k] for k in FORWARDED if k in headers}
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await self.gateway.execute(
                    request["query"],
                    request.get("operationName"),
                    request.get("variables"),
                    caller=caller,
                    headers=forward,
                    allowed_operations=allowed,
                )
        except TimeoutError:
            span.set_attribute("graphql.error.code", "GATEWAY_TIMEOUT")
            await _send(send, 504, _request_error("the request took too long", "GATEWAY_TIMEOUT"), media)
            return
        except RequestError as exc:
            span.set_attribute("graphql.error.code", exc.code)
            status = exc.status if media == GRAPHQL_RESPONSE or exc.status >= 405 or exc.always_status else 200
            extra = {"allow": "POST"} if exc.status == 405 else {}
            await _send(send, status, {"errors": [exc.as_error()]}, media, **extra)
            return
        except Exception:
            log.exception("gateway failure")
            body = _request_error("the gateway failed to execute the request", "INTERNAL_SERVER_ERROR")
            await _send(send, 500, body, media)
            return
        body = with_trace_id(response.body(), current_trace_id())
        await send_raw(send, 200, orjson.dumps(body), media)

    def check_stream_request(self, request: Any, raw_size: int | None = None) -> tuple[Any, dict[str, Any] | None]:
        """A streamed request (a WebSocket `subscribe` payload, an SSE request) checked as a POST's is: trusted
        documents, shape, variables size. Returns the request to run (its document resolved) or the error."""
        if self.trusted_documents is not None and isinstance(request, dict):
            document = self.trusted_documents.resolve(request)
            if document is None:
                message = "this gateway runs registered operations only, and this one is not registered"
                return None, _request_error(message, "PERSISTED_QUERY_NOT_FOUND")["errors"][0]
            request = {**request, "query": document}
        problem = _check_request(request)
        if problem:
            return None, _request_error(problem, "BAD_REQUEST")["errors"][0]
        limit = self.max_variables_bytes
        if limit is not None and request.get("variables") and (raw_size is None or raw_size > limit):
            size = len(orjson.dumps(request["variables"]))
            if size > limit:
                message = f"the variables take {size} bytes, more than the allowed {limit}"
                return None, _request_error(message, "MAX_VARIABLES_SIZE_EXCEEDED")["errors"][0]
        return request, None

    async def _stream(
        self,
        request: Any,
        headers: dict[str, str],
        send: Send,
        receive: Receive,
        allowed: frozenset[str],
        raw_size: int,
        client: str | None,
    ) -> None:
        """GraphQL over SSE (sse.py): the checks of `_execute`, then the event stream."""
        request, problem = self.check_stream_request(request, raw_size)
        if problem is not None:
            await _send(send, 400, {"errors": [problem]}, JSON)
            return
        resolved = await self.caller_or_refuse(headers, send)
        if resolved is None:
            return
        caller, expires = resolved
        if self.rate_limiter is not None:
            wait = self.rate_limiter.retry_after(caller.agency, client)
            if wait:
                who = caller.agency or "anonymous callers"
                body = _request_error(f"too many requests from {who}", "RATE_LIMITED")
                await _send(send, 429, body, JSON, **{"retry-after": str(wait)})
                return
        forward = {k: headers[k] for k in FORWARDED if k in headers}
        try:
            await serve_event_stream(self, request, caller, expires, forward, client, receive, send, allowed)
        except Exception:
            log.exception("gateway stream failure")
            raise

    async def caller_or_refuse(self, headers: dict[str, str], send: Send) -> tuple[Caller, float | None] | None:
        """`resolve_caller` of a request's headers, or None once the refusal is answered: 400 for an unknown purpose,
        401 (with `WWW-Authenticate`) for a token that does not verify. For the routes that answer before reading a
        body (SSE, uploads)."""
        try:
            return await self.resolve_caller(headers.get("authorization"), headers.get(PURPOSE))
        except BadUserInput as exc:
            await _send(send, 400, {"errors": [{"message": str(exc), "extensions": exc.extensions}]}, JSON)
        except DemimasError as exc:
            body = {"errors": [{"message": str(exc), "extensions": exc.extensions}]}
            await _send(send, 401, body, JSON, **{"www-authenticate": "Bearer"})
        return None

    async def _caller(self, headers: dict[str, str]) -> Caller:
        caller, _ = await self.resolve_caller(headers.get("authorization"), headers.get(PURPOSE))
        return caller

    async def resolve_caller(
        self, authorization: str | None, purpose_header: str | None
    ) -> tuple[Caller, float | None]:
        """The caller of an `Authorization` value and a purpose (header or `connection_init` payload), and when its
        token stops being valid (its `exp` plus the leeway; None without a token). Raises `BadUserInput` for an
        unknown purpose and `DemimasError` (`UNAUTHENTICATED`) for a token that does not verify."""
        purpose = _purpose(purpose_header)
        if not authorization:
            return Caller(purpose=purpose), None
        if self.tokens is None:
            from demimas_common.errors import Unauthenticated

            raise Unauthenticated("this gateway has no JWKS configured, so it cannot accept tokens", reason="jwks")
        principal = await self.tokens.principal(authorization)
        if principal is None:
            return Caller(), None
        caller = Caller(
            authenticated=True,
            scopes=principal.scopes,
            agency=principal.agency.value,
            region=principal.region,
            purpose=purpose or (principal.purpose.value if principal.purpose else None),
        )
        expiry = token_expiry(authorization)
        return caller, (expiry + self.tokens.leeway) if expiry else None


def _client(scope: Scope) -> str | None:
    """The caller's address (uvicorn puts the proxy's `X-Forwarded-For` there for trusted proxies only)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def _media_type(accept: str | None) -> str | None:
    if not accept:
        return JSON
    accept = accept.lower()
    if GRAPHQL_RESPONSE in accept:
        return GRAPHQL_RESPONSE
    if JSON in accept or "*/*" in accept or "application/*" in accept:
        return JSON
    return None


def _check_request(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "the request must be a JSON object with a `query`"
    query = request.get("query")
    if not isinstance(query, str) or not query.strip():
        return "`query` must be a non-empty string (persisted queries are not enabled)"
    if request.get("variables") is not None and not isinstance(request["variables"], dict):
        return "`variables` must be a JSON object"
    if request.get("operationName") is not None and not isinstance(request["operationName"], str):
        return "`operationName` must be a string"
    return None


def _purpose(header: str | None) -> str | None:
    """The purpose the header names; an unknown one is refused on the field `purpose` with the purposes listed and
    without echoing what was sent (the gateway's answer since before issue 16; a subgraph words it its own way)."""
    if header is None:
        return None
    try:
        return Purpose.parse(header, field=PURPOSE_HEADER).value
    except BadUserInput:
        allowed = ", ".join(sorted(p.value for p in Purpose))
        raise BadUserInput(f"unknown purpose; use one of {allowed}", field="purpose") from None


def _request_error(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


async def _send(send: Send, status: int, body: dict[str, Any], media: str, **headers: str) -> None:
    """A JSON answer, with `extensions.traceId` inside a request's span (not for the probes)."""
    await send_raw(send, status, orjson.dumps(with_trace_id(body, current_trace_id())), media, **headers)


async def send_raw(send: Send, status: int, body: bytes, media: str, **headers: str) -> None:
    raw_headers = [(b"content-type", media.encode())]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    raw_headers.extend((k.encode(), v.encode()) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
