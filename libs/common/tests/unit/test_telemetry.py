"""Trace context as data: a traceparent out of the current span, and back into a context for a consumer."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from sqlalchemy.ext.asyncio import create_async_engine

from demimas_common.settings import CommonSettings
from demimas_common.telemetry import configure_tracing, current_traceparent, extract_context, instrument_engine


def test_configure_tracing_is_idempotent() -> None:
    first = configure_tracing("test", CommonSettings())
    assert isinstance(first, TracerProvider)
    assert configure_tracing("other", CommonSettings()) is first


def test_traceparent_round_trip() -> None:
    tracer = configure_tracing("test", CommonSettings()).get_tracer("test")
    assert current_traceparent() is None
    with tracer.start_as_current_span("request") as request:
        traceparent = current_traceparent()
    assert traceparent is not None
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{request.get_span_context().trace_id:032x}",
        f"{request.get_span_context().span_id:016x}",
    )
    with tracer.start_as_current_span("consume", context=extract_context(traceparent)) as consumer:
        assert isinstance(consumer, ReadableSpan)
        assert consumer.get_span_context().trace_id == request.get_span_context().trace_id
        assert consumer.parent is not None
        assert consumer.parent.span_id == request.get_span_context().span_id


def test_garbage_traceparent_starts_a_new_trace() -> None:
    assert trace.get_current_span(extract_context("garbage")).get_span_context().is_valid is False
    assert trace.get_current_span(extract_context(None)).get_span_context().is_valid is False


async def test_instrument_engine_is_idempotent_per_engine() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@/nothing")
    other = create_async_engine("postgresql+asyncpg://nobody@/else")
    try:
        instrument_engine(engine)
        instrument_engine(engine)
        instrument_engine(other)  # a second engine is traced too (the stock instrumentor would skip it)
    finally:
        await engine.dispose()
        await other.dispose()


async def test_one_span_per_graphql_operation_without_the_document() -> None:
    import strawberry
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from demimas_common.auth.principal import Agency, Principal
    from demimas_common.graphql.context import RequestContext
    from demimas_common.graphql.schema import build_schema

    @strawberry.type
    class Query:
        @strawberry.field
        def nik_masked(self, nik: str) -> list[str]:
            return [nik[:4]] * 100

    exporter = InMemorySpanExporter()
    configure_tracing("test", CommonSettings()).add_span_processor(SimpleSpanProcessor(exporter))
    caller = RequestContext(Principal("test", Agency.KP2MI, frozenset()))
    result = await build_schema(query=Query).execute(
        'query Lookup { nikMasked(nik: "3201014508950001") }', context_value=caller
    )
    assert result.errors is None
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("query")]
    assert span.name == "query Lookup"
    assert dict(span.attributes or {}) == {"graphql.operation.type": "query", "graphql.operation.name": "Lookup"}
    assert len(exporter.get_finished_spans()) == 1  # no span per field or per list item
