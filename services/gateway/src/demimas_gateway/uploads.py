"""`POST /uploads/workers`: the registry's bulk import reachable at the gateway (in production the only reachable
service), as a route of its own rather than the GraphQL multipart request specification.

Why a route: a multipart GraphQL request would make the gateway parse file envelopes, map files into variables,
plan and cost an operation around a stream, and it is exactly the `multipart/form-data` request a browser sends
cross-site without a preflight, so the CSRF rule would need an exception. This route has none of that: it never
parses the body. It judges the headers as every gateway request is judged, then streams the body through a counter
to the registry's own endpoint (`/imports/workers`, kept for the CLI and internal callers), which reads the file.

In order, before a byte of the body is read:
1. the token, verified as for `/graphql` (401 `UNAUTHENTICATED`); this route requires one, which is also its CSRF
   rule: `Authorization` is a header no cross-site request carries without a CORS preflight;
2. the scope `registry:write` (403 `FORBIDDEN`; the registry checks it again, with the region);
3. the agency's rate (429 `RATE_LIMITED` with `Retry-After`, the same buckets as `/graphql`);
4. the declared `Content-Length` against `DEMIMAS_GATEWAY_MAX_UPLOAD_BYTES` (413 `BODY_TOO_LARGE`);
5. the media type: `multipart/form-data` only (415 `BAD_REQUEST`).
Then the body is streamed, counted: past the limit, whatever the headers said, the forward is cut (the registry
stores nothing of a body that never ended) and the caller gets 413 `BODY_TOO_LARGE`. The registry's answer (the
import report with `importJob { id status }`, or its refusal; with `Prefer: respond-async`, 202 and the running
job as soon as the file is received) is handed back with `extensions.traceId` and the `traceresponse` header; the
caller's token, purpose, `Prefer` and the request's `traceparent` go with the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from demimas_gateway.tracing import current_trace_id, ensure_trace, with_trace_id, with_traceresponse

if TYPE_CHECKING:
    from demimas_gateway.http import GatewayApp

__all__ = ["UPLOAD_PATH", "UploadForwarder", "import_url"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

UPLOAD_PATH = "/uploads/workers"
REGISTRY_IMPORT_PATH = "/imports/workers"
JSON = "application/json"
JOB_HEADER = "x-demimas-import-job"
FORWARDED = ("authorization", "x-demimas-purpose", "content-type", "content-length", "prefer")
RETURNED = (JOB_HEADER, "preference-applied", "retry-after")
tracer = trace.get_tracer("demimas.gateway")


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    """The caller went away mid-body: the forward is aborted, so the registry never sees a body that looks whole."""


def import_url(graphql_url: str) -> str:
    """The registry's import endpoint beside its GraphQL endpoint (same origin)."""
    parts = urlsplit(graphql_url)
    return urlunsplit((parts.scheme, parts.netloc, REGISTRY_IMPORT_PATH, "", ""))


def _error(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class UploadForwarder:
    def __init__(self, app: GatewayApp, *, registry_url: str, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.url = import_url(registry_url)
        self.max_bytes = max_bytes
        self.timeout = timeout_seconds

    async def close(self) -> None:
        """Nothing pooled: each upload opens its own connection (uploads are rare and long; no test or shutdown
        has a pool to forget)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        token = otel_context.attach(propagate.extract(headers))
        try:
            with tracer.start_as_current_span("upload.request", kind=trace.SpanKind.SERVER), ensure_trace() as ids:
                await self._serve(scope, receive, with_traceresponse(send, ids), headers)
        finally:
            otel_context.detach(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        from demimas_gateway.http import _client, _send

        if scope["method"] != "POST":
            await _send(
                send, 405, _error("use POST with a multipart/form-data body", "BAD_REQUEST"), JSON, allow="POST"
            )
            return
        authorization = headers.get("authorization")
        if not authorization:
            body = _error("send `Authorization: Bearer <token>`: uploads need a token", "UNAUTHENTICATED")
            await _send(send, 401, body, JSON, **{"www-authenticate": "Bearer"})
            return
        resolved = await self.app.caller_or_refuse(headers, send)
        if resolved is None:
            return
        caller, _ = resolved
        if not caller.authenticated:
            await _send(send, 401, _error("the token does not verify", "UNAUTHENTICATED"), JSON)
            return
        if "registry:write" not in caller.scopes:
            message = f"{caller.agency} token lacks the scope registry:write"
            await _send(send, 403, _error(message, "FORBIDDEN"), JSON)
            return
        if self.app.rate_limiter is not None:
            wait = self.app.rate_limiter.retry_after(caller.agency, _client(scope))
            if wait:
                body = _error(f"too many requests from {caller.agency}", "RATE_LIMITED")
                await _send(send, 429, body, JSON, **{"retry-after": str(wait)})
                return
        too_large = f"the upload is larger than {self.max_bytes} bytes (setting DEMIMAS_GATEWAY_MAX_UPLOAD_BYTES)"
        declared = headers.get("content-length", "")
        if declared and not declared.isdigit():
            await _send(send, 400, _error("Content-Length is not a number of bytes", "BAD_REQUEST"), JSON)
            return
        if declared and int(declared) > self.max_bytes:
            await _send(send, 413, _error(too_large, "BODY_TOO_LARGE"), JSON)
            return
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "multipart/form-data":
            message = "send the file as multipart/form-data, in the field `file`"
            await _send(send, 415, _error(message, "BAD_REQUEST"), JSON)
            return
        await self._forward(receive, send, headers, too_large)

    async def _forward(self, receive: Receive, send: Send, headers: dict[str, str], too_large: str) -> None:
        from demimas_gateway.http import _send, send_raw

        seen = 0
        over = False

        async def body() -> AsyncIterator[bytes]:
            nonlocal seen, over
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge
                if chunk:
                    yield chunk
                if not message.get("more_body"):
                    return

        forward = {k: headers[k] for k in FORWARDED if k in headers}
        propagate.inject(forward)  # traceparent of this request's span
        try:
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=10.0)) as client,
            ):
                response = await client.post(self.url, content=body(), headers=forward)
        except TimeoutError:
            message = "the upload took too long to reach the registry and be imported"
            await _send(send, 504, _error(message, "GATEWAY_TIMEOUT"), JSON)
            return
        except Exception as exc:
            if over:
                await _send(send, 413, _error(too_large, "BODY_TOO_LARGE"), JSON)
                return
            message = f"the registry could not be reached ({type(exc).__name__}); nothing of the file was stored"
            await _send(send, 502, _error(message, "SUBGRAPH_UNAVAILABLE"), JSON)
            return
        extra = {name: response.headers[name] for name in RETURNED if name in response.headers}
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            await send_raw(send, response.status_code, response.content, JSON, **extra)
            return
        if isinstance(answer, dict):
            answer = with_trace_id(answer, current_trace_id())
        await send_raw(send, response.status_code, orjson.dumps(answer), JSON, **extra)
