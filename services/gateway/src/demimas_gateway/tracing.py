"""The trace id handed back to callers (issue 20): every GraphQL response over HTTP carries the W3C Trace Context
Level 2 `traceresponse` header, `00-<trace-id>-<span-id>-<flags>`, naming the gateway's own span of the request, and
every GraphQL response body carries `extensions.traceId`. The trace is the caller's when it sent a valid
`traceparent`, else a new one: the id an agency hands an auditor for `auditTrace(traceId)`.

Without a tracer provider (a test that builds the app alone) spans are not recording and have no ids of their own;
a span id (in the caller's trace, or a new random trace) is made current then, so the id returned is still the one
forwarded to the subgraphs."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags

__all__ = [
    "TRACERESPONSE",
    "connection_span",
    "current_trace_id",
    "ensure_trace",
    "traceresponse",
    "with_trace_id",
    "with_traceresponse",
]

TRACERESPONSE = "traceresponse"
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
tracer = trace.get_tracer("demimas.gateway")


@contextmanager
def ensure_trace() -> Iterator[SpanContext]:
    """The current span's context, made valid: when the current span has no ids, a random (unsampled) one is made
    current for the block, so that subgraphs receive it as `traceparent` and the caller gets it back."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid and not context.is_remote:
        yield context
        return
    made = _random_ids(context if context.is_valid else None)
    with trace.use_span(NonRecordingSpan(made), end_on_exit=False):
        yield made


def _random_ids(parent: SpanContext | None = None) -> SpanContext:
    """A new span id, in `parent`'s trace (a non-recording span carries its parent's ids) or a new trace."""
    return SpanContext(
        trace_id=parent.trace_id if parent else int.from_bytes(secrets.token_bytes(16), "big") or 1,
        span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
        is_remote=False,
        trace_flags=parent.trace_flags if parent else TraceFlags(TraceFlags.DEFAULT),
    )


def traceresponse(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_trace_id() -> str | None:
    """The hex trace id of the current span, or None outside a valid one."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def with_trace_id(body: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
    """`body` with `extensions.traceId` (a new dict when extensions are added; the caller's extensions kept)."""
    if trace_id is None:
        return body
    extensions = body.get("extensions")
    merged = dict(extensions) if isinstance(extensions, dict) else {}
    merged["traceId"] = trace_id
    return {**body, "extensions": merged}


def with_traceresponse(send: Send, context: SpanContext) -> Send:
    """`send` adding the `traceresponse` header to the HTTP response start (once, whatever path answers)."""
    header = (TRACERESPONSE.encode(), traceresponse(context).encode())

    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), header]}
        await send(message)

    return sending


def connection_span(parent: Context, name: str) -> tuple[Span, Context, SpanContext]:
    """A span for a long-lived connection (a WebSocket), child of the caller's trace when `parent` carries one; the
    context its operations run in; and its valid ids (random ones, as `ensure_trace` makes, without a provider)."""
    span = tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER)
    ids = span.get_span_context()
    if not ids.is_valid or ids.is_remote:
        span = NonRecordingSpan(_random_ids(ids if ids.is_valid else None))
        ids = span.get_span_context()
    return span, trace.set_span_in_context(span, parent), ids
