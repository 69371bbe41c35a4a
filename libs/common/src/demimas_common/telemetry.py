"""OpenTelemetry: one tracer provider per process; spans for HTTP requests, database statements, outbox batches
and consumed events. Trace context travels with the data: the request's W3C `traceparent` is stored in each outbox
row, sent as a NATS header, and extracted by consumers so their spans join the same trace.

No per-field GraphQL tracing: it costs about 15x on large results. Operations and phases are traced instead.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from demimas_common.settings import CommonSettings, TraceExporter

__all__ = ["configure_tracing", "current_traceparent", "extract_context", "instrument_app", "instrument_engine"]

_propagator = TraceContextTextMapPropagator()
_configured = False


def configure_tracing(service_name: str, settings: CommonSettings) -> None:
    """Install the process's tracer provider once. With exporter `none` spans still get real ids, so trace
    context still flows through outbox rows and NATS headers."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"demimas-{service_name}"}))
    if settings.trace_exporter is TraceExporter.CONSOLE:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif settings.trace_exporter is TraceExporter.OTLP:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint or "http://127.0.0.1:4318/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def extract_context(traceparent: str | None) -> otel_context.Context:
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


def instrument_app(app: Any) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def instrument_engine(engine: Any) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, enable_commenter=False)
