"""OpenTelemetry: one tracer provider per process; spans for HTTP requests, database statements, GraphQL
operations, outbox batches and consumed events. Trace context travels with the data: the request's W3C
`traceparent` is stored in each outbox row, sent as a NATS header, and extracted by consumers so their spans join
the same trace.

No per-field GraphQL tracing: it costs about 15x on large results. Operations and phases are traced instead.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from demimas_common.settings import CommonSettings, TraceExporter

if TYPE_CHECKING:  # SQLAlchemy costs ~0.5 s to import: the gateway, which has no database, never pays it
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "configure_tracing",
    "current_traceparent",
    "extract_context",
    "instrument_app",
    "instrument_engine",
    "spans_recorded",
    "without_query_string",
]

UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")  # probes every few seconds would drown the real traces
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_instrumented_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def configure_tracing(service_name: str, settings: CommonSettings) -> TracerProvider:
    """Install the process's tracer provider once; later calls return it unchanged (OpenTelemetry allows one
    global provider per process). With exporter `none` spans still get real ids, so trace context still flows
    through outbox rows and NATS headers."""
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": f"demimas-{service_name}"}))
    if settings.trace_exporter is TraceExporter.CONSOLE:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif settings.trace_exporter is TraceExporter.OTLP:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint or "http://127.0.0.1:4318/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def spans_recorded() -> bool:
    """Whether spans go anywhere (the provider has a span processor: an exporter, or a test's in-memory one).
    Per-item spans (one per consumed event) are made only then: unseen, they would cost a tenth of a consumer."""
    processor = getattr(trace.get_tracer_provider(), "_active_span_processor", None)
    return bool(getattr(processor, "_span_processors", ()))


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None outside a (valid) span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def extract_context(traceparent: str | None) -> otel_context.Context:
    """A context whose parent is the span `traceparent` names (an empty context for None or garbage)."""
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


# The attributes in which the ASGI instrumentation records a request's URL with its query string (the old and the
# stable HTTP semantic conventions). A GraphQL GET carries its document and variables there: NIKs, names, dates.
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_QUERY_ATTRIBUTE = "url.query"
QUERY_WITHHELD = "(withheld)"


def without_query_string(span: Any, scope: Any = None) -> None:
    """The server span's URL attributes without their query string (`url.query` replaced): a request's query
    string is never recorded on a span, whatever it carries. The instrumentation's `server_request_hook`, called
    right after it set them, on every HTTP request and WebSocket connection."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if _QUERY_ATTRIBUTE in attributes:
        span.set_attribute(_QUERY_ATTRIBUTE, QUERY_WITHHELD)


def instrument_app(app: Any) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    excluded = ",".join(f"{path}$" for path in UNTRACED_PATHS)
    # No span per ASGI message: a subscription's WebSocket sends one message per event, and a span each cost more
    # than executing the event (the request's or connection's own span stays).
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=excluded, exclude_spans=["receive", "send"], server_request_hook=without_query_string
    )


def instrument_engine(engine: AsyncEngine) -> None:
    """Spans for the statements of this engine (idempotent per engine).

    The engine tracer is attached directly: `SQLAlchemyInstrumentor().instrument(engine=...)` works only once per
    process, so a second engine (another service in the same test process) would silently go untraced.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    sync_engine = engine.sync_engine
    if sync_engine in _instrumented_engines:
        return
    meter = get_meter("demimas.sqlalchemy")
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(trace.get_tracer("demimas.sqlalchemy"), sync_engine, usage, enable_commenter=False)  # type: ignore[no-untyped-call]
    # The tracer describes a failed statement's span by the driver's message, which can quote a value the statement
    # carried (asyncpg: `invalid input for query argument $3: '31-13-1990' ...`): its own error status instead.
    from opentelemetry.instrumentation.sqlalchemy import engine as instrumented
    from sqlalchemy import event

    event.remove(sync_engine, "handle_error", instrumented._handle_error)
    event.listen(sync_engine, "handle_error", _statement_failed)
    _instrumented_engines.add(sync_engine)


def _statement_failed(context: Any) -> None:
    """The statement's span ended as failed, described by the error's class and SQLSTATE only."""
    span = getattr(context.execution_context, "_otel_span", None)  # where the engine tracer keeps it
    if span is None:
        return
    if span.is_recording():
        error = context.original_exception
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        description = type(error).__name__ + (f" (SQLSTATE {code})" if code else "")
        span.set_status(trace.Status(trace.StatusCode.ERROR, description))
    span.end()
